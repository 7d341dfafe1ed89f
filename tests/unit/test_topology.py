"""What each consumer group acts on is what its queue is bound to (adapters/broker/topology.py),
and every event type named anywhere is one the domain defines."""

from __future__ import annotations

import pytest

from adapters.broker.memory import matches
from adapters.broker.topology import GROUPS, groups
from handoff import events as ev
from worker.notifications import PLANS

HANDLED = {
    "notifications": set(PLANS),
    "deadlines": {t for t in ev.EVENT_TYPES if t.startswith(("case.", "stage."))} | {ev.CalendarUpdated.type},
    "projections": {t for t in ev.EVENT_TYPES if t.startswith(("case.", "stage."))},
    "logistics": {ev.PackageSealed.type, ev.PackageException.type},
}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_event_a_group_acts_on_reaches_its_queue(group):
    bindings = GROUPS[group].bindings
    missing = sorted(t for t in HANDLED[group] if not any(matches(b, t) for b in bindings))
    assert missing == []


def test_the_notifications_plan_names_only_events_the_domain_defines():
    assert set(PLANS) <= set(ev.EVENT_TYPES)


def test_every_group_has_a_worker_and_another_prefix_renames_only_the_queues():
    assert set(HANDLED) == set(GROUPS)
    renamed = groups("sw2")
    assert {g.queue for g in renamed.values()} == {f"sw2.{name}" for name in GROUPS}
    assert all(renamed[n].bindings == GROUPS[n].bindings for n in GROUPS)


def test_a_held_message_is_never_parked_and_waits_longer_the_longer_it_is_held():
    from adapters.broker.bus import Hold
    from adapters.broker.outcomes import Outcome, decide

    group = GROUPS["notifications"]
    assert decide(Hold("waits"), group.max_attempts, group) is Outcome.HOLD  # past every retry
    delays = [group.hold_delay(holds) for holds in range(40)]
    assert delays[0] == 200 and delays[-1] == 5_000 and delays == sorted(delays)
    assert {group.hold_queue(group.hold_step(h)) for h in range(40)} <= set(group.queues)


def test_a_group_knows_which_event_types_reach_its_queue():
    logistics = GROUPS["logistics"]
    assert logistics.binds("package.sealed") and not logistics.binds("case.accepted")
    assert GROUPS["notifications"].binds("stage.opened") and not GROUPS["projections"].binds("package.signed")

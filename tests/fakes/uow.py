"""An in-memory unit of work for unit tests of the services: the same contract as adapters/db
(copies in, copies out; nothing is kept unless committed; events go to ``outbox`` on commit)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from handoff import events as ev
from handoff.case import Case
from handoff.matter import Matter
from handoff.package import Manifest, Package
from handoff.ports import Office


@dataclass
class FixedClock:
    at: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 2, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.at


@dataclass
class Store:
    cases: dict[str, Case] = field(default_factory=dict)
    packages: dict[str, Package] = field(default_factory=dict)
    manifests: dict[str, Manifest] = field(default_factory=dict)
    matters: dict[str, Matter] = field(default_factory=dict)
    offices: dict[str, Office] = field(default_factory=dict)
    entrusted: dict[tuple[str, str], str] = field(default_factory=dict)
    regions: dict[str, str] = field(default_factory=dict)
    sequences: dict[tuple[str, date], int] = field(default_factory=dict)
    outbox: list[ev.Event] = field(default_factory=list)


class _Cases:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.uow = uow

    async def get(self, case_id: str) -> Case | None:
        held = self.uow.held.get(("case", case_id))
        if isinstance(held, Case):
            return held
        found = self.uow.store.cases.get(case_id)
        return self.uow.track(copy.deepcopy(found)) if found else None

    async def add(self, case: Case) -> None:
        self.uow.track(case)

    async def by_tracking_hash(self, token_hash: str) -> Case | None:
        for case in self.uow.store.cases.values():
            if case.tracking_token_hash == token_hash:
                return self.uow.track(copy.deepcopy(case))
        return None


class _Packages:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.uow = uow

    async def get(self, package_id: str) -> Package | None:
        held = self.uow.held.get(("package", package_id))
        if isinstance(held, Package):
            return held
        found = self.uow.store.packages.get(package_id)
        return self.uow.track(copy.deepcopy(found)) if found else None

    async def by_code(self, compact_code: str) -> Package | None:
        for package in self.uow.store.packages.values():
            if package.code.compact == compact_code:
                return self.uow.track(copy.deepcopy(package))
        return None

    async def by_waybill(self, carrier: str, waybill: str) -> Package | None:
        for package in self.uow.store.packages.values():
            if package.carrier == carrier and package.waybill == waybill:
                return self.uow.track(copy.deepcopy(package))
        return None

    async def for_case(self, case_id: str) -> Sequence[Package]:
        ids = [p.id for p in self.uow.store.packages.values() if p.case_id == case_id]
        return [p for p in [await self.get(i) for i in ids] if p is not None]

    async def add(self, package: Package) -> None:
        self.uow.track(package)

    async def next_sequence(self, region: str, day: date) -> int:
        key = (region, day)
        self.uow.pending_sequences[key] = self.uow.pending_sequences.get(key, self.uow.store.sequences.get(key, 0)) + 1
        return self.uow.pending_sequences[key]

    async def add_manifest(self, manifest: Manifest) -> None:
        self.uow.pending_manifests.append(manifest)


class _Matters:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, matter_id: str) -> Matter | None:
        return self.store.matters.get(matter_id)


class _Offices:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, office_id: str) -> Office | None:
        return self.store.offices.get(office_id)

    async def entrusted_department(self, region_code: str, matter_id: str) -> Office | None:
        office_id = self.store.entrusted.get((region_code, matter_id))
        return self.store.offices.get(office_id) if office_id else None

    async def region_names(self) -> dict[str, str]:
        return dict(self.store.regions)


class MemoryUnitOfWork:
    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store()
        self.cases = _Cases(self)
        self.packages = _Packages(self)
        self.matters = _Matters(self.store)
        self.offices = _Offices(self.store)
        self.commits = 0
        self._reset()

    def _reset(self) -> None:
        self.seen: dict[int, Case | Package] = {}
        self.held: dict[tuple[str, str], Case | Package] = {}
        """Within one unit of work an aggregate is loaded once (as in adapters/db)."""
        self.pending_sequences: dict[tuple[str, date], int] = {}
        self.pending_manifests: list[Manifest] = []

    def track(self, aggregate):  # type: ignore[no-untyped-def]
        self.seen[id(aggregate)] = aggregate
        self.held[("case" if isinstance(aggregate, Case) else "package", aggregate.id)] = aggregate
        return aggregate

    async def __aenter__(self) -> MemoryUnitOfWork:
        self._reset()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.rollback()

    async def commit(self) -> None:
        for aggregate in self.seen.values():
            self.store.outbox.extend(aggregate.collect_events())
            target = self.store.cases if isinstance(aggregate, Case) else self.store.packages
            target[aggregate.id] = copy.deepcopy(aggregate)
        self.store.sequences.update(self.pending_sequences)
        for manifest in self.pending_manifests:
            self.store.manifests[manifest.id] = manifest
        self.commits += 1
        self._reset()

    async def rollback(self) -> None:
        self._reset()

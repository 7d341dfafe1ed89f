"""How the fault pass counts an SMS of unknown outcome (``technical_failure``, shown to a person
with its resend action): not lost when it did not arrive, expected in its place when it did, and
on a line of its own in the report."""

from __future__ import annotations

from collections import Counter

from tests.support.fault_pass import APPLICANT_SMS, Figures, compare, without


def test_an_sms_of_unknown_outcome_that_did_not_arrive_is_not_lost_and_the_rest_stays_in_order():
    figures = Figures(cases=1)
    got = [t for t in APPLICANT_SMS if t != "receipt"]
    compare(figures, "case 0", without(APPLICANT_SMS, Counter({"receipt": 1}), got), got, ordered=True)
    assert (figures.lost, figures.duplicated, figures.out_of_order) == ([], [], [])

    reordered = [got[1], got[0], *got[2:]]
    compare(figures, "case 0", without(APPLICANT_SMS, Counter({"receipt": 1}), reordered), reordered, ordered=True)
    assert len(figures.out_of_order) == 1


def test_one_that_did_arrive_stays_expected_once_and_other_missing_sms_are_still_lost():
    figures = Figures(cases=1)
    compare(
        figures, "case 0", without(APPLICANT_SMS, Counter({"receipt": 1}), APPLICANT_SMS), APPLICANT_SMS, ordered=True
    )
    assert (figures.lost, figures.duplicated) == ([], [])

    got = [t for t in APPLICANT_SMS if t not in ("receipt", "signed")]
    compare(figures, "case 0", without(APPLICANT_SMS, Counter({"receipt": 1}), got), got, ordered=True)
    assert len(figures.lost) == 1 and "signed" in figures.lost[0] and "'receipt'" not in figures.lost[0].split("(")[0]


def test_for_staff_one_missing_copy_among_many_is_excused_only_once():
    expected = ["incoming_package"] * 5
    assert without(expected, Counter({"incoming_package": 1}), expected[:4]) == expected[:4]
    assert without(expected, Counter({"incoming_package": 1}), expected[:3]) == expected[:4]
    assert without(expected, Counter({"incoming_package": 1}), expected) == expected


def test_the_report_has_a_line_of_its_own_for_them():
    figures = Figures(cases=1, technical_failure=["receipt to 13900000000 (case c): 平台无法确认"])
    report = figures.report()
    assert "technical_failure (shown on the case and in the staff's resend queue): 1" in report
    assert "lost: 0" in report

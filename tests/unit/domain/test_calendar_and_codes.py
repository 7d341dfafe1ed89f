from __future__ import annotations

import itertools
import string
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handoff.calendar import (
    Schedule,
    ScheduleCalendar,
    first_difference,
    next_year_missing,
    parse_schedule,
    render_schedule,
)
from handoff.codes import (
    CodeRejected,
    KeyRing,
    PackageCode,
    PayloadKind,
    ScanSigner,
    TrackingTokens,
    hash_token,
    mod11_2_check,
    tracking_token_shape_ok,
)
from handoff.errors import InvalidInput

SCHEDULE_2027 = """
year = 2027
source = "国务院办公厅关于2027年部分节假日安排的通知（测试）"
holidays = ["2027-01-01", "2027-02-05", "2027-02-08"]
workdays = ["2027-02-07"]
"""


def test_a_schedule_file_is_read_with_its_days_off_and_make_up_days():
    s = parse_schedule(SCHEDULE_2027)
    assert s.year == 2027 and date(2027, 2, 7) in s.workdays
    cal = ScheduleCalendar([s])
    assert cal.covers(date(2027, 6, 1)) and not cal.covers(date(2028, 1, 3))
    assert not cal.is_workday(date(2027, 2, 5))  # a Friday off
    assert cal.is_workday(date(2027, 2, 7))  # a Sunday worked
    assert parse_schedule(render_schedule(s)) == s


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("year = ", "TOML"),
        ('source = "x"\nholidays = []', "year"),
        ("year = 2027\nholidays = []", "source"),
        ('year = 2027\nsource = "x"\nholidays = ["2027-13-01"]', "2027-13-01"),
        ('year = 2027\nsource = "x"\nholidays = ["2026-12-31"]', "不属于 2027"),
        ('year = 2027\nsource = "x"\nworkdays = ["2027-02-08"]', "无需列入"),
        ('year = 2027\nsource = "x"\nholidays = ["2027-02-07"]\nworkdays = ["2027-02-07"]', "既是"),
        ('year = 2027\nsource = "x"\ncolour = "red"', "未知字段"),
    ],
)
def test_a_bad_schedule_file_is_refused_with_a_chinese_reason(text, needle):
    with pytest.raises(InvalidInput) as err:
        parse_schedule(text)
    assert needle in err.value.title


def test_from_november_a_missing_next_year_is_reported(calendar):
    assert next_year_missing(calendar, date(2026, 10, 31)) is None
    assert next_year_missing(calendar, date(2026, 11, 1)) == 2027
    loaded = calendar.with_schedule(parse_schedule(SCHEDULE_2027))
    assert next_year_missing(loaded, date(2026, 11, 23)) is None


YEARS = st.integers(2025, 2027)


@st.composite
def calendars(draw):
    """A calendar of a few years, each with a few days off and make-up days."""
    schedules = []
    for year in sorted(draw(st.sets(YEARS, max_size=3))):
        days = st.dates(min_value=date(year, 1, 1), max_value=date(year, 12, 31))
        off = draw(st.sets(days, max_size=6))
        work = {d for d in draw(st.sets(days, max_size=4)) if d.weekday() >= 5} - off
        schedules.append(Schedule(year, "通知", frozenset(off), frozenset(work)))
    return ScheduleCalendar(schedules)


@given(calendars(), calendars())
def test_the_first_difference_of_two_calendars_is_the_first_day_they_answer_differently(before, after):
    def answer(calendar: ScheduleCalendar, day: date) -> tuple[bool, bool]:
        return calendar.is_workday(day), calendar.covers(day)

    day, differs = date(2025, 1, 1), None
    while day <= date(2027, 12, 31) and differs is None:
        if answer(before, day) != answer(after, day):
            differs = day
        day = date.fromordinal(day.toordinal() + 1)
    assert first_difference(before, after) == differs
    assert first_difference(after, before) == differs


def test_the_check_character_is_the_identity_number_scheme():
    assert mod11_2_check("11010519491231002") == "X"  # GB 11643's published example


CODE = PackageCode("441502", date(2026, 11, 23), 42)


def test_a_package_code_reads_back_from_its_display_and_compact_forms():
    assert PackageCode.parse(str(CODE)) == CODE
    assert PackageCode.parse(CODE.compact) == CODE
    assert PackageCode.parse(" " + str(CODE).lower().replace("-", " ")) == CODE


def _all_single_errors(text: str):
    for i, ch in enumerate(text):
        for other in string.digits + "X":
            if other != ch:
                yield text[:i] + other + text[i + 1 :]


@given(
    st.sampled_from(["441502", "441500", "441521", "441581"]),
    st.dates(date(2020, 1, 1), date(2030, 12, 31)),
    st.integers(1, 9999),
)
def test_every_single_character_error_and_adjacent_transposition_is_caught(region, day, seq):
    code = PackageCode(region, day, seq).compact
    for wrong in _all_single_errors(code):
        with pytest.raises(CodeRejected):
            PackageCode.parse(wrong)
    for i in range(len(code) - 1):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            with pytest.raises(CodeRejected):
                PackageCode.parse(swapped)


SIGNER = ScanSigner(KeyRing({"K1": b"k1-secret-for-tests-only-32bytes"}), "https://hf.example.cn")


def test_a_signed_payload_is_accepted_and_names_its_package():
    payload = SIGNER.sign_package(CODE)
    assert payload == payload.upper()  # QR alphanumeric mode
    scanned = SIGNER.verify(payload)
    assert (scanned.kind, scanned.value, scanned.key_id) == (PayloadKind.PACKAGE, CODE.compact, "K1")


def test_an_altered_payload_is_refused():
    payload = SIGNER.sign_package(CODE)
    other = PackageCode("441502", date(2026, 11, 23), 43).compact
    with pytest.raises(CodeRejected):
        SIGNER.verify(payload.replace(CODE.compact, other))
    for i in range(len(payload) - 12, len(payload)):  # every MAC character
        ch = "A" if payload[i] != "A" else "B"
        with pytest.raises(CodeRejected):
            SIGNER.verify(payload[:i] + ch + payload[i + 1 :])


def test_a_payload_signed_with_an_unknown_key_or_of_another_shape_is_refused():
    forger = ScanSigner(KeyRing({"K9": b"not-our-key-but-long-enough-32by"}), "https://hf.example.cn")
    with pytest.raises(CodeRejected):
        SIGNER.verify(forger.sign_package(CODE))
    same_kid_other_key = ScanSigner(KeyRing({"K1": b"an-attacker-guess-at-the-k1-key!"}), "https://hf.example.cn")
    with pytest.raises(CodeRejected):
        SIGNER.verify(same_kid_other_key.sign_package(CODE))
    for junk in ["", "hello", "https://hf.example.cn/P/123.K1", "HTTPS://X/Z/" + CODE.compact + ".K1.AAAAAAAAAAAA"]:
        with pytest.raises(CodeRejected):
            SIGNER.verify(junk)


def test_a_manifest_payload_cannot_pass_for_a_package_payload():
    manifest = SIGNER.sign(PayloadKind.MANIFEST, CODE.compact)
    forged = manifest.replace("/M/", "/P/")
    with pytest.raises(CodeRejected):
        SIGNER.verify(forged)


def test_keys_rotate_old_keys_verify_and_the_newest_signs():
    old = SIGNER.sign_package(CODE)
    ring = KeyRing({"K1": b"k1-secret-for-tests-only-32bytes", "K2": b"k2-secret-for-tests-only-32bytes"})
    rotated = ScanSigner(ring, "https://hf.example.cn")
    assert rotated.verify(old).key_id == "K1"
    assert ".K2." in rotated.sign_package(CODE)


def test_tracking_tokens_are_short_distinct_per_case_and_stored_only_as_a_hash():
    tokens = TrackingTokens(b"tracking-key-for-tests-only-32by")
    many = {tokens.token_for(f"case-{n}") for n in range(1000)}
    assert len(many) == 1000
    token = tokens.token_for("case-1")
    assert tokens.token_for("case-1") == token  # the worker can give the same link again
    assert TrackingTokens(b"another-key-entirely-32-bytes!!!").token_for("case-1") != token
    assert tracking_token_shape_ok(token) and len(token) == 12
    assert tokens.hash_for("case-1") == hash_token(token) != token and len(hash_token(token)) == 64


def test_the_package_code_alphabet_has_no_two_codes_differing_by_one_transposition():
    codes = [PackageCode("441502", date(2026, 11, 23), n).compact for n in range(1, 200)]
    for a, b in itertools.combinations(codes, 2):
        assert sum(x != y for x, y in zip(a, b, strict=True)) >= 2

"""SMS wording, the GSM-7 alphabet and quiet hours (pure: no database, no network)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifications.sms_text import TEMPLATES, format_when, is_gsm7, quiet_hours_deferral, render_sms, segments, to_gsm7

LONDON = ZoneInfo("Europe/London")
LINK = "https://mediation.example.org/f/AbCdEf123456789_-xyzAbCdEf12345"
START = datetime(2026, 4, 14, 9, 0, tzinfo=UTC)  # 10:00 in London (BST)
LONG_PLACE = (
    "Meeting Room 2, The Very Long Named Community Resource Centre and Family Hub, Upper Floor, "
    "1234 Extraordinarily Long Street Name, Little Snoring-on-the-Marsh, West Sussex RH10 1AB"
)
FORBIDDEN = re.compile(r"\b(EHCP|SEND|SEN)\b|tribunal|autis|health|diagnos|disab|Tallulah|Featherstonehaugh", re.I)


def test_the_offer_holds_only_the_link() -> None:
    assert render_sms("offer", link=LINK) == f"Mediation: please choose a meeting time: {LINK}"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("invitation", "Mediation meeting booked: Tue 14 Apr, 10:00, Town Hall, Room 2. Details: "),
        ("update", "Mediation meeting changed, now: Tue 14 Apr, 10:00, Town Hall, Room 2. Details: "),
        ("cancellation", "Mediation meeting on Tue 14 Apr, 10:00 is cancelled. Details: "),
        ("reminder", "Reminder: mediation meeting Tue 14 Apr, 10:00, Town Hall, Room 2. Details: "),
    ],
)
def test_each_kind_reads_plainly_in_local_time(kind: str, expected: str) -> None:
    assert render_sms(kind, start=START, place="Town Hall, Room 2", link=LINK) == expected + LINK


def test_an_online_meeting_says_online() -> None:
    text = render_sms("reminder", start=START, place=None, link=LINK)

    assert text == f"Reminder: mediation meeting Tue 14 Apr, 10:00, online. Details: {LINK}"


def test_the_date_is_local_on_both_sides_of_the_clock_change() -> None:
    assert format_when(datetime(2026, 3, 28, 9, 30, tzinfo=UTC)) == "Sat 28 Mar, 09:30"  # GMT
    assert format_when(datetime(2026, 3, 30, 9, 30, tzinfo=UTC)) == "Mon 30 Mar, 10:30"  # BST
    assert format_when(datetime(2026, 10, 26, 9, 30, tzinfo=UTC)) == "Mon 26 Oct, 09:30"  # GMT again
    assert format_when(datetime(2026, 4, 14, 23, 30, tzinfo=UTC)) == "Wed 15 Apr, 00:30"  # the next local day


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
@pytest.mark.parametrize("place", [None, "Town Hall", LONG_PLACE, "St Mary’s Centre – “Room 1” … café"])
def test_every_kind_is_gsm7_and_fits_one_message(kind: str, place: str | None) -> None:
    text = render_sms(kind, start=START, place=place, link=LINK)

    assert is_gsm7(text)
    assert len(text) <= 160 and segments(text) == 1
    assert text.endswith(LINK)


def test_a_long_place_is_shortened_and_the_link_kept_whole() -> None:
    text = render_sms("invitation", start=START, place=LONG_PLACE, link=LINK)

    assert text.startswith("Mediation meeting booked: Tue 14 Apr, 10:00, Meeting Room 2, The Very Long")
    assert "... Details: " + LINK in text
    assert len(text) <= 160


def test_a_link_too_long_for_one_message_is_never_cut() -> None:
    link = "https://mediation.example.org/f/" + "a" * 140

    text = render_sms("reminder", start=START, place="Town Hall", link=link)

    assert text == f"Reminder: mediation meeting Tue 14 Apr, 10:00. Details: {link}"
    assert segments(text) == 2


def test_curly_quotes_dashes_and_accents_become_gsm7() -> None:
    assert to_gsm7("St Mary’s “Hub” – 10…12 naïve façade Ōtautahi café") == (
        'St Mary\'s "Hub" - 10...12 naive facade Otautahi café'
    )
    assert to_gsm7("Hall 😀") == "Hall ?"


def test_no_text_names_a_person_the_dispute_or_health() -> None:
    # Whatever the caller knows, an SMS can only take a time, a place and a link.
    for kind in TEMPLATES:
        for place in (None, "Civic Centre"):
            assert not FORBIDDEN.search(render_sms(kind, start=START, place=place, link=LINK)), kind


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown SMS kind"):
        render_sms("gossip", start=START, link=LINK)
    with pytest.raises(ValueError, match="aware"):
        render_sms("reminder", start=datetime(2026, 4, 14, 10), link=LINK)  # noqa: DTZ001
    with pytest.raises(ValueError, match="aware"):
        render_sms("reminder", link=LINK)
    with pytest.raises(ValueError, match="link"):
        render_sms("offer", link="https://example.org/a b")


@settings(max_examples=100, deadline=None)
@given(place=st.text(max_size=200))
def test_any_place_gives_gsm7_text_ending_in_the_whole_link(place: str) -> None:
    text = render_sms("invitation", start=START, place=place, link=LINK)

    assert is_gsm7(text)
    assert text.endswith(f" Details: {LINK}")
    assert len(text) <= 160


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("[" * 80, 1),  # extension characters take two septets each
        ("[" * 81, 2),
        ("a" * 152 + "[" + "a" * 152, 3),  # 306 septets, but the escape pair is not split, so part two overflows
        ("é" * 160, 1),  # é is in the GSM-7 alphabet
        ("ê" * 70, 1),  # ê is not: UCS-2, 70 a part
        ("ê" * 71, 2),
        ("ê" * 134, 2),
        ("ê" * 135, 3),
    ],
)
def test_segments(text: str, expected: int) -> None:
    assert segments(text) == expected


def test_is_gsm7() -> None:
    assert is_gsm7("Hello @ £5 {ok} ~ € ÄÖÑÜ")
    assert not is_gsm7("‘quoted’")
    assert not is_gsm7("en – dash")
    assert not is_gsm7("\u00a0")


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (_utc(2026, 6, 10, 12, 0), None),  # midday BST
        (_utc(2026, 6, 10, 18, 59), None),  # 19:59 BST
        (_utc(2026, 6, 10, 19, 0), _utc(2026, 6, 11, 7, 0)),  # 20:00 BST -> 08:00 BST next day
        (_utc(2026, 6, 10, 23, 30), _utc(2026, 6, 11, 7, 0)),  # 00:30 BST, already the next local day
        (_utc(2026, 6, 11, 6, 59), _utc(2026, 6, 11, 7, 0)),  # 07:59 BST
        (_utc(2026, 6, 11, 7, 0), None),  # 08:00 BST: quiet hours are over
        (_utc(2026, 1, 10, 7, 30), _utc(2026, 1, 10, 8, 0)),  # 07:30 GMT in winter
        (_utc(2026, 1, 10, 19, 59), None),  # 19:59 GMT
        # Spring forward, Sunday 29 March 2026 (01:00 GMT becomes 02:00 BST).
        (_utc(2026, 3, 28, 21, 0), _utc(2026, 3, 29, 7, 0)),  # 21:00 GMT Sat -> 08:00 BST Sun
        (_utc(2026, 3, 29, 0, 30), _utc(2026, 3, 29, 7, 0)),  # 00:30 GMT, before the change
        (_utc(2026, 3, 29, 6, 30), _utc(2026, 3, 29, 7, 0)),  # 07:30 BST
        (_utc(2026, 3, 29, 7, 30), None),  # 08:30 BST, though 07:30 in UTC
        # Fall back, Sunday 25 October 2026 (02:00 BST becomes 01:00 GMT).
        (_utc(2026, 10, 24, 18, 59), None),  # 19:59 BST Sat
        (_utc(2026, 10, 24, 19, 30), _utc(2026, 10, 25, 8, 0)),  # 20:30 BST Sat -> 08:00 GMT Sun
        (_utc(2026, 10, 25, 0, 30), _utc(2026, 10, 25, 8, 0)),  # 01:30 BST, the first 01:30
        (_utc(2026, 10, 25, 1, 30), _utc(2026, 10, 25, 8, 0)),  # 01:30 GMT, the second 01:30
        (_utc(2026, 10, 25, 7, 30), _utc(2026, 10, 25, 8, 0)),  # 07:30 GMT, though 08:30 the day before
        (_utc(2026, 10, 25, 8, 0), None),
    ],
)
def test_quiet_hours_defer_to_8am_london_across_dst(now: datetime, expected: datetime | None) -> None:
    deferred = quiet_hours_deferral(now)

    assert deferred == expected
    if deferred is not None:
        assert deferred.utcoffset() == UTC.utcoffset(None)
        assert deferred.astimezone(LONDON).time() == time(8)


def test_quiet_hours_accept_any_zone_for_now_and_other_hours() -> None:
    now = datetime(2026, 6, 10, 21, 0, tzinfo=LONDON)

    assert quiet_hours_deferral(now) == _utc(2026, 6, 11, 7, 0)
    assert quiet_hours_deferral(now, start=time(22), end=time(7)) is None
    assert quiet_hours_deferral(now, tz="Asia/Tokyo") == _utc(2026, 6, 10, 23, 0)  # 05:00 in Tokyo -> 08:00
    assert quiet_hours_deferral(now, start=time(13), end=time(21, 30)) == _utc(2026, 6, 10, 20, 30)


def test_quiet_hours_need_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        quiet_hours_deferral(datetime(2026, 6, 10, 21, 0))  # noqa: DTZ001

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.ical import SOURCE_PROPERTY as WRITTEN_PROPERTY
from booking.ical import MeetingInvite, build_for_caldav
from scheduling.caldav.busy import SOURCE_PROPERTY, Interval, busy_intervals, event_uids

LONDON = ZoneInfo("Europe/London")
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def calendar(*events: str) -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//EN", *events, "END:VCALENDAR", ""])


def vevent(uid: str, *lines: str) -> str:
    return "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", *lines, "END:VEVENT"])


def busy(ics: str, window: Interval = WINDOW, default_tz: str = "Europe/London") -> list[Interval]:
    return busy_intervals(ics, window_start=window[0], window_end=window[1], default_tz=default_tz)


def test_a_weekly_event_with_a_moved_and_a_deleted_occurrence_across_the_spring_change() -> None:
    # Mondays 10:00 London from 16 March: the 23rd is deleted, the 30th (first BST Monday) moves to Tuesday 14:00.
    ics = calendar(
        vevent(
            "weekly@example.org",
            "DTSTART;TZID=Europe/London:20260316T100000",
            "DTEND;TZID=Europe/London:20260316T110000",
            "RRULE:FREQ=WEEKLY;COUNT=4",
            "EXDATE;TZID=Europe/London:20260323T100000",
        ),
        vevent(
            "weekly@example.org",
            "RECURRENCE-ID;TZID=Europe/London:20260330T100000",
            "DTSTART;TZID=Europe/London:20260331T140000",
            "DTEND;TZID=Europe/London:20260331T150000",
        ),
    )

    assert busy(ics) == [
        (utc(2026, 3, 16, 10), utc(2026, 3, 16, 11)),
        (utc(2026, 3, 31, 13), utc(2026, 3, 31, 14)),
        (utc(2026, 4, 6, 9), utc(2026, 4, 6, 10)),
    ]


def test_a_weekly_event_keeps_its_local_time_across_the_autumn_change() -> None:
    ics = calendar(
        vevent(
            "weekly@example.org",
            "DTSTART;TZID=Europe/London:20261019T100000",
            "DTEND;TZID=Europe/London:20261019T113000",
            "RRULE:FREQ=WEEKLY;UNTIL=20261027T000000Z",
        )
    )

    assert busy(ics) == [
        (utc(2026, 10, 19, 9), utc(2026, 10, 19, 10, 30)),
        (utc(2026, 10, 26, 10), utc(2026, 10, 26, 11, 30)),
    ]


def test_a_cancelled_occurrence_of_a_series_does_not_block() -> None:
    ics = calendar(
        vevent(
            "daily@example.org",
            "DTSTART;TZID=Europe/London:20260601T090000",
            "DTEND;TZID=Europe/London:20260601T093000",
            "RRULE:FREQ=DAILY;COUNT=3",
        ),
        vevent(
            "daily@example.org",
            "RECURRENCE-ID;TZID=Europe/London:20260602T090000",
            "DTSTART;TZID=Europe/London:20260602T090000",
            "DTEND;TZID=Europe/London:20260602T093000",
            "STATUS:CANCELLED",
        ),
    )

    assert busy(ics) == [(utc(2026, 6, 1, 8), utc(2026, 6, 1, 8, 30)), (utc(2026, 6, 3, 8), utc(2026, 6, 3, 8, 30))]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(
            ["DTSTART;VALUE=DATE:20260329"], (utc(2026, 3, 29, 0), utc(2026, 3, 29, 23)), id="spring-forward-23-hours"
        ),
        pytest.param(
            ["DTSTART;VALUE=DATE:20261025", "DTEND;VALUE=DATE:20261026"],
            (utc(2026, 10, 24, 23), utc(2026, 10, 26, 0)),
            id="fall-back-25-hours",
        ),
        pytest.param(
            ["DTSTART;VALUE=DATE:20260706", "DTEND;VALUE=DATE:20260709"],
            (utc(2026, 7, 5, 23), utc(2026, 7, 8, 23)),
            id="three-summer-days",
        ),
    ],
)
def test_an_all_day_event_blocks_the_whole_local_day(lines: list[str], expected: tuple[datetime, datetime]) -> None:
    assert busy(calendar(vevent("allday@example.org", *lines))) == [expected]


def test_an_all_day_event_is_read_in_the_default_zone() -> None:
    ics = calendar(vevent("allday@example.org", "DTSTART;VALUE=DATE:20260706"))

    assert busy(ics, default_tz="Europe/Paris") == [(utc(2026, 7, 5, 22), utc(2026, 7, 6, 22))]


@pytest.mark.parametrize(
    ("default_tz", "expected"),
    [
        ("Europe/London", (utc(2026, 3, 30, 8), utc(2026, 3, 30, 8, 30))),
        ("UTC", (utc(2026, 3, 30, 9), utc(2026, 3, 30, 9, 30))),
    ],
)
def test_floating_times_are_read_in_the_default_zone(default_tz: str, expected: tuple[datetime, datetime]) -> None:
    ics = calendar(vevent("floating@example.org", "DTSTART:20260330T090000", "DTEND:20260330T093000"))

    assert busy(ics, default_tz=default_tz) == [expected]


def test_utc_and_other_zones_and_durations_are_converted() -> None:
    ics = calendar(
        vevent("utc@example.org", "DTSTART:20260610T120000Z", "DTEND:20260610T130000Z"),
        vevent("ny@example.org", "DTSTART;TZID=America/New_York:20260610T090000", "DURATION:PT45M"),
    )

    assert busy(ics) == [(utc(2026, 6, 10, 12), utc(2026, 6, 10, 13)), (utc(2026, 6, 10, 13), utc(2026, 6, 10, 13, 45))]


@pytest.mark.parametrize(
    "line",
    ["TRANSP:TRANSPARENT", "STATUS:CANCELLED", f"{SOURCE_PROPERTY}:1"],
    ids=["transparent", "cancelled", "ours"],
)
def test_events_that_do_not_block_are_ignored(line: str) -> None:
    ics = calendar(vevent("free@example.org", "DTSTART:20260610T120000Z", "DTEND:20260610T130000Z", line))

    assert busy(ics) == []


def test_the_meetings_this_service_writes_are_not_counted_again() -> None:
    start = datetime(2026, 6, 10, 10, tzinfo=LONDON)
    invite = MeetingInvite(
        uid="meeting-1@send-mediation.example", sequence=0, start=start, end=start + timedelta(hours=2),
        location="Room 1", description="Details", organizer_email="scheduling@provider.example",
        organizer_name="Alice Coordinator",
    )  # fmt: skip

    assert WRITTEN_PROPERTY == SOURCE_PROPERTY
    assert busy(build_for_caldav(invite, dtstamp=utc(2026, 6, 1))) == []


def test_intervals_are_clipped_to_the_window_and_outside_ones_dropped() -> None:
    ics = calendar(
        vevent("early@example.org", "DTSTART:20260609T230000Z", "DTEND:20260610T010000Z"),
        vevent("inside@example.org", "DTSTART:20260610T120000Z", "DTEND:20260610T130000Z"),
        vevent("late@example.org", "DTSTART:20260612T120000Z", "DTEND:20260612T130000Z"),
        vevent("zero@example.org", "DTSTART:20260610T150000Z", "DTEND:20260610T150000Z"),
    )
    window = (utc(2026, 6, 10), utc(2026, 6, 11))

    assert busy(ics, window) == [(utc(2026, 6, 10), utc(2026, 6, 10, 1)), (utc(2026, 6, 10, 12), utc(2026, 6, 10, 13))]


def test_an_all_day_event_just_outside_a_utc_window_still_counts_in_local_time() -> None:
    # The local day of 1 July starts at 23:00 UTC on 30 June.
    ics = calendar(vevent("allday@example.org", "DTSTART;VALUE=DATE:20260701"))
    window = (utc(2026, 6, 30, 22), utc(2026, 6, 30, 23, 30))

    assert busy(ics, window) == [(utc(2026, 6, 30, 23), utc(2026, 6, 30, 23, 30))]


def test_it_refuses_a_naive_window() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        busy(calendar(), (datetime.fromisoformat("2026-01-01T00:00"), utc(2026, 2, 1)))


def test_event_uids_lists_each_uid_once() -> None:
    ics = calendar(
        vevent("a@example.org", "DTSTART:20260610T120000Z", "RRULE:FREQ=DAILY;COUNT=2"),
        vevent("a@example.org", "RECURRENCE-ID:20260611T120000Z", "DTSTART:20260611T140000Z"),
        vevent("b@example.org", "DTSTART:20260610T120000Z"),
        "BEGIN:VTODO\r\nUID:todo@example.org\r\nDTSTAMP:20260101T000000Z\r\nEND:VTODO",
    )

    assert event_uids(ics) == {"a@example.org", "b@example.org"}

"""Dates and periods: parsing what people type, and the arithmetic of inclusive periods.

A period is a pair of dates ``[start, end]``, both inclusive, so a period of one day has
``start == end``. Every face (CLI options, dashboard widgets, report arguments) parses its dates
here, so a bad date fails with the same message everywhere.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from analytics.errors import InputError, quote_value

__all__ = [
    "DATE_FORMAT",
    "parse_date",
    "parse_timestamp",
    "check_period",
    "period_days",
    "previous_period",
    "MAX_COMPARISON_DAYS",
    "comparison_window",
    "default_period",
]

DATE_FORMAT = "YYYY-MM-DD"
"""How a date is written when it is typed (ISO 8601)."""


def parse_date(value: date | datetime | str | None, option: str) -> date | None:
    """A date from a date, a datetime or ``YYYY-MM-DD`` text; None or blank text is no date.

    ``option`` names where the value came from (``"--from"``, ``"start date"``) in the error.

    >>> parse_date("2026-11-09", "--from"), parse_date(" ", "--from"), parse_date(datetime(2026, 11, 9, 8, 30), "--from")
    (datetime.date(2026, 11, 9), None, datetime.date(2026, 11, 9))
    >>> parse_date("09/11/2026", "--from")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: --from '09/11/2026' is not a date; use YYYY-MM-DD
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"{option} {value!r} is not a date; use {DATE_FORMAT}") from None


def parse_timestamp(value: str, option: str) -> datetime:
    """A naive local time from ISO 8601 text (``2024-05-01T08:30:00``; a ``Z`` or offset is dropped, not converted).

    >>> parse_timestamp("2024-05-01T08:30:00Z", "--start"), parse_timestamp(" 2024-05-01 08:30 ", "--start")
    (datetime.datetime(2024, 5, 1, 8, 30), datetime.datetime(2024, 5, 1, 8, 30))
    >>> parse_timestamp("May 1st", "--start")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: --start 'May 1st' is not an ISO time such as 2024-05-01T08:30:00
    """
    try:
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{option} {quote_value(value)} is not an ISO time such as 2024-05-01T08:30:00") from None
    return dt.replace(tzinfo=None)


def check_period(start: date | None, end: date | None) -> None:
    """Raise :class:`InputError` when a period starts after it ends (an open end is always fine).

    >>> check_period(date(2026, 11, 2), None)
    >>> check_period(date(2026, 11, 9), date(2026, 11, 2))
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: the period starts (2026-11-09) after it ends (2026-11-02); give --from before --to
    """
    if start is not None and end is not None and start > end:
        raise InputError(f"the period starts ({start}) after it ends ({end}); give --from before --to")


def period_days(start: date, end: date) -> int:
    """Length of an inclusive period in days: ``end − start + 1``.

    >>> period_days(date(2026, 11, 2), date(2026, 11, 15)), period_days(date(2026, 11, 2), date(2026, 11, 2))
    (14, 1)
    """
    return (end - start).days + 1


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of equal length just before ``[start, end]``: ``[start − n, start − 1]`` with ``n = period_days``.

    >>> previous_period(date(2026, 3, 8), date(2026, 3, 14))
    (datetime.date(2026, 3, 1), datetime.date(2026, 3, 7))
    """
    days = period_days(start, end)
    return start - timedelta(days=days), start - timedelta(days=1)


MAX_COMPARISON_DAYS = 90
"""A period longer than this is not compared with the one before it (which would span years of unrelated footage)."""


def comparison_window(start: date | None, end: date | None, first: date | None) -> tuple[date, date] | None:
    """The period ``[start, end]`` is compared with: the previous period of equal length (:func:`previous_period`),
    or None when there is nothing sensible to compare with.

    None when the period is open, longer than :data:`MAX_COMPARISON_DAYS` days, or when the data
    (first day ``first``; None: no data) does not reach into the previous period
    (``first > start − 1 day``).

    >>> comparison_window(date(2026, 11, 9), date(2026, 11, 15), date(2026, 11, 2))
    (datetime.date(2026, 11, 2), datetime.date(2026, 11, 8))
    >>> comparison_window(date(2026, 11, 2), date(2026, 11, 15), date(2026, 11, 2)) is None  # no earlier data
    True
    >>> comparison_window(date(2018, 4, 19), date(2026, 11, 15), date(2010, 1, 1)) is None  # 3,133 days: too long
    True
    """
    if start is None or end is None or first is None:
        return None
    check_period(start, end)
    if period_days(start, end) > MAX_COMPARISON_DAYS:
        return None
    p0, p1 = previous_period(start, end)
    return (p0, p1) if first <= p1 else None


def default_period(choice: str, first: date, last: date) -> tuple[date, date]:
    """The period a sidebar choice stands for, following the data: ``Last N days`` are the N days ending at ``last``,
    the latest day with data of the selection (not today), cut at its first day ``first``; ``All data`` is
    ``[first, last]``.

    >>> default_period("Last 30 days", date(2018, 4, 19), date(2018, 4, 19))
    (datetime.date(2018, 4, 19), datetime.date(2018, 4, 19))
    >>> default_period("Last 7 days", date(2026, 11, 2), date(2026, 11, 15))
    (datetime.date(2026, 11, 9), datetime.date(2026, 11, 15))
    """
    check_period(first, last)
    if choice == "All data":
        return first, last
    parts = choice.split()
    if len(parts) == 3 and parts[0] == "Last" and parts[1].isdigit() and parts[2] in ("day", "days") and int(parts[1]) >= 1:
        return max(first, last - timedelta(days=int(parts[1]) - 1)), last
    raise InputError(f"unknown period choice {choice!r}; use 'Last N days' or 'All data'")

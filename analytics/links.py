"""Deep links: a dashboard view written as query parameters, and read back with a fallback.

Every page keeps what it shows (indicator, grouping, period, district, camera, map mode) in the
address, so a view can be bookmarked and sent. The names are stable (see :data:`PARAMS`); values
are plain ids, never display labels, and dates are ISO ``YYYY-MM-DD``.

Each ``parse_*`` function turns the text of one parameter into a typed value or raises
:class:`~analytics.errors.InputError` naming the bad value and what is accepted; :func:`resolve`
turns that error into a message, so a bad link falls back to the page's default instead of failing.
A message quotes at most the first 80 characters of a value; the link's text is the sender's, so a
page shows the message as plain text (:func:`analytics.formatting.escape_markdown`), never as Markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from analytics.errors import InputError, quote_value
from analytics.periods import DATE_FORMAT, parse_date

__all__ = [
    "T",
    "PARAMS",
    "PERIOD_CODES",
    "TRUE_TEXT",
    "FALSE_TEXT",
    "Resolved",
    "parse_choice",
    "parse_choices",
    "parse_flag",
    "parse_day",
    "parse_period",
    "resolve",
    "flag_text",
]

T = TypeVar("T")

PARAMS: dict[str, str] = {
    "db": "sidebar database, every page: user (your data) or demo (the demo city)",
    "period": "sidebar period, every page: 7d, 30d, all or custom",
    "from": "first day of a custom period (YYYY-MM-DD), every page",
    "to": "last day of a custom period (YYYY-MM-DD), every page",
    "indicator": "indicator name, e.g. green_view (overview, explore, camera, reports)",
    "areas": "overview map areas: district or h3",
    "h3res": "overview H3 resolution: 7, 8 or 9",
    "district": "overview: the selected district id; explore: districts on the time line (repeated); reports: the area",
    "cell": "overview: the selected H3 cell",
    "by": "explore: compare by district or camera",
    "camera": "camera page: the camera id; explore: cameras on the time line (repeated)",
    "step": "explore time series step: day or hour",
    "adjusted": "error-adjusted values: 1 or 0 (overview, explore, camera)",
    "low_trust": "include clips flagged low trust: 1 or 0, every page",
}
"""Every query parameter the dashboard reads and writes, with what it holds."""

PERIOD_CODES = ("7d", "30d", "all", "custom")
"""Values of the ``period`` parameter: the last 7 or 30 days of data, all data, or ``from``–``to``."""

TRUE_TEXT = ("1", "true", "yes", "on")
FALSE_TEXT = ("0", "false", "no", "off")
_SHOWN = 8  # accepted values listed in a message, at most


@dataclass(frozen=True)
class Resolved(Generic[T]):
    """A parameter read from a link: its ``value`` (None: absent or bad, keep the default) and a ``problem`` to show."""

    value: T | None
    problem: str | None = None


def _accepted(options: Sequence[str]) -> str:
    """The accepted values for a message, the first few only.

    >>> _accepted(["a", "b"]), _accepted([str(i) for i in range(10)])
    ('a, b', '0, 1, 2, 3, 4, 5, 6, 7, … (10 in all)')
    >>> _accepted([])
    'none'
    """
    if not options:
        return "none"
    shown = ", ".join(options[:_SHOWN])
    return shown if len(options) <= _SHOWN else f"{shown}, … ({len(options)} in all)"


def parse_choice(param: str, text: str, options: Sequence[str]) -> str:
    """``text`` when it is one of ``options`` (ids, compared exactly after trimming spaces).

    >>> parse_choice("areas", " h3 ", ["district", "h3"])
    'h3'
    >>> parse_choice("areas", "hex", ["district", "h3"])
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: areas 'hex' is not known; use one of district, h3
    """
    value = text.strip()
    if value not in options:
        raise InputError(f"{param} {quote_value(text)} is not known; use one of {_accepted(options)}")
    return value


def parse_choices(param: str, texts: Sequence[str], options: Sequence[str]) -> list[str]:
    """Every one of ``texts`` that is one of ``options``, in order, without repeats; an unknown one is an error.

    >>> parse_choices("camera", ["b", "a", "b"], ["a", "b", "c"])
    ['b', 'a']
    >>> parse_choices("camera", ["a", "zz"], ["a", "b"])
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: camera 'zz' is not known; use one of a, b
    """
    out: list[str] = []
    for text in texts:
        value = parse_choice(param, text, options)
        if value not in out:
            out.append(value)
    return out


def parse_flag(param: str, text: str) -> bool:
    """True for ``1``/``true``/``yes``/``on``, False for ``0``/``false``/``no``/``off`` (any case).

    >>> parse_flag("adjusted", "1"), parse_flag("adjusted", "False")
    (True, False)
    >>> parse_flag("adjusted", "maybe")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: adjusted 'maybe' is not a yes/no value; use 1 or 0
    """
    value = text.strip().lower()
    if value in TRUE_TEXT:
        return True
    if value in FALSE_TEXT:
        return False
    raise InputError(f"{param} {quote_value(text)} is not a yes/no value; use 1 or 0")


def parse_day(param: str, text: str, first: date | None = None, last: date | None = None) -> date:
    """An ISO date (``YYYY-MM-DD``) within ``[first, last]`` (an open bound is no limit).

    >>> parse_day("from", "2026-11-02", date(2026, 1, 1), date(2026, 12, 31))
    datetime.date(2026, 11, 2)
    >>> parse_day("to", "2027-01-05", date(2026, 1, 1), date(2026, 12, 31))
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: to 2027-01-05 is outside the dates offered (2026-01-01 to 2026-12-31)
    """
    if len(text) > len(DATE_FORMAT) + 8:  # no date is this long: refuse before quoting all of it
        raise InputError(f"{param} {quote_value(text)} is not a date; use {DATE_FORMAT}")
    day = parse_date(text, param)
    if day is None:
        raise InputError(f"{param} is empty; use {DATE_FORMAT}")
    if (first is not None and day < first) or (last is not None and day > last):
        raise InputError(f"{param} {day} is outside the dates offered ({first or 'any'} to {last or 'any'})")
    return day


def parse_period(
    code: str | None, start: str | None, end: str | None, first: date | None = None, last: date | None = None,
) -> tuple[str, date | None, date | None]:
    """The ``period``, ``from`` and ``to`` parameters as (code, start, end); dates only with ``custom``.

    ``from`` or ``to`` without ``period`` means ``custom``; a custom period needs both dates, within
    ``[first, last]`` and in order.

    >>> parse_period("all", None, None)
    ('all', None, None)
    >>> parse_period(None, "2026-11-02", "2026-11-08")
    ('custom', datetime.date(2026, 11, 2), datetime.date(2026, 11, 8))
    >>> parse_period("custom", "2026-11-09", "2026-11-02")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: the period starts (2026-11-09) after it ends (2026-11-02); give from before to
    """
    if code is None:
        code = "custom" if start is not None or end is not None else ""
    code = parse_choice("period", code, PERIOD_CODES)
    if code != "custom":
        return code, None, None
    if start is None or end is None:
        raise InputError(f"period custom needs both from and to ({DATE_FORMAT})")
    day_from, day_to = parse_day("from", start, first, last), parse_day("to", end, first, last)
    if day_from > day_to:
        raise InputError(f"the period starts ({day_from}) after it ends ({day_to}); give from before to")
    return code, day_from, day_to


def resolve(parse: Callable[[], T], fallback: str = "the default") -> Resolved[T]:
    """Run ``parse()``; a bad value becomes a :class:`Resolved` without a value and with a message saying what is shown.

    >>> resolve(lambda: parse_flag("adjusted", "1"))
    Resolved(value=True, problem=None)
    >>> resolve(lambda: parse_flag("adjusted", "x")).problem
    "The link's adjusted 'x' is not a yes/no value; use 1 or 0. Showing the default instead."
    """
    try:
        return Resolved(parse())
    except InputError as exc:
        return Resolved(None, f"The link's {exc}. Showing {fallback} instead.")


def flag_text(value: bool) -> str:
    """How a yes/no choice is written in a link.

    >>> flag_text(True), flag_text(False)
    ('1', '0')
    """
    return "1" if value else "0"

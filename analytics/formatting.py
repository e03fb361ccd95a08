"""How numbers and periods look to people: one rule per kind, used by the dashboard, the CLI and both reports.

The rules:

- **Indicator values** (:func:`format_value`). Shares are percentages with one decimal, two below
  1% where one decimal would hide the differences; means have two decimals and their unit; a
  missing value reads ``not enough data``.

  >>> format_value("green_view", 0.2869), format_value("pedestrian_share", 0.00568), format_value("people_per_frame", 0.655)
  ('28.7%', '0.57%', '0.66 people')

  An indicator may set its own decimals (people per hour: none) and an ordinal one (the
  congestion level, a mean of levels 0–3) reads as its nearest level with the mean:

  >>> format_value("people_per_hour", 237.6), format_value("congestion", 1.43)
  ('238 people/h', 'moderate · 1.4')

- **Bare numbers** (:func:`format_number`, :func:`format_cell`): the same digits without the unit,
  for table columns whose header names it; a table cell keeps the % of shares.

  >>> format_number("green_view", 0.2869), format_cell("people_per_frame", 0.655), format_cell("green_view", float("nan"))
  ('28.7', '0.66', '–')

- **Intervals** (:func:`format_interval`): both ends with the digits of the value, the unit once;
  empty where no interval can be estimated (a single clip).

  >>> format_interval("green_view", 0.279, 0.295), format_interval("people_per_frame", 0.6, 0.71)
  ('27.9–29.5%', '0.60–0.71')

- **Differences** (:func:`format_difference`): percentage points for shares, the unit for means,
  with the digits of a value; unsigned in sentences ("4.1 points below"), signed for changes.

  >>> format_difference("green_view", -0.0412), format_difference("green_view", -0.0412, signed=True)
  ('4.1 points', '-4.1 points')

  A bias interval (:func:`format_difference_interval`) signs both ends: ``+1.2 to +2.2 points``.
  A change that rounds to zero (:func:`rounds_to_zero`) reads ``±0.0 points`` and gets no arrow.

- **Exported tables** (:func:`round_significant`): CSV values keep four significant digits, never
  scientific notation, so a spreadsheet shows ``0.2869`` rather than ``0.28693017578125``.

  >>> round_significant(0.28693017578125), round_significant(12345.678), round_significant(0.000056789)
  (0.2869, 12346.0, 5.679e-05)

- **Other shares** (:func:`format_percent`): thresholds and proportions that are not indicators,
  with the digits the caller asks for (none by default).

  >>> format_percent(0.02), format_percent(0.1234, 1)
  ('2%', '12.3%')

- **Counts** (:func:`format_count`): whole numbers with thousands separators, never abbreviated
  (a sample size is read against a threshold such as 30 frames).

  >>> format_count(12_345), format_count(float("nan"))
  ('12,345', '0')

- **Other quantities** (:func:`format_quantity`): hours counted, seconds, km/h and rates that are not
  indicator values: thousands separated by commas, the decimals the caller chooses, then the unit
  (``1,926 people/h``, never ``42.8571 people/h``). Indicator numbers separate thousands the same way.

- **Table columns** (:func:`column_label`, :func:`column_format`): planner words for stored column
  names (``ci_low`` is ``low end of 95% range``, ``n_frames`` is ``frames``) and one number format
  per column (counts ``%,d``, an indicator's values its own decimals).

- **Words** (:data:`GLOSSARY`, :func:`levels_note`, :func:`format_sampling`): terms a planner may not
  know in plain words, how the congestion level's text is made (a heuristic), sampling in words.

- **Periods** (:func:`format_period`): days without leading zeros, the year once when both ends
  share it, optionally the length in days; :func:`format_previous` names the period before.

  >>> format_period(date(2026, 11, 2), date(2026, 11, 15)), format_period(date(2026, 11, 2), date(2026, 11, 15), days=True)
  ('2 Nov – 15 Nov 2026', '2 Nov – 15 Nov 2026 (14 days)')

- **Text people typed** (:func:`escape_markdown`): a camera, district, clip or model name, a
  link's value or an error quoting one, shown where Markdown renders (the dashboard's messages,
  captions and titles), reads as the characters typed, never as a link, an image or markup.

Charts draw shares on a percent axis: :func:`display_scale` and :func:`to_display` are the one
place where a stored share (a fraction in [0, 1]) becomes a percentage.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any, TypeVar

from analytics.errors import InputError
from analytics.indicators import COUNT_INDICATORS, INDICATORS
from analytics.periods import period_days

__all__ = [
    "SHARE_TO_PERCENT",
    "low_trust_note",
    "describe_stats",
    "format_hours",
    "format_size_mb",
    "MEAN_DIGITS",
    "SHARE_DIGITS",
    "MISSING_TEXT",
    "EMPTY_CELL",
    "display_scale",
    "to_display",
    "as_percent",
    "share_digits",
    "format_percent",
    "mean_digits",
    "format_number",
    "format_value",
    "format_count_value",
    "format_cell",
    "format_interval",
    "format_difference",
    "rounds_to_zero",
    "format_difference_interval",
    "round_significant",
    "format_count",
    "format_counted",
    "format_day",
    "format_period",
    "format_previous",
    "format_part_of",
    "format_comparison",
    "MARKDOWN_SPECIAL",
    "escape_markdown",
    "format_quantity",
    "COLUMN_WORDS",
    "column_label",
    "GLOSSARY",
    "glossary_lines",
    "levels_note",
    "column_format",
    "format_sampling",
]

SHARE_TO_PERCENT = 100.0
"""Stored shares are fractions in [0, 1]; people read percentages."""

MEAN_DIGITS = 2
"""Decimals of a mean (people per frame and the like are small numbers)."""

SHARE_DIGITS = 1
"""Decimals of a share in percent (two below 1%, see :func:`share_digits`)."""

MISSING_TEXT = "not enough data"
"""What a value with too few frames behind it reads as."""

EMPTY_CELL = "–"
"""A table cell without a value."""

_X = TypeVar("_X")


def _missing(value: Any) -> bool:
    """None, NaN or anything that is not a number."""
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def display_scale(name: str) -> float:
    """Factor from a stored value of indicator ``name`` to the displayed one: 100 for shares, 1 for means.

    >>> display_scale("green_view"), display_scale("people_per_frame")
    (100.0, 1.0)
    """
    return SHARE_TO_PERCENT if INDICATORS[name].is_share else 1.0


def to_display(name: str, values: _X) -> _X:
    """Stored values (a number, an array or a Series) on the displayed scale of indicator ``name``.

    >>> to_display("green_view", 0.25), to_display("people_per_frame", 0.25)
    (25.0, 0.25)
    """
    return values * display_scale(name)  # type: ignore[operator, return-value]


def as_percent(share: _X) -> _X:
    """A share that is not an indicator value (a class share, a clip's flicker) in percent: ``100 × share``.

    >>> as_percent(0.125)
    12.5
    """
    return share * SHARE_TO_PERCENT  # type: ignore[operator, return-value]


def share_digits(share: float) -> int:
    """Decimals of a share shown in percent: two below 1% (0.01), where one would hide the differences, else one.

    >>> share_digits(0.2869), share_digits(0.0057), share_digits(-0.004)
    (1, 2, 2)
    """
    return SHARE_DIGITS + 1 if abs(share) < 0.01 else SHARE_DIGITS


def format_percent(share: float, digits: int = 0) -> str:
    """A share that is not an indicator value (a threshold, a proportion of clips) as a percentage.

    >>> format_percent(0.4), format_percent(0.5, 1)
    ('40%', '50.0%')
    """
    return f"{as_percent(share):.{digits}f}%"


def mean_digits(name: str) -> int:
    """Decimals of a mean indicator: its own (``Indicator.digits``) or :data:`MEAN_DIGITS`.

    >>> mean_digits("people_per_frame"), mean_digits("people_per_hour"), mean_digits("congestion")
    (2, 0, 1)
    """
    own = INDICATORS[name].digits
    return MEAN_DIGITS if own is None else own


def format_number(name: str, value: float, like: float | None = None, extra: int = 0) -> str:
    """The number alone (shares in percent, no unit) with the decimals of ``like`` (default: ``value``), plus ``extra``;
    thousands separated by commas.

    >>> format_number("green_view", 0.2869), format_number("people_per_frame", 0.655), format_number("green_view", 0.0101, like=0.0098)
    ('28.7', '0.66', '1.01')
    >>> format_number("people_per_hour", 1926.4), format_value("people_per_hour", 1926.4)
    ('1,926', '1,926 people/h')
    """
    if INDICATORS[name].is_share:
        digits = share_digits(value if like is None else like) + extra
    else:
        digits = mean_digits(name) + extra
    return f"{to_display(name, float(value)):,.{digits}f}"


def _as_float(number: str) -> float:
    """The number a :func:`format_number` text shows (thousands separators dropped)."""
    return float(number.replace(",", ""))


def format_value(name: str, value: float | None) -> str:
    """A value of indicator ``name`` for people: shares in percent (``28.7%``), means with their unit (``0.66 people``).

    >>> format_value("sky_view", float("nan")), format_value("road_occupancy", None), format_value("vehicles_per_frame", 3)
    ('not enough data', 'not enough data', '3.00 vehicles')
    """
    if _missing(value):
        return MISSING_TEXT
    assert value is not None
    ind = INDICATORS[name]
    if ind.is_share:
        return f"{format_number(name, value)}%"
    if ind.levels:
        return f"{ind.level_name(float(value))} · {format_number(name, value)}"
    return f"{format_number(name, value)} {ind.unit}"


def format_cell(name: str, value: float | None, missing: str = EMPTY_CELL) -> str:
    """A table cell under a header that names the unit: shares keep their %, means are bare numbers.

    >>> format_cell("green_view", 0.2869), format_cell("people_per_frame", 0.655), format_cell("sky_view", None, "n/a")
    ('28.7%', '0.66', 'n/a')
    """
    if _missing(value):
        return missing
    assert value is not None
    ind = INDICATORS[name]
    return format_value(name, value) if ind.is_share or ind.levels else format_number(name, value)


def format_interval(name: str, low: float | None, high: float | None, value: float | None = None) -> str:
    """A 95% interval with the decimals of its value: ``27.9–29.5%``; empty when it cannot be estimated.

    A narrow interval gets one more decimal rather than reading ``5.1–5.1%``.

    >>> format_interval("pedestrian_share", 0.0047, 0.0066, 0.0057), format_interval("sky_view", float("nan"), 0.1)
    ('0.47–0.66%', '')
    >>> format_interval("green_view", 0.0507, 0.0512, 0.051)
    '5.07–5.12%'
    """
    if _missing(low) or _missing(high):
        return ""
    assert low is not None and high is not None
    like = value if value is not None and not _missing(value) else (low + high) / 2
    unit = "%" if INDICATORS[name].is_share else ""
    lo, hi = format_number(name, low, like), format_number(name, high, like)
    if lo == hi:
        lo, hi = format_number(name, low, like, extra=1), format_number(name, high, like, extra=1)
    return f"{lo}–{hi}{unit}"


def format_difference(name: str, diff: float, signed: bool = False) -> str:
    """A difference of two values: percentage points for shares, the unit for means; ``signed`` adds + or - (± for zero).

    >>> format_difference("people_per_frame", 0.3), format_difference("sky_view", 0.0004), format_difference("green_view", 0.0261, signed=True)
    ('0.30 people', '0.04 points', '+2.6 points')
    >>> format_difference("green_view", -0.00001, signed=True), format_difference("people_per_frame", -1.25, signed=True)
    ('±0.00 points', '-1.25 people')
    """
    ind = INDICATORS[name]
    number = format_number(name, abs(diff))
    unit = "points" if ind.is_share else ("levels" if ind.levels else ind.unit)
    if not signed:
        return f"{number} {unit}"
    sign = "±" if rounds_to_zero(name, diff) else ("+" if diff > 0 else "-")
    return f"{sign}{number} {unit}"


def rounds_to_zero(name: str, diff: float) -> bool:
    """Whether a change of indicator ``name`` shows as zero (``±0.0``): then it gets no up or down arrow.

    >>> rounds_to_zero("green_view", 0.00004), rounds_to_zero("green_view", 0.004), rounds_to_zero("people_per_hour", 0.4)
    (True, False, True)
    """
    return _as_float(format_number(name, abs(diff))) == 0


def format_difference_interval(name: str, low: float, high: float) -> str:
    """A 95% interval of a difference (a bias), both ends signed with the digits of the larger, the unit once.

    >>> format_difference_interval("green_view", 0.012, 0.022), format_difference_interval("green_view", -0.004, 0.006)
    ('+1.2 to +2.2 points', '-0.40 to +0.60 points')
    """
    ind = INDICATORS[name]
    like = max(abs(low), abs(high))
    ends = []
    for v in (low, high):
        number = format_number(name, abs(v), like=like)
        ends.append(("±" if _as_float(number) == 0 else ("+" if v > 0 else "-")) + number)
    return f"{ends[0]} to {ends[1]} {'points' if ind.is_share else ('levels' if ind.levels else ind.unit)}"


def round_significant(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant digits (whole numbers keep every integer digit); NaN stays NaN.

    >>> round_significant(3.14159, 3), round_significant(-0.0012345), round_significant(0.0), round_significant(float("nan"))
    (3.14, -0.001234, 0.0, nan)
    """
    if _missing(value) or value == 0 or math.isinf(value):
        return value
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return round(float(value), decimals)


def format_count(n: float | None) -> str:
    """A count (frames, clips) with thousands separators; missing counts as 0.

    >>> format_count(950), format_count(1_234_567), format_count(None)
    ('950', '1,234,567', '0')
    """
    if _missing(n):
        return "0"
    assert n is not None
    return f"{int(round(float(n))):,}"


def format_counted(n: float | None, noun: str, plural: str | None = None) -> str:
    """A count with its noun, singular for exactly one: ``1 clip``, ``2 clips``, ``1,234 sampled frames``
    (the count as :func:`format_count`; ``plural`` defaults to the noun with an ``s``).

    >>> format_counted(1, "clip"), format_counted(0, "clip"), format_counted(1234, "sampled frame"), format_counted(2, "city", "cities")
    ('1 clip', '0 clips', '1,234 sampled frames', '2 cities')
    """
    text = format_count(n)
    return f"{text} {noun if text == '1' else (plural or noun + 's')}"


def format_day(day: date) -> str:
    """One day: ``2 Nov 2026`` (no leading zero).

    >>> format_day(date(2026, 11, 2))
    '2 Nov 2026'
    """
    return f"{day.day} {day:%b %Y}"


def format_period(start: date | None, end: date | None, days: bool = False) -> str:
    """An inclusive period; ``days`` adds its length. Without both ends it is ``all data``.

    >>> format_period(date(2026, 12, 30), date(2027, 1, 2)), format_period(date(2026, 11, 2), date(2026, 11, 2), days=True)
    ('30 Dec 2026 – 2 Jan 2027', '2 Nov 2026 (1 day)')
    >>> format_period(None, None)
    'all data'
    """
    if start is None or end is None:
        return "all data"
    if start == end:
        text = format_day(start)
    elif start.year == end.year:
        text = f"{start.day} {start:%b} – {format_day(end)}"
    else:
        text = f"{format_day(start)} – {format_day(end)}"
    if not days:
        return text
    n = period_days(start, end)
    return f"{text} ({n} day{'s' if n != 1 else ''})"


def format_previous(days: int) -> str:
    """What the period of equal length just before a period of ``days`` days is called.

    >>> format_previous(1), format_previous(14)
    ('the previous day', 'the previous 14 days')
    """
    return "the previous day" if days == 1 else f"the previous {days} days"


def format_part_of(part: int, whole: int, noun: str, what: str) -> str:
    """A part of a count with its true share: ``1,984 of 1,986 clips synthetic (99.9%)``.

    The share gets the fewest decimals (up to three) that keep a part that is not all from
    reading 100% and a part that is not none from reading 0%.

    >>> format_part_of(1984, 1986, "clips", "synthetic"), format_part_of(19999, 20000, "clips", "synthetic")
    ('1,984 of 1,986 clips synthetic (99.9%)', '19,999 of 20,000 clips synthetic (99.995%)')
    >>> format_part_of(14, 14, "clips", "synthetic"), format_part_of(1, 3000, "clips", "real"), format_part_of(0, 1, "clips", "synthetic")
    ('14 of 14 clips synthetic (100%)', '1 of 3,000 clips real (0.03%)', '0 of 1 clip synthetic (0%)')
    """
    if whole <= 0 or not 0 <= part <= whole:
        raise InputError(f"part {part} of whole {whole}: need 0 <= part <= whole and whole > 0")
    if whole == 1 and noun.endswith("s"):
        noun = noun[:-1]  # "0 of 1 clip"
    share = part / whole
    digits = 0
    while digits < 3 and 0 < part < whole and float(f"{as_percent(share):.{digits}f}") in (0.0, 100.0):
        digits += 1
    return f"{format_count(part)} of {format_count(whole)} {noun} {what} ({format_percent(share, digits)})"


def format_comparison(window: tuple[date, date] | None, days: int) -> str:
    """What a period is compared with: ``the previous 14 days (19 Oct – 1 Nov 2026)`` with its dates written out,
    or ``no earlier data`` when there is no window (:func:`analytics.periods.comparison_window`).

    >>> format_comparison((date(2026, 10, 19), date(2026, 11, 1)), 14), format_comparison(None, 3133)
    ('the previous 14 days (19 Oct – 1 Nov 2026)', 'no earlier data')
    """
    if window is None:
        return "no earlier data"
    return f"{format_previous(days)} ({format_period(*window)})"


MARKDOWN_SPECIAL = "\\`*_{}[]()#+-.!|<>~$&:"
"""Characters :func:`escape_markdown` escapes with a backslash: CommonMark and GFM syntax (emphasis,
code, links, images, headings, lists, tables, strikethrough, HTML and entities), Streamlit's
``$math$`` and ``:shortcode:`` / ``:colour[text]`` directives."""

_SPECIAL = re.compile("([" + re.escape(MARKDOWN_SPECIAL) + "])")
_BREAKS = re.compile(r"(?<=:)(?=\S)|(?<=@)(?=\S)|(?<=www)(?=\\\.)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def escape_markdown(text: object) -> str:
    r"""``text`` escaped so that Markdown (Streamlit's flavour) shows it as typed, on one line.

    Rule: each character of :data:`MARKDOWN_SPECIAL` gets a backslash (CommonMark: any ASCII
    punctuation may be escaped, and an escaped one is plain text: no link, image, emphasis, code,
    HTML tag, entity, heading or list, table or ``$math$``). Streamlit replaces ``:shortcode:``
    emoji and icons and links bare addresses (``https://``, ``www.``, ``name@host``) in the text
    *after* escapes are read, so a zero-width space (U+200B) follows each ``:`` and ``@`` that is
    followed by text and each ``www`` before a dot, which breaks those patterns. Line breaks and other
    control characters become one space, so the text cannot start a block.

    >>> escape_markdown("[Session expired: sign in](https://evil.example/login)")
    '\\[Session expired\\: sign in\\]\\(https\\:\u200b//evil\\.example/login\\)'
    >>> escape_markdown("![x](https://evil.example/a.png)").startswith("\\!\\[x\\]")
    True
    >>> escape_markdown("<script>alert(1)</script>")
    '\\<script\\>alert\\(1\\)\\</script\\>'
    >>> escape_markdown("**bold** _it_ `code` # h $x$")
    '\\*\\*bold\\*\\* \\_it\\_ \\`code\\` \\# h \\$x\\$'
    >>> escape_markdown(":smile: line\n# two")
    '\\:\u200bsmile\\: line \\# two'
    >>> escape_markdown("Market Street north 2")
    'Market Street north 2'
    """
    flat = _CONTROL.sub(" ", str(text))
    return _BREAKS.sub("\u200b", _SPECIAL.sub(r"\\\1", flat))



def format_hours(hours: float | None) -> str:
    """Hours of footage for people: minutes under one hour, else hours with one decimal.

    >>> format_hours(0.0), format_hours(0.004), format_hours(0.25), format_hours(12.345), format_hours(None)
    ('none', 'under 1 minute', '15 minutes', '12.3 hours', 'none')
    """
    if _missing(hours) or float(hours or 0) <= 0:
        return "none"
    minutes = float(hours or 0) * 60
    if minutes < 1:
        return "under 1 minute"
    if minutes < 60:
        return format_counted(minutes, "minute")
    return f"{float(hours or 0):,.1f} hours"


def format_size_mb(size_mb: float | None) -> str:
    """A file size given in MB (10^6 bytes), in KB, MB or GB; unknown when missing.

    >>> format_size_mb(0.0123), format_size_mb(4.56), format_size_mb(2345.0), format_size_mb(float("nan"))
    ('12 KB', '4.6 MB', '2.3 GB', 'unknown')
    """
    if _missing(size_mb):
        return "unknown"
    mb = float(size_mb or 0)
    if mb < 1:
        return f"{mb * 1000:,.0f} KB"
    return f"{mb:,.1f} MB" if mb < 1000 else f"{mb / 1000:,.1f} GB"


def describe_stats(stats: dict[str, object]) -> list[tuple[str, str]]:
    """A database's statistics (``Store.stats()``) as (label, text) lines for people: counts with
    thousands separators and singular nouns, hours and sizes in human units, the data's span by day.

    >>> describe_stats({"cameras": 1, "districts": 3, "clips": 1, "runs": 1, "frames": 1926, "hours": 0.02,
    ...                 "synthetic_share": 0.0, "first_ts": None, "last_ts": None, "path": "/d/u.duckdb",
    ...                 "schema_version": 6, "size_mb": 1.5})[:3]
    [('Database', '/d/u.duckdb (1.5 MB, schema version 6)'), ('Footage', '1 clip from 1 camera, 1 minute'), ('Sampled frames', '1,926')]
    """
    def n(key: str) -> float:
        value = stats.get(key)
        return 0.0 if _missing(value) else float(value)  # type: ignore[arg-type]

    first, last = (str(stats.get(k) or "") for k in ("first_ts", "last_ts"))
    span = "no footage yet" if first in ("", "NaT") or last in ("", "NaT") else f"{first[:16]} to {last[:16]}"
    synthetic = n("synthetic_share")
    source = "none" if n("clips") == 0 else ("all synthetic (demo city)" if synthetic >= 1 else (
        "all real footage" if synthetic <= 0 else f"{format_percent(synthetic)} synthetic (demo city)"))
    return [
        ("Database", f"{stats.get('path')} ({format_size_mb(stats.get('size_mb'))}, schema version {stats.get('schema_version')})"),  # type: ignore[arg-type]
        ("Footage", f"{format_counted(n('clips'), 'clip')} from {format_counted(n('cameras'), 'camera')}, {format_hours(n('hours'))}"),
        ("Sampled frames", format_count(n("frames"))),
        ("Analysis runs", format_count(n("runs"))),
        ("Districts", format_count(n("districts"))),
        ("Data from", span),
        ("Source", source),
    ]


def low_trust_note(low_clips: int, low_frames: int, included: bool) -> str:
    """What the numbers shown do with clips flagged low trust ("" when there are none): how many clips
    and frames, left out or included, and where to switch (the trust verdict is a heuristic).

    >>> note = low_trust_note(1, 61, included=False)
    >>> note.startswith("1 clip (61 frames) flagged low trust is left out of these numbers")
    True
    >>> note.endswith('Switch "Include low-trust clips" on in the sidebar to count it.')
    True
    >>> low_trust_note(2, 120, included=True)
    '2 clips (120 frames) flagged low trust are included in these numbers (sidebar switch).'
    >>> low_trust_note(0, 0, included=False)
    ''
    """
    if low_clips <= 0:
        return ""
    what = f"{format_counted(low_clips, 'clip')} ({format_counted(low_frames, 'frame')}) flagged low trust"
    verb = "is" if low_clips == 1 else "are"
    if included:
        return f"{what} {verb} included in these numbers (sidebar switch)."
    return (f"{what} {verb} left out of these numbers: the model may not read this footage well (a heuristic; reasons in "
            f"each camera's clip list). Switch \"Include low-trust clips\" on in the sidebar to count {'it' if low_clips == 1 else 'them'}.")


def format_count_value(name: str, value: float | None, low: float | None = None, high: float | None = None) -> str:
    """A value of count indicator ``name`` (:data:`~analytics.indicators.COUNT_INDICATORS`) with its unit,
    and its 95% interval where given.

    >>> format_count_value("vehicles_per_hour", 412.4, 372.0, 455.2), format_count_value("stationary_vehicles", 0.125)
    ('412 vehicles/h (372–455)', '12.5%')
    >>> format_count_value("v85", float("nan"))
    'not enough data'
    """
    if _missing(value):
        return MISSING_TEXT
    assert value is not None
    ind = COUNT_INDICATORS[name]
    if ind.unit == "%":
        return f"{100 * value:.{ind.digits}f}%"
    text = f"{value:,.{ind.digits}f} {ind.unit}"
    if not (_missing(low) or _missing(high)):
        text += f" ({low:,.{ind.digits}f}–{high:,.{ind.digits}f})"
    return text


def format_quantity(value: float | None, digits: int = 0, unit: str = "") -> str:
    """A number that is not an indicator value (hours counted, seconds, km/h, a rate) the one way numbers are
    written: thousands separated by commas, ``digits`` decimals, then the unit; missing reads ``–``.

    Rule: ``f"{value:,.{digits}f} {unit}"``; choose ``digits`` for what the number can tell (a rate per hour: none).

    >>> format_quantity(42.857142, 0, "people/h"), format_quantity(1926.0, unit="people/h"), format_quantity(0.84, 1, "h")
    ('43 people/h', '1,926 people/h', '0.8 h')
    >>> format_quantity(float("nan"), 1, "s"), format_quantity(12.345, 2)
    ('–', '12.35')
    """
    if _missing(value):
        return EMPTY_CELL
    text = f"{float(value or 0):,.{digits}f}"
    return f"{text} {unit}" if unit else text


COLUMN_WORDS = {
    "ci_low": "low end of 95% range", "ci_high": "high end of 95% range", "n_frames": "frames", "n_clips": "clips",
    "model_name": "model", "camera_id": "camera", "camera_name": "camera name", "district_id": "district",
    "district_name": "district name", "start_time": "start", "duration_s": "duration (s)", "code_version": "code version",
    "direction_label": "direction", "schema_version": "database format version", "size_mb": "size",
    "mean_dwell_s": "mean dwell (s)", "p85_dwell_s": "85th percentile dwell (s)", "weights_sha256": "weights (SHA-256)",
    "class_set": "class set", "n_tracks": "tracks", "n_visits": "visits", "clip_sha256": "clip (SHA-256)",
}
"""Planner words for the column names of stored tables, as table headers (pages, reports and CLI tables)."""


def column_label(column: str) -> str:
    """The header a table shows for ``column``: :data:`COLUMN_WORDS`, else the name with ``_`` as spaces.

    >>> column_label("ci_low"), column_label("n_frames"), column_label("model_name"), column_label("people_per_hour")
    ('low end of 95% range', 'frames', 'model', 'people per hour')
    """
    return COLUMN_WORDS.get(column, column.replace("_", " "))


GLOSSARY = {
    "95% range (interval)": "the range the value would fall in for 95 of 100 repeats of the filming; narrow when many "
    "clips agree. The low and high ends are the range's two ends.",
    "clips as clusters": "frames of one clip show the same street seconds apart, so the range is worked out from how "
    "much whole clips (not single frames) disagree with one another.",
    "valid pixels": "the pixels of a frame the model gave a class; unlabelled ones (black borders, the car's own "
    "bonnet) are left out of every share.",
    "flicker": "the share of pixels whose class changes from one sampled frame to the next; high flicker means the "
    "model is unsure of this footage.",
    "Olofsson et al. 2014": "the method that corrects land-cover shares for a model's known mistakes, measured on frames "
    "a person labelled ('error-adjusted'); its range also carries the uncertainty of those mistakes.",
    "low trust": "a clip the model may not read well (a heuristic on confidence and on labels changing between "
    "frames); left out of the numbers unless switched on.",
}
"""Terms a planner may not know, in plain words: the pages that use them show these once in a glossary, and the
report's methods appendix has them."""


def glossary_lines(terms: tuple[str, ...] | None = None) -> list[str]:
    """``term: explanation`` lines of :data:`GLOSSARY` (``terms``: those, in their order; default: all).

    >>> glossary_lines(("flicker",))[0].startswith("flicker: the share of pixels")
    True
    """
    return [f"{t}: {GLOSSARY[t]}" for t in (terms or tuple(GLOSSARY))]


def levels_note(name: str) -> str:
    """How an ordinal indicator's text (``moderate · 0.9``) is made and how far to trust it; "" for other indicators.

    >>> levels_note("congestion").startswith("Congestion level: each frame gets a level")
    True
    >>> levels_note("green_view")
    ''
    """
    ind = INDICATORS[name]
    if not ind.levels:
        return ""
    scale = ", ".join(f"{i} {n}" for i, n in enumerate(ind.levels))
    return (f"{ind.label}: each frame gets a level ({scale}) from how much of the road vehicles cover and how much of "
            f"that stands still; the text is the level nearest the mean over the frames, then the mean itself "
            f"(\"{ind.levels[1]} · 0.9\" is a mean of 0.9, nearest to {ind.levels[1]}). A heuristic: the thresholds "
            "were set on the demo city's design and looked at on the car-park sample clip only, not checked against "
            "traffic-detector counts.")


_COORDINATES = ("lon", "lat")
_WHOLE = ("heading", "duration_s", "size")


def column_format(column: str, kind: str, indicator: str | None = None, typical: float = math.nan) -> str:
    """The number format (printf style; ``,`` separates thousands, as in :func:`format_count`) of a table column of
    dtype ``kind`` (numpy's kind letter: ``i``/``u`` whole numbers, ``f`` floats); ``""`` for text.

    Rule: whole numbers, and frame or clip counts, are counts (``%,d``); coordinates have 5 decimals; headings,
    durations and sizes none; a value of ``indicator`` (already on its displayed scale, ``typical`` a typical one)
    the decimals of :func:`format_number`; other floats 2.

    >>> column_format("n_frames", "i"), column_format("lon", "f"), column_format("value", "f", "green_view", 6.3)
    ('%,d', '%.5f', '%,.1f')
    >>> column_format("ci_low", "f", "pedestrian_share", 0.56), column_format("value", "f", "people_per_hour", 1926.4)
    ('%,.2f', '%,.0f')
    >>> column_format("flicker", "f"), column_format("name", "O")
    ('%,.2f', '')
    """
    if kind in "iu" or column in ("n_frames", "n_clips", "frames", "clips", "runs"):
        return "%,d" if kind in "iuf" else ""
    if kind != "f":
        return ""
    if column in _COORDINATES:
        return "%.5f"
    if column in _WHOLE:
        return "%,.0f"
    digits = MEAN_DIGITS
    if indicator is not None and indicator in INDICATORS and column in ("value", "ci_low", "ci_high", indicator):
        if INDICATORS[indicator].is_share:
            digits = share_digits(typical / SHARE_TO_PERCENT if not _missing(typical) else 1.0)
        else:
            digits = mean_digits(indicator)
    return f"%,.{digits}f"


def format_sampling(label: str) -> str:
    """A run's sampling (its provenance text, ``fps=0.5``, ``every=5``, ``all``) in words; other text as it is.

    >>> format_sampling("fps=0.5"), format_sampling("fps=2"), format_sampling("every=5"), format_sampling("all")
    ('0.5 frames per second', '2 frames per second', 'every 5th frame', 'every frame')
    >>> format_sampling("fps=1"), format_sampling("every=2"), format_sampling("synthetic")
    ('1 frame per second', 'every 2nd frame', 'synthetic')
    """
    mode, _, value = label.partition("=")
    if mode == "all" and not value:
        return "every frame"
    try:
        number = float(value)
    except ValueError:
        return label
    if mode == "fps":
        return f"{number:g} frame{'' if number == 1 else 's'} per second"
    if mode == "every" and number.is_integer():
        n = int(number)
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"every {n}{suffix} frame"
    return label

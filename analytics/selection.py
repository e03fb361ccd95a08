"""What an indicator query runs over: a :class:`Selection` of frames and the :class:`FrameSource` it reads.

A selection is a value: the period, the places (cameras, districts), the hours of day and the
trust rule, plus the fewest frames a cell needs to get a value. It is frozen and hashable, so two
selections asking for the same frames are equal and the dashboard's caches key on it. Its SQL
(the WHERE clause over ``frames f``) is :func:`analytics.indicators.selection_filter`; everything
that reads frames (indicators, the store's look-ups, reports, charts, the CLI and the dashboard)
takes one instead of the loose arguments.

A frame source is anything with the ``frames`` table the indicator queries read: the DuckDB
:class:`analytics.store.Store` and the Parquet folder reader
(:class:`analytics.store.parquet.ParquetStore`) both are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from analytics.errors import InputError
from analytics.periods import check_period, parse_date

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = ["FrameSource", "Selection"]


@runtime_checkable
class FrameSource(Protocol):
    """What the indicator queries call on a store: a cursor and a parameterised read, both over ``frames``.

    ``cursor()`` returns a DuckDB connection the caller closes, on which ``frames`` (and, where the
    source has places, ``cameras`` and ``districts``) can be read and a DataFrame registered;
    ``query_df(sql, params)`` runs one read with bound parameters and returns its rows.
    """

    def cursor(self) -> duckdb.DuckDBPyConnection: ...

    def query_df(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame: ...


def _ids(value: Iterable[Any] | None, what: str) -> tuple[str, ...] | None:
    """Ids as a sorted tuple without repeats; None (and an empty list) is no filter.

    >>> _ids(["b", "a", "b"], "cameras"), _ids([], "cameras"), _ids(None, "cameras")
    (('a', 'b'), None, None)
    """
    if value is None:
        return None
    if isinstance(value, str | bytes):
        raise InputError(f"{what} {value!r} is one text; expected a list of ids")
    try:
        ids = tuple(sorted({str(v) for v in value}))
    except TypeError:
        raise InputError(f"{what} {value!r} is not a list of ids") from None
    return ids or None


def _hours(value: Any) -> tuple[int, int] | None:
    """An inclusive hour-of-day range ``(from, to)`` within 0..23, from before to.

    >>> _hours([7, 9]), _hours(None)
    ((7, 9), None)
    """
    if value is None:
        return None
    try:
        h0, h1 = value
        ok = all(isinstance(h, int) and not isinstance(h, bool) for h in (h0, h1)) and 0 <= h0 <= h1 <= 23
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"hours {value} must be a range within 0..23 with start <= end")
    return int(h0), int(h1)


@dataclass(frozen=True, kw_only=True)
class Selection:
    """The frames a query reads and the fewest frames a value needs.

    - ``start``, ``end``: inclusive days (a date, a datetime or ``YYYY-MM-DD`` text; None is open);
    - ``cameras``, ``districts``: ids, any of which a frame's must be (None: everywhere); kept
      sorted without repeats, so the same places in another order are the same selection;
    - ``hours``: an inclusive hour-of-day range ``(from, to)`` (None: all day);
    - ``include_low_trust``: whether frames of low-trust clips count (:mod:`analytics.trust`);
    - ``min_frames``: a cell with fewer frames for an indicator has no value (faces pass
      ``settings.min_frames``).

    >>> a = Selection(start="2026-11-02", end="2026-11-15", cameras=["c2", "c1"], min_frames=30)
    >>> a.start, a.cameras, a == Selection(start=date(2026, 11, 2), end=date(2026, 11, 15), cameras=("c1", "c2"), min_frames=30)
    (datetime.date(2026, 11, 2), ('c1', 'c2'), True)
    >>> len({a, a.with_(cameras=["c1", "c2"])})
    1
    >>> Selection(hours=(9, 7))
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: hours (9, 7) must be a range within 0..23 with start <= end
    """

    start: date | None = None
    end: date | None = None
    cameras: tuple[str, ...] | None = None
    districts: tuple[str, ...] | None = None
    hours: tuple[int, int] | None = None
    include_low_trust: bool = False
    min_frames: int = 1

    def __post_init__(self) -> None:
        start = parse_date(self.start, "start date")
        end = parse_date(self.end, "end date")
        check_period(start, end)
        if not isinstance(self.include_low_trust, bool):
            raise InputError(f"include_low_trust={self.include_low_trust!r}; expected True or False")
        if not isinstance(self.min_frames, int) or isinstance(self.min_frames, bool) or self.min_frames < 1:
            raise InputError(f"min_frames={self.min_frames} must be at least 1")
        for name, value in (
            ("start", start), ("end", end), ("cameras", _ids(self.cameras, "cameras")),
            ("districts", _ids(self.districts, "districts")), ("hours", _hours(self.hours)),
        ):
            object.__setattr__(self, name, value)

    @property
    def period(self) -> tuple[date | None, date | None]:
        """``(start, end)``, inclusive days."""
        return self.start, self.end

    def with_(self, **changes: Any) -> Selection:
        """A copy with ``changes`` (validated again), e.g. another period or one district.

        >>> Selection(start="2026-11-02").with_(districts=["riverside"]).districts
        ('riverside',)
        """
        return dataclasses.replace(self, **changes)

    def with_period(self, start: date | datetime | str | None, end: date | datetime | str | None) -> Selection:
        """The same places, hours and rules over another period (e.g. the one compared with)."""
        return self.with_(start=start, end=end)

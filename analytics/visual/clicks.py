"""What was clicked on a plotly chart: the points of a selection event, as Streamlit hands them to a page.

``st.plotly_chart(..., on_select=...)`` gives an event whose ``selection.points`` lists the clicked
(or lasso-selected) points, each a dict with ``curve_number``, ``point_index``, ``x``/``y`` or
``lat``/``lon`` and the trace's ``customdata``. The event is a dict in session state and an
attribute object as the chart's return value; :func:`clicked_points` reads both, so a page never
parses the event itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ClickedPoint", "clicked_point", "clicked_points"]


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _index(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ClickedPoint:
    """One clicked point: its trace (``curve``), its position in the trace (``index``), where it is and what it carries.

    ``customdata`` is the point's first custom value when the trace gives a list per point.
    """

    curve: int | None = None
    index: int | None = None
    x: float | None = None
    y: float | None = None
    lat: float | None = None
    lon: float | None = None
    customdata: Any = None

    @classmethod
    def from_event_point(cls, point: Mapping[str, Any]) -> ClickedPoint:
        """A point as a selection event lists it (``curve_number``, ``point_index`` or ``point_number``, ...).

        >>> ClickedPoint.from_event_point({"curve_number": 1, "point_index": 3, "customdata": ["district:riverside", 0.2]})
        ClickedPoint(curve=1, index=3, x=None, y=None, lat=None, lon=None, customdata='district:riverside')
        """
        cd = point.get("customdata")
        if isinstance(cd, list | tuple):
            cd = cd[0] if cd else None
        index = point.get("point_index", point.get("point_number"))
        return cls(_index(point.get("curve_number")), _index(index), _number(point.get("x")), _number(point.get("y")),
                   _number(point.get("lat")), _number(point.get("lon")), cd)

    @property
    def tag(self) -> tuple[str, str] | None:
        """``(kind, id)`` of a custom value written ``kind:id`` (``district:riverside``, ``camera:c1``); None otherwise.

        >>> ClickedPoint(customdata="camera:old-town-1").tag, ClickedPoint(customdata=3).tag
        (('camera', 'old-town-1'), None)
        """
        if not isinstance(self.customdata, str) or ":" not in self.customdata:
            return None
        kind, _, ident = self.customdata.partition(":")
        return kind, ident


def _event_points(event: Any) -> Iterable[Any]:
    """The ``selection.points`` of an event given as a dict or as an object with attributes; empty for none."""
    if event is None:
        return []
    selection = event.get("selection") if isinstance(event, Mapping) else getattr(event, "selection", None)
    if selection is None:
        return []
    points = selection.get("points") if isinstance(selection, Mapping) else getattr(selection, "points", None)
    return points or []


def clicked_points(event: Any) -> list[ClickedPoint]:
    """Every point of a plotly selection ``event`` (a dict, an attribute object or None), in event order.

    >>> [p.index for p in clicked_points({"selection": {"points": [{"point_index": 4}, {"point_index": 7}]}})]
    [4, 7]
    >>> clicked_points(None), clicked_points({"selection": {}})
    ([], [])
    """
    return [ClickedPoint.from_event_point(p) for p in _event_points(event) if isinstance(p, Mapping)]


def clicked_point(event: Any, *, curve: int | None = None, needs: tuple[str, ...] = ()) -> ClickedPoint | None:
    """The first point of ``event`` on trace ``curve`` (any trace when None) that has every field in ``needs``.

    ``needs`` names fields of :class:`ClickedPoint` (``"x"``, ``"y"``, ``"lat"``, ``"customdata"``) or ``"tag"``
    (a ``kind:id`` custom value); None when no point fits.

    >>> event = {"selection": {"points": [{"curve_number": 2, "x": 1, "y": 2}, {"curve_number": 0, "x": 4.9, "y": 52.3}]}}
    >>> p = clicked_point(event, curve=0, needs=("x", "y"))
    >>> (p.y, p.x), clicked_point(event, needs=("tag",))
    ((52.3, 4.9), None)
    """
    for p in clicked_points(event):
        if curve is not None and p.curve != curve:
            continue
        if all(getattr(p, name) is not None for name in needs):
            return p
    return None

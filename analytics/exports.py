"""Tables written for spreadsheets: CSV whose text cells cannot run as formulas.

A spreadsheet program reads a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some,
a tab or a carriage return) as a formula, so a camera or district name such as
``=HYPERLINK("http://evil", "x")`` in an exported table would run when the file is opened. Every
CSV that UrbanLens writes for people (``urbanlens indicators --format csv``, the dashboard's
download buttons) goes through :func:`to_csv`, which neutralises such text cells as the OWASP
guidance on CSV injection says: a single quote in front, so the cell shows as the text it is
(https://owasp.org/www-community/attacks/CSV_Injection).

Numbers stay numbers, rounded by :func:`analytics.formatting.round_significant` to
:data:`SIGNIFICANT_DIGITS` significant digits (coordinates, columns ``lon``/``lat``, to
:data:`COORDINATE_DECIMALS` decimals, about 0.1 m), and a text cell that is a plain number
(``-3.5``, ``+1e3``) is not a formula and is left alone. ``period`` adds the period's first and
last day as columns ``period_start`` and ``period_end``, ``indicator`` an ``indicator`` column, so a
downloaded file says what it holds.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd

from analytics.errors import InputError
from analytics.formatting import round_significant

__all__ = ["COORDINATE_DECIMALS", "FORMULA_STARTS", "SIGNIFICANT_DIGITS", "neutralise", "rounded", "to_csv"]

SIGNIFICANT_DIGITS = 4
"""Significant digits of an exported value (more than any displayed value has, far fewer than 15)."""

COORDINATE_DECIMALS = 6
"""Decimals of exported longitudes and latitudes (1e-6 degrees is about 0.1 m)."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection)."""

_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise(value: object) -> object:
    """``value`` with a ``'`` in front when it is text that a spreadsheet would read as a formula.

    >>> neutralise("=1+2"), neutralise("@SUM(A1)"), neutralise("-3.5"), neutralise("Old Town"), neutralise(-3.5)
    ("'=1+2", "'@SUM(A1)", '-3.5', 'Old Town', -3.5)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _is_coordinate(column: object) -> bool:
    name = str(column).lower()
    return name in ("lon", "lat") or name.endswith(("_lon", "_lat"))


def rounded(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with float columns rounded for people: :data:`SIGNIFICANT_DIGITS` significant digits,
    coordinates :data:`COORDINATE_DECIMALS` decimals; other columns unchanged.

    >>> r = rounded(pd.DataFrame({"value": [0.28693017578125, 28.693017578125], "lon": [4.901234567, 4.9], "n": [3, 4]}))
    >>> r["value"].tolist(), r["lon"].tolist(), r["n"].tolist()
    ([0.2869, 28.69], [4.901235, 4.9], [3, 4])
    """
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col].dtype):
            if _is_coordinate(col):
                out[col] = out[col].round(COORDINATE_DECIMALS)
            else:
                out[col] = [round_significant(v, SIGNIFICANT_DIGITS) for v in out[col].to_numpy(dtype=float)]
    return out


def to_csv(df: pd.DataFrame, period: tuple[date | None, date | None] | None = None, indicator: str | None = None) -> str:
    """``df`` as CSV text (no index), values :func:`rounded`, every text cell and header passed through :func:`neutralise`;
    ``period`` and ``indicator`` add columns in front (where ``df`` does not have them).

    >>> print(to_csv(pd.DataFrame({"name": ["=cmd()", "ok"], "value": [-1.5, 2.0 / 3]})), end="")
    name,value
    '=cmd(),-1.5
    ok,0.6667
    >>> print(to_csv(pd.DataFrame({"value": [0.5]}), period=(date(2026, 11, 2), date(2026, 11, 8)), indicator="green_view"), end="")
    period_start,period_end,indicator,value
    2026-11-02,2026-11-08,green_view,0.5
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"to_csv needs a DataFrame, got {type(df).__name__}")
    out = rounded(df)
    if indicator is not None and "indicator" not in out.columns:
        out.insert(0, "indicator", indicator)
    if period is not None and "period_start" not in out.columns:
        out.insert(0, "period_end", period[1].isoformat() if period[1] else "")
        out.insert(0, "period_start", period[0].isoformat() if period[0] else "")
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype | pd.CategoricalDtype):
            out[col] = out[col].astype(object).map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return str(out.to_csv(index=False))

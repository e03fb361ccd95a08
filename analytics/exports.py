"""Tables written for spreadsheets: CSV whose text cells cannot run as formulas.

A spreadsheet program reads a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some,
a tab or a carriage return) as a formula, so a camera or district name such as
``=HYPERLINK("http://evil", "x")`` in an exported table would run when the file is opened. Every
CSV that UrbanLens writes for people (``urbanlens indicators --format csv``, the dashboard's
download buttons) goes through :func:`to_csv`, which neutralises such text cells as the OWASP
guidance on CSV injection says: a single quote in front, so the cell shows as the text it is
(https://owasp.org/www-community/attacks/CSV_Injection).

Numbers stay numbers: numeric columns are written as they are, and a text cell that is a plain
number (``-3.5``, ``+1e3``) is not a formula and is left alone.
"""

from __future__ import annotations

import re

import pandas as pd

from analytics.errors import InputError

__all__ = ["FORMULA_STARTS", "neutralise", "to_csv"]

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


def to_csv(df: pd.DataFrame) -> str:
    """``df`` as CSV text (no index) with every text cell and header passed through :func:`neutralise`.

    >>> print(to_csv(pd.DataFrame({"name": ["=cmd()", "ok"], "value": [-1.5, 2.0]})), end="")
    name,value
    '=cmd(),-1.5
    ok,2.0
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"to_csv needs a DataFrame, got {type(df).__name__}")
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype | pd.CategoricalDtype):
            out[col] = out[col].astype(object).map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return str(out.to_csv(index=False))

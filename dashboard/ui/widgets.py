"""Widgets the pages share: pickers, switches, captions, downloads, the import button, errors and empty states."""

from __future__ import annotations

import io
from collections.abc import Callable

import pandas as pd
import streamlit as st

from analytics import exports, links
from analytics.errors import UrbanLensError
from analytics.formatting import escape_markdown, format_count, format_part_of, low_trust_note
from analytics.indicators import INDICATORS
from analytics.selection import Selection
from analytics.visual import charts
from dashboard.ui.data import clear_data, stats, trust_counts
from dashboard.ui.database import db_path
from dashboard.ui.links import linked
from dashboard.ui.sidebar import period

__all__ = [
    "adjusted_toggle",
    "downloads",
    "empty_state",
    "import_button",
    "indicator_caption",
    "indicator_picker",
    "low_trust_caption",
    "show_error",
    "synthetic_banner",
]


def low_trust_caption(selection: Selection) -> None:
    """A caption saying how many clips and frames of ``selection`` are flagged low trust (a heuristic) and whether
    the numbers shown leave them out or include them (the sidebar switch); nothing when none."""
    counts = trust_counts(db_path(), selection)
    note = low_trust_note(counts["low"], counts.get("low_frames", 0), selection.include_low_trust)
    if note:
        st.caption(f":material/report: {note}")


def synthetic_banner(synthetic: bool | None = None) -> None:
    """A banner when the data shown is (partly) the synthetic demo city.

    ``synthetic``: whether the thing shown (a camera) is synthetic; None looks at the whole database.
    """
    if synthetic is not None:
        if synthetic:
            st.info("**Synthetic data.** This camera belongs to *Lensfield*, the made-up demo city: its numbers are generated, "
                    "not measured.", icon=":material/science:")
        return
    s = stats(db_path())
    share = float(s.get("synthetic_share") or 0.0)
    if s["clips"] and share >= 1.0:
        st.info("**Synthetic data.** This is *Lensfield*, a made-up demo city: every number here is generated, not measured.",
                icon=":material/science:")
    elif s["clips"] and share > 0:
        n_real = round(s["clips"] * (1 - share))
        n_syn = int(s["clips"]) - n_real
        st.info(f"**Partly synthetic.** {format_part_of(n_syn, int(s['clips']), 'clips', 'synthetic')} (demo data, Lensfield); "
                f"{format_count(n_real)} clips are "
                "analysed footage. City-wide numbers mix both.", icon=":material/science:")


def indicator_picker(label: str = "Indicator", key: str = "indicator", default: str = "green_view",
                     names: list[str] | None = None, param: str | None = "indicator") -> str:
    """An indicator selectbox, bound to the query parameter ``param`` (None: not in the link)."""
    options = names or charts.headline_names()
    index = options.index(default) if default in options else 0

    def widget() -> str:
        return str(st.selectbox(label, options, index=index, key=key, format_func=lambda n: INDICATORS[n].short_label,
                                help="Unit, formula and whether it is a heuristic (an image heuristic, not a calibrated "
                                "measurement) show below the picker and in chart titles."))

    if param is None:
        return widget()
    return linked(key, param, lambda t: links.parse_choice(param, t, options), widget)


def adjusted_toggle(key: str) -> bool:
    """The switch for error-adjusted land-cover shares (off by default), bound to the ``adjusted`` parameter."""
    return linked(key, "adjusted", lambda t: links.parse_flag("adjusted", t), lambda: _adjusted_toggle(key), links.flag_text)


def _adjusted_toggle(key: str) -> bool:
    return bool(st.toggle(
        "Error-adjusted (where an evaluation applies)", value=False, key=key,
        help="Land-cover shares corrected for the model's confusion on annotated frames (Olofsson et al. 2014), with "
        "intervals that include the uncertainty of the accuracy estimate. Cells without an applicable evaluation stay "
        "unadjusted and are marked.",
    ))


def indicator_caption(name: str) -> None:
    """The indicator's formula, when it applies (its guidance), its source and a heuristic badge."""
    ind = INDICATORS[name]
    tag = " · :orange-badge[heuristic]" if ind.heuristic else ""
    guidance = f" **When to use it:** {ind.guidance}" if ind.guidance else ""
    st.caption(f"**{ind.label}** ({ind.unit}) = {ind.formula}.{guidance} Source: {ind.source}{tag}")


def downloads(df: pd.DataFrame, stem: str, key: str, indicator: str | None = None) -> None:
    """CSV and Parquet downloads of the table behind a chart (files made only when clicked).

    The CSV's values are rounded (:func:`analytics.exports.rounded`) and it says its period (the
    sidebar's) and, where the table has no ``indicator`` column, the ``indicator`` given.
    """

    def as_csv() -> bytes:
        return exports.to_csv(df, period=period(), indicator=indicator).encode("utf-8")

    def as_parquet() -> bytes:
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return buf.getvalue()

    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button("CSV", as_csv, f"{stem}.csv", "text/csv", key=f"{key}_csv", icon=":material/download:")
    c2.download_button("Parquet", as_parquet, f"{stem}.parquet", "application/vnd.apache.parquet", key=f"{key}_pq",
                       icon=":material/download:")


def import_button(label: str, key: str, write: Callable[[], int], what: str) -> None:
    """A button that writes imported rows with ``write()`` (returns a count), then clears cached results."""
    if st.button(label, type="primary", key=key):
        try:
            n = write()
        except UrbanLensError as exc:
            show_error(exc)
        else:
            clear_data()
            st.success(f"Imported {n} {what}.")


def show_error(exc: BaseException) -> None:
    """One clear message for an UrbanLens error (multi-line details in a code block), shown as written:
    it may quote what a person typed or uploaded (:func:`~analytics.formatting.escape_markdown`)."""
    text = str(exc)
    first, _, rest = text.partition("\n")
    st.error(escape_markdown(first), icon=":material/error:")
    if rest.strip():
        st.code(rest.strip(), language=None)


def empty_state(what: str) -> None:
    st.info(
        f"{what}\n\n"
        "- **Analyse footage**: upload a clip and save its measurements;\n"
        "- **Data**: import cameras (CSV) and districts (GeoJSON);\n"
        "- or load the synthetic demo city from a terminal: `urbanlens demo`.",
        icon=":material/info:",
    )

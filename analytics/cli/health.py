"""``urbanlens health``: the health of watched cameras, for people, cron and monitoring.

One row per camera that ``urbanlens watch`` follows (or followed): status, last frame, frames in
the last hour, reconnects, last error, chunks stored, frames dropped and the lag between capture
and store. Exit code 1 when any watched camera is stale (no frame for ``--stale-minutes``; the rule
is :func:`analytics.store.health.health_status`), else 0. ``--webhook URL`` posts a JSON alert
when a camera turns stale and when it recovers (:mod:`analytics.alerts`). Examples::

    urbanlens health
    urbanlens health --format json --stale-minutes 5 || echo "a camera is stale"
    urbanlens health --webhook https://hooks.example.org/urbanlens
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from analytics.alerts import check_webhook_url, send_alerts, shown_url
from analytics.cli._common import DbOption, console, db_path, err_console, open_db
from analytics.errors import InputError, quote_value
from analytics.pages.live import TABLE_COLUMNS, health_records, health_summary, health_table, stale_ids
from analytics.settings import load_settings
from analytics.store.health import set_alerted, watch_health

__all__ = ["HEALTH_FORMATS", "register"]

HEALTH_FORMATS = ("table", "json")


def _print_table(rows: list[dict[Any, Any]], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for col in TABLE_COLUMNS:
        table.add_column(col, justify="right" if col in ("frames last hour", "reconnects", "chunks", "dropped", "lag") else "left",
                         overflow="fold")
    for r in rows:
        table.add_row(*(str(r[c]) for c in TABLE_COLUMNS), style="bold red" if r["status"] == "stale" else None)
    console.print(table, markup=False, highlight=False)


def _alert(path: Path, webhook: str, health_now: datetime, stale_minutes: float, zone: str) -> None:
    """Post the alerts due and remember each one sent (the database opened for writing only here)."""
    with open_db(path) as store:
        health = watch_health(store, health_now, stale_minutes, zone)

        def sent(camera_id: str, status: str) -> None:
            set_alerted(store, camera_id, status, health_now)
            err_console.print(f"alert sent for {camera_id}: {status} (to {shown_url(webhook)})", markup=False, highlight=False)

        send_alerts(health, webhook, str(path), health_now, on_sent=sent,
                    say=lambda line: err_console.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True))


def health(
    stale_minutes: Annotated[float, typer.Option("--stale-minutes", help="A camera with no frame for this long is stale.")] = 10.0,
    fmt: Annotated[str, typer.Option("--format", help=f"{' | '.join(HEALTH_FORMATS)}.")] = "table",
    webhook: Annotated[str | None, typer.Option("--webhook", help="POST a JSON alert here when a camera turns stale or recovers "
                                                "(http or https).")] = None,
    db: DbOption = None,
) -> None:
    """Health of watched cameras; exit code 1 when any is stale (for cron and monitoring)."""
    if fmt not in HEALTH_FORMATS:
        raise InputError(f"--format {quote_value(fmt, 20)}; expected one of {', '.join(HEALTH_FORMATS)}")
    if not stale_minutes > 0:
        raise InputError(f"--stale-minutes {quote_value(stale_minutes, 20)}; expected a number above 0")
    if webhook is not None:
        check_webhook_url(webhook)
    path = db_path(db)
    if not path.exists():
        raise InputError(f"no database at {quote_value(str(path), 200)}; start a camera with `urbanlens watch` first")
    zone = load_settings().timezone
    now = datetime.now(UTC).replace(tzinfo=None)
    if webhook is not None:
        _alert(path, webhook, now, stale_minutes, zone)
    with open_db(path, read_only=True) as store:
        rows = watch_health(store, now, stale_minutes, zone)
    if fmt == "json":
        typer.echo(json.dumps(health_records(rows), indent=2))
        if rows.empty:
            err_console.print(health_summary(rows), markup=False, highlight=False)
    elif rows.empty:
        console.print(health_summary(rows), markup=False, highlight=False)
    else:
        title = f"{health_summary(rows)} · stale after {stale_minutes:g} min without a frame · times {zone}"
        _print_table(health_table(rows, zone).to_dict("records"), title)
    if stale_ids(rows):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``health`` to the ``urbanlens`` app."""
    app.command("health")(health)

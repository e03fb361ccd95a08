"""The store layer: the only code that speaks SQL to the DuckDB file (indicator queries aside).

- :mod:`analytics.store.database`: the :class:`Store` (connections, schema migrations, ingest).
- :mod:`analytics.store.catalog`: read-side look-ups the pages and the CLI list from.
- :mod:`analytics.store.parquet`: the cluster layout (Parquet by day and camera) and a store over it.
"""

from __future__ import annotations

from analytics.store.database import (
    CAMERA_KINDS,
    GROUP_COLUMNS,
    LATEST_VERSION,
    MIGRATIONS,
    ZONE_ROLES,
    IngestResult,
    Store,
    migrate,
    open_store,
    schema_version,
)

__all__ = [
    "CAMERA_KINDS",
    "GROUP_COLUMNS",
    "LATEST_VERSION",
    "MIGRATIONS",
    "ZONE_ROLES",
    "IngestResult",
    "Store",
    "migrate",
    "open_store",
    "schema_version",
]

"""The store layer: the only code that speaks SQL to the DuckDB file (indicator queries aside).

- :mod:`analytics.store.database`: the :class:`Store` (connections, transactions, reads).
- :mod:`analytics.store.schema`: the numbered, frozen migrations and the schema version.
- :mod:`analytics.store.ingest`: one transaction of clip measurements, table by table.
- :mod:`analytics.store.evaluations`: measured accuracy of models on annotated frames.
- :mod:`analytics.store.catalog`: read-side look-ups the pages and the CLI list from.
- :mod:`analytics.store.parquet`: the cluster layout (Parquet by day and camera) and a store over it.
"""

from __future__ import annotations

from analytics.geo import CAMERA_KINDS, ZONE_ROLES
from analytics.store.database import Store, open_store
from analytics.store.evaluations import EvaluationRow, list_evaluations, save_evaluation
from analytics.store.ingest import IngestResult
from analytics.store.schema import GROUP_COLUMNS, LATEST_VERSION, MIGRATIONS, migrate, schema_version

__all__ = [
    "CAMERA_KINDS",
    "GROUP_COLUMNS",
    "LATEST_VERSION",
    "MIGRATIONS",
    "ZONE_ROLES",
    "EvaluationRow",
    "IngestResult",
    "Store",
    "list_evaluations",
    "migrate",
    "open_store",
    "save_evaluation",
    "schema_version",
]

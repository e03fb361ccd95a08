"""One typed, documented settings object.

Environment variables read (all optional):

- ``URBANLENS_HOME``: folder for the database, model cache and uploads (default ``~/.urbanlens``).
- ``URBANLENS_DB``: path of the DuckDB file (default ``$URBANLENS_HOME/urbanlens.duckdb``).
- ``URBANLENS_MODEL_MIRROR``: a folder holding upstream weight files by their file name; used
  instead of downloading (tests and CI point it at ``../shared/models/espnetv2``).
- ``URBANLENS_MIN_FRAMES``: cells with fewer sampled frames are reported as missing (default 30).
- ``URBANLENS_MAX_UPLOAD_MB``: largest clip the dashboard accepts (default 500).
- ``URBANLENS_MAX_CHECKPOINT_MB``: largest PyTorch checkpoint read, in MB: the file, its storages
  and its tensors each (default 1024).
- ``URBANLENS_THREADS``: ONNX Runtime intra-op threads (default: number of CPU cores, at most 4).
- ``URBANLENS_ORT_SPIN``: ``1`` lets ONNX Runtime's threads spin while waiting for work (default
  ``0``: spinning threads take the cores that decode and measure the next frames).
- ``URBANLENS_TILE_URL``: optional XYZ tile URL for a base map; maps are drawn offline without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from analytics.errors import InputError


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise InputError(f"{name}={value} is below the minimum {minimum}")
    return value


def _env_flag(name: str, default: bool) -> bool:
    """``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off`` (any case); empty or unset: ``default``."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InputError(f"{name}={raw!r} is not a flag; expected 1 or 0 (true/false, yes/no, on/off)")


def default_threads() -> int:
    """ONNX Runtime intra-op threads when none are set: the number of CPU cores, at most 4."""
    return min(os.cpu_count() or 2, 4)


@dataclass(frozen=True)
class Settings:
    """Where UrbanLens keeps its files and the thresholds it applies everywhere."""

    home: Path
    db_path: Path
    model_mirror: Path | None = None
    min_frames: int = 30
    max_upload_mb: int = 500
    max_checkpoint_mb: int = 1024
    threads: int = 2
    ort_spin: bool = False
    tile_url: str | None = None
    low_confidence: float = 0.5
    default_model: str = "espnetv2-s2"
    default_sample_fps: float = 2.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def model_dir(self) -> Path:
        """Folder of installed models (ONNX files and their cards)."""
        return self.home / "models"

    @property
    def download_dir(self) -> Path:
        """Folder of downloaded upstream weight files (checked by SHA-256)."""
        return self.home / "downloads"

    @property
    def upload_dir(self) -> Path:
        """Folder where the dashboard keeps uploaded clips while they are analysed."""
        return self.home / "uploads"

    def with_db(self, db_path: str | Path) -> Settings:
        """A copy of these settings with another database file."""
        return replace(self, db_path=Path(db_path).expanduser())


def load_settings() -> Settings:
    """Read the settings from the environment (see the module docstring)."""
    home = Path(os.environ.get("URBANLENS_HOME") or "~/.urbanlens").expanduser()
    db = os.environ.get("URBANLENS_DB")
    mirror = os.environ.get("URBANLENS_MODEL_MIRROR")
    return Settings(
        home=home,
        db_path=Path(db).expanduser() if db else home / "urbanlens.duckdb",
        model_mirror=Path(mirror).expanduser() if mirror else None,
        min_frames=_env_int("URBANLENS_MIN_FRAMES", 30, minimum=1),
        max_upload_mb=_env_int("URBANLENS_MAX_UPLOAD_MB", 500, minimum=1),
        max_checkpoint_mb=_env_int("URBANLENS_MAX_CHECKPOINT_MB", 1024, minimum=1),
        threads=_env_int("URBANLENS_THREADS", default_threads(), minimum=1),
        ort_spin=_env_flag("URBANLENS_ORT_SPIN", False),
        tile_url=os.environ.get("URBANLENS_TILE_URL") or None,
    )

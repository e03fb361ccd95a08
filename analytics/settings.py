"""One typed, documented settings object.

Environment variables read (all optional):

- ``URBANLENS_HOME``: folder for the database, model cache and uploads (default ``~/.urbanlens``).
- ``URBANLENS_DB``: path of the DuckDB file (default ``$URBANLENS_HOME/urbanlens.duckdb``: the user's own
  database, empty until footage, cameras or districts go into it). When set, the dashboard shows this
  file and nothing else (no switch to the demo city).
- ``URBANLENS_DEMO_DB``: path of the demo city's database, written by ``urbanlens demo`` (default
  ``$URBANLENS_HOME/demo.duckdb``). The demo city is synthetic and lives in a file of its own: real
  footage, cameras, districts and evaluations are refused there.
- ``URBANLENS_MODEL_MIRROR``: a folder holding upstream weight files by their file name; used
  instead of downloading (tests and CI point it at ``../shared/models/espnetv2``).
- ``URBANLENS_SAMPLES_MIRROR``: a folder holding the sample clips of ``urbanlens samples download``
  by their file name, used instead of downloading (default: ``URBANLENS_MODEL_MIRROR``).
- ``URBANLENS_MIN_FRAMES``: cells with fewer sampled frames are reported as missing (default 30).
- ``URBANLENS_MAX_UPLOAD_MB``: largest clip the dashboard accepts (default 500).
- ``URBANLENS_MAX_CHECKPOINT_MB``: largest PyTorch checkpoint read, in MB: the file, its storages
  and its tensors each (default 1024).
- ``URBANLENS_MAX_CLIP_MINUTES``: longest clip analysed, in minutes (default 60); a longer clip is
  refused with a message (``urbanlens ingest --max-duration`` sets it for one run).
- ``URBANLENS_THREADS``: ONNX Runtime threads for the model (default: number of CPU cores, at most 4); the
  pipeline runs two frames at once on half of them each where frames are independent.
- ``URBANLENS_ORT_SPIN``: ``1`` lets ONNX Runtime's threads spin while waiting for work (default
  ``0``: spinning threads take the cores that decode and measure the next frames).
- ``URBANLENS_LOCK_TIMEOUT_S``: how long a command or the dashboard waits, in seconds, for the
  database while another process writes to it (or, for a writer, reads it) before it gives up
  with a clear error (default 30; 0: do not wait).
- ``URBANLENS_TILE_URL``: optional XYZ tile URL for a base map; maps are drawn offline without it.
- ``URBANLENS_TIMEZONE``: the city's IANA time zone (default ``UTC``): the store keeps each frame's
  local wall-clock time in its camera's zone (``cameras.timezone``, else this one); GPS track times
  (UTC) and clips' creation tags (UTC) are converted into it (docs/time.md).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analytics.errors import InputError

__all__ = [
    "DEFAULT_LOCK_TIMEOUT_S",
    "default_threads",
    "Settings",
    "DATABASE_CHOICES",
    "default_database",
    "shown_database",
    "load_settings",
]


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


def _env_float(name: str, default: float, minimum: float = 0.0) -> float:
    """A number of at least ``minimum`` from ``name``; empty or unset: ``default``."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value) or value < minimum:
        raise InputError(f"{name}={raw!r} must be a finite number of at least {minimum:g}")
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


def _env_timezone(name: str) -> str:
    """An IANA time zone name from ``name`` (``Europe/Zurich``); empty or unset: ``UTC``."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return "UTC"
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"{name}={raw!r} is not a known time zone; expected an IANA name such as Europe/Zurich or UTC") from None
    return raw


DEFAULT_LOCK_TIMEOUT_S = 30.0
"""Seconds a reader or writer waits for a database that another process holds (``URBANLENS_LOCK_TIMEOUT_S``)."""


def default_threads() -> int:
    """ONNX Runtime intra-op threads when none are set: the number of CPU cores, at most 4."""
    return min(os.cpu_count() or 2, 4)


@dataclass(frozen=True)
class Settings:
    """Where UrbanLens keeps its files and the thresholds it applies everywhere."""

    home: Path
    db_path: Path
    demo_db: Path | None = None
    """The demo city's database; None: ``home / "demo.duckdb"`` (see :attr:`demo_db_path`)."""
    db_pinned: bool = False
    """Whether ``db_path`` was named (``URBANLENS_DB`` or ``--db``): then nothing switches to another database."""
    model_mirror: Path | None = None
    samples_mirror: Path | None = None
    min_frames: int = 30
    max_upload_mb: int = 500
    max_checkpoint_mb: int = 1024
    max_clip_minutes: int = 60
    threads: int = 2
    ort_spin: bool = False
    tile_url: str | None = None
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    low_confidence: float = 0.5
    default_model: str = "espnetv2-s2"
    default_sample_fps: float = 2.0
    timezone: str = "UTC"
    """The city's IANA time zone: frames' times are local wall-clock time there (docs/time.md)."""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def demo_db_path(self) -> Path:
        """The demo city's database (``URBANLENS_DEMO_DB``, default ``$URBANLENS_HOME/demo.duckdb``).

        >>> Settings(home=Path("/h"), db_path=Path("/h/urbanlens.duckdb")).demo_db_path
        PosixPath('/h/demo.duckdb')
        """
        return self.demo_db if self.demo_db is not None else self.home / "demo.duckdb"

    @property
    def model_dir(self) -> Path:
        """Folder of installed models (ONNX files and their cards)."""
        return self.home / "models"

    @property
    def download_dir(self) -> Path:
        """Folder of downloaded upstream weight files (checked by SHA-256)."""
        return self.home / "downloads"

    @property
    def sample_dir(self) -> Path:
        """Default folder of downloaded sample clips (``urbanlens samples download``)."""
        return self.home / "samples"

    @property
    def upload_dir(self) -> Path:
        """Folder where the dashboard keeps uploaded clips while they are analysed."""
        return self.home / "uploads"

    def with_db(self, db_path: str | Path) -> Settings:
        """A copy of these settings with another database file (named, so :attr:`db_pinned`)."""
        return replace(self, db_path=Path(db_path).expanduser(), db_pinned=True)


DATABASE_CHOICES = ("user", "demo")
"""The dashboard's databases: the user's own (``Settings.db_path``) and the demo city's (``Settings.demo_db_path``)."""


def default_database(user_has_data: bool, demo_exists: bool) -> str:
    """The database the dashboard opens on: ``"user"`` when it has data or there is no demo city, else ``"demo"``.

    >>> default_database(True, True), default_database(False, True), default_database(False, False)
    ('user', 'demo', 'user')
    """
    return "user" if user_has_data or not demo_exists else "demo"


def shown_database(settings: Settings, choice: str | None, *, user_has_data: bool) -> Path:
    """The database file the dashboard shows.

    A named database (``URBANLENS_DB``, ``settings.db_pinned``) whatever the choice; else the
    ``choice`` (``"user"`` or ``"demo"``); with none, :func:`default_database`.

    >>> s = Settings(home=Path("/h"), db_path=Path("/h/urbanlens.duckdb"))
    >>> shown_database(s, "demo", user_has_data=True).name, shown_database(s, "user", user_has_data=False).name
    ('demo.duckdb', 'urbanlens.duckdb')
    >>> shown_database(s.with_db("/x/city.duckdb"), "demo", user_has_data=False).name
    'city.duckdb'
    """
    if settings.db_pinned:
        return settings.db_path
    if choice is None:
        choice = default_database(user_has_data, settings.demo_db_path.exists())
    if choice not in DATABASE_CHOICES:
        raise InputError(f"database choice {choice!r}; expected one of {', '.join(DATABASE_CHOICES)}")
    return settings.demo_db_path if choice == "demo" else settings.db_path


def load_settings() -> Settings:
    """Read the settings from the environment (see the module docstring)."""
    home = Path(os.environ.get("URBANLENS_HOME") or "~/.urbanlens").expanduser()
    db = os.environ.get("URBANLENS_DB")
    demo_db = os.environ.get("URBANLENS_DEMO_DB")
    mirror = os.environ.get("URBANLENS_MODEL_MIRROR")
    samples_mirror = os.environ.get("URBANLENS_SAMPLES_MIRROR") or mirror
    return Settings(
        home=home,
        db_path=Path(db).expanduser() if db else home / "urbanlens.duckdb",
        demo_db=Path(demo_db).expanduser() if demo_db else None,
        db_pinned=bool(db),
        model_mirror=Path(mirror).expanduser() if mirror else None,
        samples_mirror=Path(samples_mirror).expanduser() if samples_mirror else None,
        min_frames=_env_int("URBANLENS_MIN_FRAMES", 30, minimum=1),
        max_upload_mb=_env_int("URBANLENS_MAX_UPLOAD_MB", 500, minimum=1),
        max_checkpoint_mb=_env_int("URBANLENS_MAX_CHECKPOINT_MB", 1024, minimum=1),
        max_clip_minutes=_env_int("URBANLENS_MAX_CLIP_MINUTES", 60, minimum=1),
        threads=_env_int("URBANLENS_THREADS", default_threads(), minimum=1),
        ort_spin=_env_flag("URBANLENS_ORT_SPIN", False),
        tile_url=os.environ.get("URBANLENS_TILE_URL") or None,
        lock_timeout_s=_env_float("URBANLENS_LOCK_TIMEOUT_S", DEFAULT_LOCK_TIMEOUT_S),
        timezone=_env_timezone("URBANLENS_TIMEZONE"),
    )

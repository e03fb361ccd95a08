"""The model zoo: built-in cards, installed models, installing and bring-your-own.

Installed layout (under ``Settings.model_dir``, i.e. ``$URBANLENS_HOME/models``)::

    <name>/model.onnx    the ONNX graph
    <name>/card.json     its card, at the installed input size

Installing is atomic: everything is written into a hidden temporary folder beside the target
and renamed into place only when complete, so an interrupted or failed install never leaves a
half-installed model (a previous install of the same name stays until the new one is ready).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import numpy as np

from analytics.cards import ModelCard, load_card
from analytics.checksums import sha256_file
from analytics.detection import DetectorCard, load_detector_card
from analytics.errors import DataFormatError, InputError, ModelError, quote_value
from analytics.models.architectures import get_architecture
from analytics.models.fetch import Progress, fetch_file
from analytics.models.roadcard import DEFAULT_ROAD_MODEL, NO_ROAD_MODEL, RoadCard, check_road_onnx, load_road_card
from analytics.settings import Settings

__all__ = [
    "InstalledModel",
    "RoadFile",
    "builtin_road_cards",
    "install_road",
    "resolve_road",
    "with_road",
    "ModelListing",
    "ModelSpec",
    "ResolvedModel",
    "add_model",
    "MAX_NAME_LENGTH",
    "builtin_cards",
    "builtin_detector_cards",
    "resolve_detector",
    "check_model_name",
    "check_new_model_name",
    "install",
    "install_detector",
    "list_models",
    "parse_size",
    "resolve",
]

MODEL_FILE = "model.onnx"
CARD_FILE = "card.json"
DETECTOR_CARD_FILE = "detector.json"
ROAD_CARD_FILE = "road.json"
MAX_NAME_LENGTH = 64
"""Longest model name (it is a folder name under ``model_dir``)."""


@dataclass(frozen=True)
class RoadFile:
    """An installed road model: its card, ONNX file and the file's SHA-256 (provenance)."""

    card: RoadCard
    onnx_path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.card.name


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to run: its card, ONNX file, the file's SHA-256 (provenance) and size in bytes,
    and the road model run beside it (None: none, :func:`with_road`)."""

    card: ModelCard
    onnx_path: Path
    weights_sha256: str
    size_bytes: int
    road: RoadFile | None = None

    @property
    def name(self) -> str:
        """The model's name (its card's)."""
        return self.card.name


InstalledModel = ResolvedModel
"""An installed model: the same record as any resolved one."""

ModelSpec: TypeAlias = "str | ResolvedModel | tuple[ModelCard, str | Path]"
"""A model name (installed, or a built-in one installed on first use), an installed model, or a
``(card, onnx_path)`` pair."""


@dataclass(frozen=True)
class ModelListing:
    """One row of ``urbanlens models list``."""

    name: str
    builtin: bool
    installed: bool
    input_size: tuple[int, int]
    license: str
    size_bytes: int | None
    path: Path | None
    task: str = "semantic-segmentation"


CardT = TypeVar("CardT", ModelCard, DetectorCard, RoadCard)


def builtin_cards() -> dict[str, ModelCard]:
    """The cards shipped with UrbanLens (``analytics/models/cards/*.toml``), by name."""
    return _shipped_cards(("cards",), load_card)


def builtin_detector_cards() -> dict[str, DetectorCard]:
    """The object detector cards shipped with UrbanLens (``analytics/models/cards/detectors/*.toml``), by name."""
    return _shipped_cards(("cards", "detectors"), load_detector_card)


def builtin_road_cards() -> dict[str, RoadCard]:
    """The road model cards shipped with UrbanLens (``analytics/models/cards/road/*.toml``), by name."""
    return _shipped_cards(("cards", "road"), load_road_card)


def _shipped_cards(folder: tuple[str, ...], load: Callable[[Path], CardT]) -> dict[str, CardT]:
    """Every ``*.toml`` card in the package folder ``analytics/models/<folder>``, read with ``load``, by name."""
    where = resources.files("analytics.models").joinpath(*folder)
    cards: dict[str, CardT] = {}
    for entry in sorted(where.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            with resources.as_file(entry) as path:
                card = load(path)
            cards[card.name] = card
    return cards


def _builtin_rows(cards: Mapping[str, Any], card_file: str, settings: Settings) -> list[ModelListing]:
    """One listing row per built-in detector or road model (``cards`` by name, each installed with ``card_file``)."""
    rows = []
    for name, card in cards.items():
        onnx_path = settings.model_dir / name / MODEL_FILE
        installed = onnx_path.is_file() and (settings.model_dir / name / card_file).is_file()
        rows.append(ModelListing(name, True, installed, card.input_size, card.license,
                                 onnx_path.stat().st_size if installed else None, onnx_path if installed else None, card.task))
    return rows


def resolve_detector(name: str, settings: Settings, install_missing: bool = False) -> tuple[DetectorCard, Path]:
    """(card, ONNX file) of the installed detector ``name``; with ``install_missing`` a built-in one is installed now."""
    folder = settings.model_dir / check_model_name(name)
    card_file, onnx_path = folder / DETECTOR_CARD_FILE, folder / MODEL_FILE
    if not (card_file.is_file() and onnx_path.is_file()):
        if name not in builtin_detector_cards():
            raise ModelError(f"detector {name!r} is not installed; built-in detectors: {', '.join(builtin_detector_cards())}")
        if not install_missing:
            raise ModelError(f"detector {name!r} is not installed; run `urbanlens models install {name}`")
        return install_detector(name, settings)
    return load_detector_card(card_file), onnx_path


def _install_builtin(
    card: DetectorCard | RoadCard, card_file: str, settings: Settings, source: str | Path | None, progress: Progress | None,
    check: Callable[[Path], object] | None = None,
) -> Path:
    """Fetch a built-in card's ONNX file (SHA-256 checked; ``source``, the mirror or its upstream address),
    ``check`` it, and install it with the card as ``card_file``, atomically; returns the installed ONNX file."""
    onnx_file = fetch_file(card.weights_file, card.source_url, card.sha256, settings.download_dir, source=source,
                           mirror=settings.model_mirror, progress=progress)
    if check is not None:
        check(onnx_file)

    def write(folder: Path) -> None:
        shutil.copyfile(onnx_file, folder / MODEL_FILE)
        (folder / card_file).write_text(card.to_json(), encoding="utf-8")

    return _atomic_install(card.name, settings, write) / MODEL_FILE


def install_detector(
    name: str, settings: Settings, source: str | Path | None = None, progress: Progress | None = None,
) -> tuple[DetectorCard, Path]:
    """Fetch built-in detector ``name``'s ONNX file (SHA-256 checked; ``source``, the mirror or its upstream
    address, as for :func:`install`) and install it with its card, atomically; returns (card, ONNX file)."""
    detectors = builtin_detector_cards()
    if check_model_name(name) not in detectors:
        raise InputError(f"unknown detector {name!r}; built-in detectors: {', '.join(detectors)}")
    card = detectors[name]
    return card, _install_builtin(card, DETECTOR_CARD_FILE, settings, source, progress)


def install_road(
    name: str, settings: Settings, source: str | Path | None = None, progress: Progress | None = None,
) -> RoadFile:
    """Fetch built-in road model ``name``'s ONNX file (SHA-256 checked; ``source``, the mirror or its
    upstream address, as for :func:`install`), check its shapes and install it with its card, atomically."""
    cards = builtin_road_cards()
    if check_model_name(name) not in cards:
        raise InputError(f"unknown road model {quote_value(name)}; built-in road models: {', '.join(cards)} (or {NO_ROAD_MODEL!r})")
    card = cards[name]
    onnx_path = _install_builtin(card, ROAD_CARD_FILE, settings, source, progress, check=lambda f: check_road_onnx(f, card))
    return RoadFile(card, onnx_path, card.sha256)


def resolve_road(name: str, settings: Settings, install_missing: bool = False) -> RoadFile | None:
    """The installed road model ``name`` (None for ``"none"``); with ``install_missing`` a built-in
    one is installed now. The file's hash is checked against the card's (cached while the file is unchanged)."""
    if name == NO_ROAD_MODEL:
        return None
    cards = builtin_road_cards()
    if not isinstance(name, str) or name not in cards:
        raise InputError(f"road model {quote_value(name)}; expected one of {', '.join(cards)} or {NO_ROAD_MODEL!r}")
    folder = settings.model_dir / name
    onnx_path = folder / MODEL_FILE
    if not (onnx_path.is_file() and (folder / ROAD_CARD_FILE).is_file()):
        if not install_missing:
            raise ModelError(f"road model {name!r} is not installed; run `urbanlens models install {name}`")
        return install_road(name, settings)
    card = load_road_card(folder / ROAD_CARD_FILE)
    st = onnx_path.stat()
    sha = _weights_sha256(str(onnx_path), st.st_ino, st.st_size, st.st_mtime_ns)
    if sha != card.sha256:
        raise ModelError(f"road model {name!r} is damaged (its SHA-256 is not the card's); run `urbanlens models install {name}`")
    return RoadFile(card, onnx_path, sha)


def with_road(model: ResolvedModel, road_model: str, settings: Settings, install_missing: bool = True) -> ResolvedModel:
    """``model`` with the road model ``road_model`` beside it (:func:`resolve_road`); without one
    (``"none"``, or a segmenter that has no road or sidewalk class to correct) ``road`` is None."""
    if road_model != NO_ROAD_MODEL and road_model not in builtin_road_cards():
        resolve_road(road_model, settings)  # raises, naming the accepted names
    groups = model.card.class_set.groups
    if road_model == NO_ROAD_MODEL or "road" not in groups or "sidewalk" not in groups:
        return dataclasses.replace(model, road=None)
    return dataclasses.replace(model, road=resolve_road(road_model, settings, install_missing))


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``384x768``) into ``(height, width)``.

    >>> parse_size("512x1024")
    (512, 1024)
    >>> parse_size("big")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: size 'big' is not HEIGHTxWIDTH (e.g. 384x768)
    """
    parts = text.lower().replace(" ", "").split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise InputError(f"size {text!r} is not HEIGHTxWIDTH (e.g. 384x768)")
    return int(parts[0]), int(parts[1])


def check_model_name(name: object) -> str:
    """``name`` when it can name a model (a folder under ``model_dir``); else an InputError naming it.

    Accepted: 1 to :data:`MAX_NAME_LENGTH` letters, digits, ``-``, ``_`` and ``.``, not starting
    with ``.`` (so never ``.``, ``..``, a hidden folder, a path separator, a space or a control
    character). Checked before any work is done for the name.

    >>> check_model_name("espnetv2-s2")
    'espnetv2-s2'
    >>> check_model_name("..")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: model name '..': use 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'
    """
    if not isinstance(name, str):
        raise InputError(f"model name must be text, got {type(name).__name__}")
    ok = (0 < len(name) <= MAX_NAME_LENGTH and not name.startswith(".")
          and all(c.isalnum() or c in "-_." for c in name))
    if not ok:
        raise InputError(f"model name {quote_value(name)}: use 1 to {MAX_NAME_LENGTH} letters, digits, '-', '_' or '.', "
                         "not starting with '.'")
    return name


def check_new_model_name(name: object, settings: Settings, force: bool = False) -> str:
    """``name`` when a new model may be installed under it: a valid name (:func:`check_model_name`),
    not a built-in model's, and not an installed model's unless ``force`` (then that model is replaced).

    Only reads the model folder: call it before any work for the new model.
    """
    checked = check_model_name(name)
    if checked in builtin_cards():
        raise InputError(f"model name {checked!r} is a built-in model; give your model another name")
    folder = settings.model_dir / checked
    if not force and folder.exists():
        raise InputError(f"model {checked!r} is already installed ({_describe(folder)}); "
                         "use --force to replace it, or give another name")
    return checked


def _describe(folder: Path) -> str:
    """What an installed model folder holds, for a message: ``384x768, 20 classes`` (or what is wrong with it)."""
    try:
        card = load_card(folder / CARD_FILE)
    except (InputError, DataFormatError, OSError):
        return "its card cannot be read"
    return f"{card.input_height}x{card.input_width}, {card.num_classes} classes"


def _installed_dirs(settings: Settings) -> list[Path]:
    root = settings.model_dir
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and (d / CARD_FILE).is_file())


def _load_installed(folder: Path) -> InstalledModel:
    onnx_path = folder / MODEL_FILE
    if not onnx_path.is_file():
        raise ModelError(f"model {folder.name!r} is damaged ({MODEL_FILE} is missing); run `urbanlens models install {folder.name}`")
    card = load_card(folder / CARD_FILE)
    st = onnx_path.stat()
    return InstalledModel(card, onnx_path, _weights_sha256(str(onnx_path), st.st_ino, st.st_size, st.st_mtime_ns), st.st_size)


@functools.lru_cache(maxsize=32)
def _weights_sha256(path: str, inode: int, size: int, mtime_ns: int) -> str:
    """SHA-256 of the model file at ``path``, hashed again only when its inode, size or modification
    time changes (an install replaces the file, so it gets a new inode; each clip analysed resolves its model)."""
    return sha256_file(path)


def list_models(settings: Settings) -> list[ModelListing]:
    """Built-in and installed models, installed ones with their size on disk."""
    rows: dict[str, ModelListing] = {}
    builtins = builtin_cards()
    for name, card in builtins.items():
        rows[name] = ModelListing(name, True, False, card.input_size, card.license, None, None)
    for folder in _installed_dirs(settings):
        try:
            card = load_card(folder / CARD_FILE)
        except (InputError, DataFormatError):
            continue
        onnx_path = folder / MODEL_FILE
        size = onnx_path.stat().st_size if onnx_path.is_file() else None
        rows[card.name] = ModelListing(
            card.name, card.name in builtins, onnx_path.is_file(), card.input_size, card.license, size, onnx_path
        )
    return (list(rows.values()) + _builtin_rows(builtin_detector_cards(), DETECTOR_CARD_FILE, settings)
            + _builtin_rows(builtin_road_cards(), ROAD_CARD_FILE, settings))


def resolve(model: ModelSpec, settings: Settings, install: bool = False) -> ResolvedModel:
    """The model ``model`` names, ready to run: a name (the installed model; with ``install``, a
    built-in one not installed yet is installed now), an installed model as it is, or a
    ``(card, onnx_path)`` pair (the file hashed now).

    :class:`~analytics.errors.ModelError` says how to install a model that is absent, or names a
    missing ONNX file; :class:`~analytics.errors.InputError` for anything else. The weights hash of
    an installed model is cached while its file is unchanged.
    """
    if isinstance(model, str):
        return _resolve_name(model, settings, install)
    if isinstance(model, tuple) and len(model) == 2 and isinstance(model[0], ModelCard):
        card, onnx_path = model
        p = Path(onnx_path)
        if not p.is_file():
            raise ModelError(f"ONNX model {str(p)!r} does not exist")
        st = p.stat()
        return ResolvedModel(card, p, _weights_sha256(str(p), st.st_ino, st.st_size, st.st_mtime_ns), st.st_size)
    if isinstance(model, ResolvedModel):
        return model
    raise InputError(f"model must be a name, an installed model or a (card, onnx_path) pair, got {type(model).__name__}")


def _resolve_name(name: str, settings: Settings, install_missing: bool) -> ResolvedModel:
    folder = settings.model_dir / check_model_name(name)
    if not (folder / CARD_FILE).is_file():
        if name in builtin_cards():
            if install_missing:
                return install(name, settings)
            hint = f"run `urbanlens models install {name}`"
        else:
            hint = f"built-in models: {', '.join(builtin_cards())}; add your own with `urbanlens models add MODEL.onnx --card CARD.toml`"
        raise ModelError(f"model {name!r} is not installed; {hint}")
    return _load_installed(folder)


def _atomic_install(name: str, settings: Settings, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp_folder)`` and move the folder to ``model_dir/name`` only if it succeeds."""
    root = settings.model_dir
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        write(tmp)
        final = root / name
        old = root / f".{name}.old-{uuid.uuid4().hex[:8]}"
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def install(
    name: str,
    settings: Settings,
    size: tuple[int, int] | None = None,
    source: str | Path | None = None,
    progress: Progress | None = None,
    road_model: str = DEFAULT_ROAD_MODEL,
) -> InstalledModel:
    """Fetch the upstream weights of built-in model ``name``, build its ONNX graph and install it,
    and install the road model ``road_model`` run beside it (from the mirror or its pinned address;
    ``"none"``: not), unless it is installed already.

    The card's ``architecture`` picks the builder (:data:`analytics.models.architectures.ARCHITECTURES`).
    ``size`` is ``(height, width)`` of the model input (default: the card's); ``source`` a file,
    folder or URL to take the weights from instead of the mirror or the upstream address.
    """
    cards = builtin_cards()
    if check_model_name(name) not in cards:
        hint = f"; {name!r} is a detector: install it with install_detector" if name in builtin_detector_cards() else ""
        raise InputError(f"unknown model {name!r}; built-in models: {', '.join(cards)}{hint}")
    card = cards[name]
    arch = get_architecture(card)
    height, width = arch.check_input_size(*(size or card.input_size))
    weights_file = str(card.params.get("weights_file") or (card.source_url or "").rsplit("/", 1)[-1])
    weights = fetch_file(
        weights_file, card.source_url, card.sha256, settings.download_dir, source=source, mirror=settings.model_mirror,
        progress=progress,
    )
    model = arch.build(weights, card, height, width, settings.max_checkpoint_mb)
    sized = card.with_size(height, width)

    def write(folder: Path) -> None:
        (folder / MODEL_FILE).write_bytes(model.SerializeToString())
        (folder / CARD_FILE).write_text(sized.to_json(), encoding="utf-8")

    installed = _load_installed(_atomic_install(name, settings, write))
    if road_model != NO_ROAD_MODEL:
        resolve_road(road_model, settings, install_missing=True)
    return installed


def _dims(value_info: Any) -> list[int | str | None]:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims]


def check_onnx_against_card(onnx_path: Path, card: ModelCard) -> None:
    """Refuse an ONNX file whose input/output shapes or class count disagree with ``card``.

    Checks the declared shapes first (naming the mismatch), then runs the model once on a blank
    input of the card's size to confirm the output is ``(1, classes, h, w)``.
    """
    import onnx  # deferred: only checking a bring-your-own model needs the ONNX protobuf reader

    try:
        model = onnx.load(str(onnx_path))
    except Exception as exc:  # a protobuf DecodeError or OSError for a file that is not ONNX
        raise ModelError(f"{onnx_path.name} is not an ONNX model ({type(exc).__name__})") from None
    init_names = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init_names]
    if len(inputs) != 1:
        raise ModelError(f"{onnx_path.name} has {len(inputs)} inputs; a segmentation model takes one image (N, 3, H, W)")
    h, w = card.input_size
    shape_in = _dims(inputs[0])
    expected_in = ["N", 3, h, w]
    if len(shape_in) != 4 or any(isinstance(a, int) and a != b for a, b in zip(shape_in[1:], expected_in[1:])):
        raise ModelError(f"{onnx_path.name}: input shape {shape_in} does not match the card's (N, 3, {h}, {w})")
    if not model.graph.output:
        raise ModelError(f"{onnx_path.name} has no outputs")
    shape_out = _dims(model.graph.output[0])
    if shape_out and (len(shape_out) != 4 or (isinstance(shape_out[1], int) and shape_out[1] != card.num_classes)):
        raise ModelError(
            f"{onnx_path.name}: output shape {shape_out} is not (N, {card.num_classes}, h, w); "
            f"the card {card.name!r} lists {card.num_classes} classes"
        )
    _dry_run(onnx_path, inputs[0].name, card)


def _dry_run(onnx_path: Path, input_name: str, card: ModelCard) -> None:
    import onnxruntime as ort  # deferred: only checking a bring-your-own model runs one here

    h, w = card.input_size
    try:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        out = sess.run(None, {input_name: np.zeros((1, 3, h, w), np.float32)})[0]
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"{onnx_path.name} does not run on a {h}x{w} input: {str(exc).splitlines()[0]}") from None
    shape = tuple(np.shape(out))
    if len(shape) != 4 or shape[0] != 1 or shape[1] != card.num_classes:
        raise ModelError(
            f"{onnx_path.name}: output shape {shape} is not (1, {card.num_classes}, h, w); "
            f"the card {card.name!r} lists {card.num_classes} classes"
        )


def add_model(onnx_path: str | Path, card_path: str | Path, settings: Settings, force: bool = False) -> InstalledModel:
    """Install a bring-your-own ONNX segmentation model under its card's name, after checking them.

    The name is checked first (:func:`check_new_model_name`): a model installed under it is
    replaced only with ``force``.
    """
    src = Path(onnx_path)
    if not src.is_file():
        raise InputError(f"ONNX file {str(src)!r} does not exist")
    card = load_card(card_path)
    check_new_model_name(card.name, settings, force)
    check_onnx_against_card(src, card)

    def write(folder: Path) -> None:
        shutil.copyfile(src, folder / MODEL_FILE)
        (folder / CARD_FILE).write_text(card.to_json(), encoding="utf-8")

    return _load_installed(_atomic_install(card.name, settings, write))

"""Imported ground truth under ``URBANLENS_HOME/annotations/<id>/``, ready for ``evaluate`` and ``adapt``.

A stored annotation set is an unpacked CVAT "Segmentation mask 1.1" folder (written by
:func:`analytics.evaluation.cvat.write_cvat_package`, so ``urbanlens evaluate --format cvat-mask
--masks <folder>`` reads it too) plus ``manifest.json``::

    {"id": "<first 12 hex of sha256>", "sha256": "...", "format": "cvat-mask" | "camvid",
     "classes": [{"name": ..., "group": ... or null}], "camera_id": ..., "source": {"path": ..., "sha256": ...},
     "imported_at": "...", "frames": [{"name": ..., "image_sha256": ..., "mask_sha256": ...}]}

The id is the hash of the format, the class names and every frame's name with the SHA-256 of its
image bytes and of its decoded mask (class ids), so importing the same export twice finds the set
already there and changes nothing. Images are kept byte for byte; masks are re-coded as colour
masks of the same class ids.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from analytics.errors import DataFormatError, InputError, quote_value
from analytics.evaluation.archives import extract_zip
from analytics.evaluation.cvat import PackageFrame, distinct_colours, package_files
from analytics.evaluation.imagesize import decode_image
from analytics.evaluation.readers import IMAGE_SUFFIXES, GroundTruth, read_camvid, read_cvat_mask
from analytics.settings import Settings
from analytics.untrusted import load_json, shown_name

__all__ = [
    "IMPORT_FORMATS",
    "MANIFEST_MAX_BYTES",
    "ImportResult",
    "StoredAnnotations",
    "import_annotations",
    "list_annotations",
    "load_annotations",
    "read_manifest",
]

IMPORT_FORMATS = ("cvat-mask", "camvid")
MANIFEST = "manifest.json"
MANIFEST_MAX_BYTES = 64 * 1024 * 1024
"""Largest ``manifest.json`` read (it lists every frame with two hashes)."""


@dataclass(frozen=True)
class ImportResult:
    """Where an import landed; ``new`` is False when the same set was already stored."""

    id: str
    folder: Path
    frames: int
    classes: tuple[str, ...]
    new: bool


@dataclass(frozen=True)
class StoredAnnotations:
    """A stored set: its manifest and its frames as :class:`GroundTruth`."""

    id: str
    folder: Path
    manifest: dict[str, Any]
    ground_truth: GroundTruth


def _root(settings: Settings) -> Path:
    return settings.home / "annotations"


def _camvid_pairs(path: Path) -> tuple[Path, Path]:
    """The image and mask folders of a CamVid export: ``X/`` beside ``Xannot/`` (SegNet layout)."""
    dirs = {p.name: p for p in path.rglob("*") if p.is_dir()} | {path.name: path}
    pairs = [(dirs[n[: -len("annot")]], p) for n, p in dirs.items() if n.endswith("annot") and n[: -len("annot")] in dirs]
    if len(pairs) != 1:
        raise InputError(
            f"{path.name}: expected one image folder X/ beside its mask folder Xannot/ (CamVid layout), found {len(pairs)}"
        )
    return pairs[0]


def _read(export: Path, fmt: str, tmp: Path) -> GroundTruth:
    if fmt == "cvat-mask":
        return read_cvat_mask(export)
    folder = extract_zip(export, tmp) if export.is_file() else export
    if not folder.is_dir():
        raise InputError(f"{str(export)!r} does not exist; expected a zip or a folder")
    images, masks = _camvid_pairs(folder)
    return read_camvid(images, masks)


def _frames(gt: GroundTruth) -> list[tuple[str, bytes, str, np.ndarray]]:
    """``(name, image bytes, image extension, mask class ids)`` of every frame, sizes checked."""
    out = []
    for s in gt.samples:
        data = s.image.read()
        image = decode_image(data, s.image.name, cv2.IMREAD_COLOR)
        mask = gt.decode_mask(s.mask.read(), s.mask.name)
        if mask.shape != image.shape[:2]:
            raise InputError(f"mask {s.mask.name} is {mask.shape[1]}x{mask.shape[0]} but its image is "
                             f"{image.shape[1]}x{image.shape[0]}; expected the same size")
        suffix = PurePosixPath(s.image.name).suffix.lower()
        out.append((s.name, data, suffix if suffix in IMAGE_SUFFIXES else ".png", mask))
    return out


def _digest(fmt: str, classes: tuple[str, ...], frames: list[tuple[str, bytes, str, np.ndarray]]) -> tuple[str, list[dict[str, str]]]:
    rows = []
    h = hashlib.sha256(json.dumps({"format": fmt, "classes": list(classes)}).encode())
    for name, data, _, mask in sorted(frames, key=lambda f: f[0]):
        row = {"name": name, "image_sha256": hashlib.sha256(data).hexdigest(),
               "mask_sha256": hashlib.sha256(np.ascontiguousarray(mask).tobytes() + str(mask.shape).encode()).hexdigest()}
        rows.append(row)
        h.update(f"\n{row['name']}\t{row['image_sha256']}\t{row['mask_sha256']}".encode())
    return h.hexdigest(), rows


def import_annotations(export: Path, fmt: str, camera_id: str | None, settings: Settings) -> ImportResult:
    """Store the annotated frames of ``export`` (a CVAT export zip/folder, or a CamVid ``X/`` + ``Xannot/`` zip/folder)."""
    if fmt not in IMPORT_FORMATS:
        raise InputError(f"--format {quote_value(fmt)}; accepted: {', '.join(IMPORT_FORMATS)}")
    export = Path(export)
    if not export.exists():
        raise InputError(f"{str(export)!r} does not exist; expected the annotation export (zip or folder)")
    with tempfile.TemporaryDirectory(prefix="urbanlens-import-") as tmp:
        gt = _read(export, fmt, Path(tmp))
        frames = _frames(gt)
    sha, rows = _digest(fmt, gt.class_names, frames)
    ident = sha[:12]
    root = _root(settings)
    final = root / ident
    if (final / MANIFEST).is_file():
        return ImportResult(ident, final, len(frames), gt.class_names, new=False)
    colours = distinct_colours(len(gt.class_names))
    files = package_files([PackageFrame(n, np.zeros((*m.shape, 3), np.uint8), m) for n, _, _, m in frames],
                          gt.class_names, colours)
    for name, data, suffix, _ in frames:  # the frames byte for byte, not the placeholder PNGs
        del files[f"JPEGImages/{name}.png"]
        files[f"JPEGImages/{name}{suffix}"] = data
    source = {"path": str(export.resolve()), "sha256": _file_sha(export)}
    manifest = {
        "id": ident, "sha256": sha, "format": fmt,
        "classes": [{"name": n, "group": g} for n, g in zip(gt.class_names, gt.groups or [None] * len(gt.class_names), strict=True)],
        "camera_id": camera_id, "source": source, "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "frames": rows,
    }
    files[MANIFEST] = json.dumps(manifest, indent=2).encode()
    root.mkdir(parents=True, exist_ok=True)
    tmp_dir = root / f".{ident}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        for rel, data in files.items():
            p = tmp_dir / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        tmp_dir.rename(final)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return ImportResult(ident, final, len(frames), gt.class_names, new=True)


def _file_sha(path: Path) -> str | None:
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any]:
    """The ``manifest.json`` of a stored set: a JSON object of at most :data:`MANIFEST_MAX_BYTES`,
    nested at most 8 deep, whose ``classes`` and ``frames`` are lists of objects; DataFormatError
    (naming the set, quoting at most 80 characters of what was found) otherwise."""
    where = f"annotation set {shown_name(folder.name)}: {MANIFEST}"
    try:
        with (folder / MANIFEST).open("rb") as f:
            raw = f.read(MANIFEST_MAX_BYTES + 1)
    except OSError as exc:
        raise DataFormatError(f"{where} cannot be read ({exc.strerror or type(exc).__name__})") from None
    data = load_json(raw, where, max_bytes=MANIFEST_MAX_BYTES, max_depth=8)
    if not isinstance(data, dict):
        raise DataFormatError(f"{where} holds {quote_value(raw)}; expected a JSON object")
    for key in ("classes", "frames"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise DataFormatError(f"{where}: {key!r} is a {type(value).__name__} that is not a list of objects")
        data[key] = value
    return data


def load_annotations(ident: str, settings: Settings) -> StoredAnnotations:
    """The stored set ``ident`` (its id, or a unique prefix of at least 4 characters)."""
    root = _root(settings)
    known = sorted(p.name for p in root.iterdir() if (p / MANIFEST).is_file()) if root.is_dir() else []
    matches = [k for k in known if len(ident) >= 4 and k.startswith(ident)]
    if len(matches) != 1:
        shown = ", ".join(known[:8]) or "none; import some with `urbanlens annotate import`"
        why = "is ambiguous" if matches else "is not stored"
        raise InputError(f"annotation set {ident!r} {why}; stored sets: {shown}")
    folder = root / matches[0]
    manifest = read_manifest(folder)
    gt = read_cvat_mask(folder)
    groups = tuple(c.get("group") for c in manifest["classes"])
    gt = dataclasses.replace(gt, format=str(manifest.get("format", gt.format)),
                             groups=groups if groups and all(isinstance(g, str) for g in groups) else None)
    return StoredAnnotations(matches[0], folder, manifest, gt)


def list_annotations(settings: Settings) -> list[dict[str, Any]]:
    """The manifests of every stored set, oldest first."""
    root = _root(settings)
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if (p / MANIFEST).is_file():
            try:
                out.append(read_manifest(p))
            except DataFormatError:
                continue
    return sorted(out, key=lambda m: str(m.get("imported_at", "")))

"""Ground-truth readers: annotated frames in the CamVid, Cityscapes and CVAT layouts.

Every reader returns a :class:`GroundTruth`: the annotation classes (names and, where the format
says so, the indicator group of each) and one :class:`Sample` per annotated image, pairing the
image's bytes with its mask's bytes. :meth:`GroundTruth.decode_mask` turns mask bytes into
annotation class ids (``uint8``) with :data:`~analytics.evaluation.metrics.IGNORE` (255) where the
pixel is unlabelled.

Formats
-------
- ``camvid``: the SegNet layout, images and single-channel index masks with the same file name
  (stem) in two folders; values 0-10 are the 11 CamVid classes, 11 is unlabelled.
- ``cityscapes``: ``leftImg8bit/**/<x>_leftImg8bit.png`` and ``gtFine/**/<x>_gtFine_labelIds.png``;
  label ids become train ids by the standard Cityscapes table (:data:`CITYSCAPES_TRAIN_IDS`),
  ids without a train id are unlabelled.
- ``cvat-mask``: CVAT's "Segmentation mask 1.1" export (a zip or its unpacked folder)::

      labelmap.txt                      # label:r,g,b:parts:actions, one label a line
      SegmentationClass/<name>.png      # colour masks, one colour per label
      ImageSets/Segmentation/<subset>.txt   # the image names, one a line (no extension)
      JPEGImages/<name>.<ext>           # the images, when exported with them (else --images)

  The label ``background`` (CVAT writes it for pixels nobody annotated) is unlabelled. A colour
  that ``labelmap.txt`` does not list is an error. CVAT says nothing about indicator groups, so a
  CVAT class takes the group of the model classes the label map sends to it (see
  :mod:`analytics.evaluation.labelmaps`).

The CVAT reader is written here rather than taken from ``datumaro`` (the CVAT team's dataset
library): the format is three plain files, and datumaro would add a large dependency tree
(its own pinned numpy/pandas/pyarrow ranges, networkx, lxml, and more) to read them.

Zip exports are read in place, never unpacked, under the limits of
:mod:`analytics.evaluation.archives` (members streamed with a hard cap on the bytes produced, their
count, paths and total checked). Every file read is at most :data:`MAX_MEMBER_BYTES` (a text file
such as ``labelmap.txt`` at most :data:`MAX_TEXT_BYTES`); an image's size is read from its header
and refused above :data:`~analytics.evaluation.imagesize.MAX_IMAGE_PIXELS` before it is decoded
(:mod:`analytics.evaluation.imagesize`). A CVAT export lists at most :data:`MAX_CLASSES` labels
besides ``background``, so every class id fits ``uint8`` below
:data:`~analytics.evaluation.metrics.IGNORE`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from analytics.errors import DataFormatError, InputError, quote_value
from analytics.evaluation.archives import MAX_MEMBER_BYTES, MAX_MEMBERS, read_member, zip_members
from analytics.evaluation.imagesize import check_image_size, decode_image
from analytics.evaluation.metrics import IGNORE
from analytics.taxonomy import CITYSCAPES_CLASSES
from analytics.untrusted import shown_name

__all__ = [
    "CAMVID_CLASSES",
    "CITYSCAPES_TRAIN_IDS",
    "FORMATS",
    "IMAGE_SUFFIXES",
    "MAX_CLASSES",
    "MAX_MEMBER_BYTES",
    "MAX_TEXT_BYTES",
    "GroundTruth",
    "Sample",
    "read_camvid",
    "read_cityscapes",
    "read_cvat_mask",
    "read_ground_truth",
]

FORMATS = ("camvid", "cityscapes", "cvat-mask")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MAX_TEXT_BYTES = 16 * 1024 * 1024
"""Largest text file of an export read (``labelmap.txt``, ``ImageSets/Segmentation/*.txt``)."""
MAX_CLASSES = IGNORE
MAX_LABEL_CHARS = 200
"""Most annotation classes: their ids 0..254 fit ``uint8`` below IGNORE (255, unlabelled)."""

CAMVID_CLASSES: tuple[tuple[str, str], ...] = (
    ("Sky", "sky"),
    ("Building", "built"),
    ("Pole", "built"),
    ("Road", "road"),
    ("Pavement", "sidewalk"),
    ("Tree", "vegetation"),
    ("SignSymbol", "built"),
    ("Fence", "built"),
    ("Car", "vehicle"),
    ("Pedestrian", "person"),
    ("Bicyclist", "two_wheeler"),
)
"""CamVid's 11 classes in mask-value order, with their indicator groups (value 11 is unlabelled)."""
CAMVID_UNLABELLED = 11

CITYSCAPES_TRAIN_IDS: dict[int, int] = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
    24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}
"""Cityscapes label id -> train id (cityscapesScripts ``labels.py``); ids 0-33 not listed are ignored."""
CITYSCAPES_MAX_LABEL_ID = 33


@dataclass(frozen=True)
class Blob:
    """A file's bytes: a plain file, or a member of a zip."""

    path: Path
    member: str | None = None

    def read(self, limit: int = MAX_MEMBER_BYTES) -> bytes:
        """The bytes, at most ``limit`` of them; an image's header is checked
        (:func:`~analytics.evaluation.imagesize.check_image_size`) before it is returned."""
        if self.member is not None:
            data = read_member(self.path, self.member, limit)
        else:
            size = self.path.stat().st_size
            if size > limit:
                raise DataFormatError(f"{quote_value(self.path.name)} is {size:,} bytes; at most {limit:,} are read")
            data = self.path.read_bytes()
        if PurePosixPath(self.name).suffix.lower() in IMAGE_SUFFIXES:
            check_image_size(data, self.name)
        return data

    @property
    def name(self) -> str:
        return self.member if self.member is not None else self.path.name


@dataclass(frozen=True)
class Sample:
    """One annotated image: its name (the pairing key), the image and the mask."""

    name: str
    image: Blob
    mask: Blob


@dataclass(frozen=True)
class GroundTruth:
    """Annotated images of one format with their classes.

    ``groups`` holds the indicator group of each class, or None where the format does not say
    (CVAT); ``decode`` turns mask bytes into class ids (255 unlabelled) or raises
    :class:`DataFormatError` naming the file.
    """

    format: str
    class_names: tuple[str, ...]
    groups: tuple[str, ...] | None
    samples: tuple[Sample, ...]
    decode: Callable[[bytes, str], np.ndarray]

    def decode_mask(self, data: bytes, name: str) -> np.ndarray:
        return self.decode(data, name)


# -- pairing ------------------------------------------------------------------------------------
def _examples(names: Iterable[str]) -> str:
    names = sorted(names)
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return ", ".join(shown_name(n) for n in names[:3]) + more


def _pair(images: dict[str, Blob], masks: dict[str, Blob], where: str) -> tuple[Sample, ...]:
    """Samples for keys present on both sides; an error naming the unpaired files otherwise."""
    if not images and not masks:
        raise InputError(f"{where}: no images and no masks found")
    if not masks:
        raise InputError(f"{where}: no masks found")
    if not images:
        raise InputError(f"{where}: no images found")
    lonely = set(images) - set(masks)
    if lonely:
        raise InputError(f"{len(lonely)} image(s) have no mask: {_examples(images[k].name for k in lonely)}")
    orphans = set(masks) - set(images)
    if orphans:
        raise InputError(f"{len(orphans)} mask(s) have no image: {_examples(masks[k].name for k in orphans)}")
    return tuple(Sample(k, images[k], masks[k]) for k in sorted(images))


def _folder(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise InputError(f"{what} {str(path)!r} is not a folder")
    return path


def _files(folder: Path, suffixes: Sequence[str], recursive: bool = False) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."))


def _keyed(paths: Iterable[Path], key: Callable[[Path], str | None], what: str) -> dict[str, Blob]:
    out: dict[str, Blob] = {}
    for p in paths:
        k = key(p)
        if k is None:
            continue
        if k in out:
            raise InputError(f"two {what} have the name {quote_value(k)}: {quote_value(out[k].path.name)} and "
                             f"{quote_value(p.name)}; expected one each")
        out[k] = Blob(p)
    return out


# -- mask decoding ------------------------------------------------------------------------------
def _decode_index(data: bytes, name: str, fmt: str) -> np.ndarray:
    mask = decode_image(data, name, cv2.IMREAD_UNCHANGED)
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise DataFormatError(f"mask {shown_name(name)} is {mask.dtype} with shape {mask.shape}; {fmt} masks are "
                              "single-channel 8-bit class values")
    return mask


def _lookup(mask: np.ndarray, table: np.ndarray, name: str, accepted: str) -> np.ndarray:
    """``table[mask]``; table entries of -1 are values the format does not know: an error."""
    out = table[mask]
    if (out < 0).any():
        bad = np.unique(mask[out < 0])
        raise DataFormatError(f"mask {shown_name(name)} holds unknown class value(s) {bad[:8].tolist()}; accepted: {accepted}")
    return out.astype(np.uint8)


def _camvid_table() -> np.ndarray:
    table = np.full(256, -1, np.int16)
    table[: len(CAMVID_CLASSES)] = np.arange(len(CAMVID_CLASSES))
    table[CAMVID_UNLABELLED] = IGNORE
    return table


_CAMVID_TABLE = _camvid_table()


def decode_camvid(data: bytes, name: str) -> np.ndarray:
    """CamVid index mask bytes -> class ids, 11 (unlabelled) -> 255.

    >>> ok, png = cv2.imencode(".png", np.array([[0, 10, 11]], np.uint8))
    >>> decode_camvid(png.tobytes(), "m.png").tolist()
    [[0, 10, 255]]
    """
    return _lookup(_decode_index(data, name, "camvid"), _CAMVID_TABLE, name, "0-10 and 11 (unlabelled)")


def _cityscapes_table() -> np.ndarray:
    table = np.full(256, -1, np.int16)
    table[: CITYSCAPES_MAX_LABEL_ID + 1] = IGNORE
    for label_id, train_id in CITYSCAPES_TRAIN_IDS.items():
        table[label_id] = train_id
    return table


_CITYSCAPES_TABLE = _cityscapes_table()


def decode_cityscapes(data: bytes, name: str) -> np.ndarray:
    """Cityscapes ``*_labelIds.png`` bytes -> train ids, ids without one -> 255.

    >>> ok, png = cv2.imencode(".png", np.array([[7, 26, 0, 33]], np.uint8))
    >>> decode_cityscapes(png.tobytes(), "m.png").tolist()
    [[0, 13, 255, 18]]
    """
    return _lookup(_decode_index(data, name, "cityscapes"), _CITYSCAPES_TABLE, name, f"label ids 0-{CITYSCAPES_MAX_LABEL_ID}")


# -- CamVid and Cityscapes ----------------------------------------------------------------------
def read_camvid(images: Path, masks: Path) -> GroundTruth:
    """Images in ``images`` and index masks (``.png``) of the same file name in ``masks``."""
    img = _keyed(_files(_folder(images, "--images"), IMAGE_SUFFIXES), lambda p: p.stem, "images")
    msk = _keyed(_files(_folder(masks, "--masks"), (".png",)), lambda p: p.stem, "masks")
    samples = _pair(img, msk, f"{images} and {masks}")
    return GroundTruth(
        "camvid", tuple(c for c, _ in CAMVID_CLASSES), tuple(g for _, g in CAMVID_CLASSES), samples, decode_camvid
    )


def _strip(suffix: str) -> Callable[[Path], str | None]:
    def key(p: Path) -> str | None:
        stem = p.name[: -len(p.suffix)] if p.suffix else p.name
        return stem[: -len(suffix)] if stem.endswith(suffix) else None

    return key


def read_cityscapes(images: Path, masks: Path) -> GroundTruth:
    """``*_leftImg8bit.png`` under ``images`` and ``*_gtFine_labelIds.png`` under ``masks`` (any depth)."""
    img = _keyed(_files(_folder(images, "--images"), IMAGE_SUFFIXES, recursive=True), _strip("_leftImg8bit"), "images")
    msk = _keyed(_files(_folder(masks, "--masks"), (".png",), recursive=True), _strip("_gtFine_labelIds"), "masks")
    samples = _pair(img, msk, f"{images} and {masks} (Cityscapes names *_leftImg8bit.png, *_gtFine_labelIds.png)")
    names = tuple(c for c, g in CITYSCAPES_CLASSES if c != "background")
    groups = tuple(g for c, g in CITYSCAPES_CLASSES if c != "background")
    return GroundTruth("cityscapes", names, groups, samples, decode_cityscapes)


# -- CVAT ---------------------------------------------------------------------------------------
def _safe_members(path: Path) -> list[str]:
    """File names inside a zip, every limit of :func:`~analytics.evaluation.archives.zip_members` checked."""
    return [i.filename for i in zip_members(path) if not i.is_dir()]


def _folder_files(path: Path) -> dict[str, Blob]:
    """The files under ``path`` by relative POSIX path, at most :data:`MAX_MEMBERS` of them."""
    files: dict[str, Blob] = {}
    for p in path.rglob("*"):
        if p.is_file():
            if len(files) >= MAX_MEMBERS:
                raise DataFormatError(f"{quote_value(path.name)} holds more than {MAX_MEMBERS:,} files; at most that many are read")
            files[p.relative_to(path).as_posix()] = Blob(p)
    return files


class _Tree:
    """The files of a CVAT export (folder or zip) by relative POSIX path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_dir():
            self.files = _folder_files(path)
        elif path.is_file():
            self.files = {m: Blob(path, m) for m in _safe_members(path)}
        else:
            raise InputError(f"--masks {str(path)!r} does not exist; expected a CVAT export (zip or folder)")
        roots = sorted(k[: -len("labelmap.txt")] for k in self.files if k == "labelmap.txt" or k.endswith("/labelmap.txt"))
        if not roots:
            raise DataFormatError(f"{shown_name(path.name)} has no labelmap.txt; expected a CVAT 'Segmentation mask 1.1' export")
        self.root = min(roots, key=len)

    def get(self, rel: str) -> Blob | None:
        return self.files.get(self.root + rel)

    def under(self, folder: str) -> dict[str, Blob]:
        prefix = self.root + folder + "/"
        return {k[len(prefix):]: b for k, b in self.files.items() if k.startswith(prefix)}


def _label_line(number: int, raw: str) -> tuple[str, tuple[int, int, int]]:
    """One ``name:r,g,b:parts:actions`` line."""
    fields = raw.strip().rsplit(":", 3)
    parts = fields[1].split(",") if len(fields) == 4 else []
    rgb = tuple(int(v) for v in parts if v.strip().isdigit() and len(v.strip()) <= 3)
    if len(fields) != 4 or not fields[0] or len(rgb) != 3 or len(parts) != 3 or not all(0 <= v <= 255 for v in rgb):
        raise DataFormatError(f"labelmap.txt line {number} {quote_value(raw)}: expected 'name:r,g,b::' with r, g, b in 0..255")
    if len(fields[0]) > MAX_LABEL_CHARS or not fields[0].isprintable():
        raise DataFormatError(f"labelmap.txt line {number}: label {quote_value(fields[0])}; expected at most "
                              f"{MAX_LABEL_CHARS} printable characters")
    return fields[0], (rgb[0], rgb[1], rgb[2])


def parse_labelmap(text: str) -> list[tuple[str, tuple[int, int, int]]]:
    """``labelmap.txt`` lines ``name:r,g,b:parts:actions`` as ``[(name, (r, g, b)), ...]``: at most
    :data:`MAX_CLASSES` labels besides ``background``, names and colours unique.

    >>> parse_labelmap("# label:color_rgb:parts:actions\\nbackground:0,0,0::\\ncar:250,50,83::\\n")
    [('background', (0, 0, 0)), ('car', (250, 50, 83))]
    """
    labels: list[tuple[str, tuple[int, int, int]]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        labels.append(_label_line(number, raw))
        if len(labels) > MAX_CLASSES + 1:
            raise DataFormatError(f"labelmap.txt lists more than {MAX_CLASSES} labels besides {CVAT_BACKGROUND!r}; "
                                  f"class ids 0..{MAX_CLASSES - 1} fit an 8-bit mask")
    if not labels:
        raise DataFormatError("labelmap.txt lists no labels")
    names = [n for n, _ in labels]
    colours = [c for _, c in labels]
    if len(set(names)) != len(names) or len(set(colours)) != len(colours):
        raise DataFormatError("labelmap.txt repeats a label name or a colour; expected one colour per label")
    if len([n for n in names if n.lower() != CVAT_BACKGROUND]) > MAX_CLASSES:
        raise DataFormatError(f"labelmap.txt lists more than {MAX_CLASSES} labels besides {CVAT_BACKGROUND!r}; "
                              f"class ids 0..{MAX_CLASSES - 1} fit an 8-bit mask")
    return labels


CVAT_BACKGROUND = "background"


def _colour_decoder(labels: list[tuple[str, tuple[int, int, int]]]) -> tuple[tuple[str, ...], Callable[[bytes, str], np.ndarray]]:
    """Class names (background left out) and a decoder of colour masks into their ids."""
    names = tuple(n for n, _ in labels if n.lower() != CVAT_BACKGROUND)
    ids = {n: i for i, n in enumerate(names)}
    by_colour = {(r << 16) | (g << 8) | b: (IGNORE if n.lower() == CVAT_BACKGROUND else ids[n]) for n, (r, g, b) in labels}
    accepted = ", ".join(f"{quote_value(n, 40)} {c}" for n, c in labels[:6]) + (" ..." if len(labels) > 6 else "")

    def decode(data: bytes, name: str) -> np.ndarray:
        img = decode_image(data, name, cv2.IMREAD_COLOR)
        packed = (img[:, :, 2].astype(np.uint32) << 16) | (img[:, :, 1].astype(np.uint32) << 8) | img[:, :, 0]
        colours, inverse = np.unique(packed, return_inverse=True)
        unknown = [int(c) for c in colours if int(c) not in by_colour]
        if unknown:
            shown = ", ".join(f"({c >> 16},{(c >> 8) & 255},{c & 255})" for c in unknown[:4])
            raise DataFormatError(f"mask {shown_name(name)} holds colour(s) {shown} that labelmap.txt does not list; listed: {accepted}")
        ids = np.array([by_colour[int(c)] for c in colours], np.uint8)
        return ids[inverse.reshape(packed.shape)]

    return names, decode


def _cvat_names(tree: _Tree) -> list[str]:
    """Image names from ``ImageSets/Segmentation/*.txt``; else the masks present."""
    lists = {k: b for k, b in tree.under("ImageSets/Segmentation").items() if k.endswith(".txt") and "/" not in k}
    if lists:
        names = [line.strip() for b in lists.values() for line in b.read(MAX_TEXT_BYTES).decode("utf-8", "replace").splitlines()]
        return sorted({n for n in names if n})
    return sorted(k[:-4] for k in tree.under("SegmentationClass") if k.lower().endswith(".png"))


def _image_index(paths: Iterable[tuple[str, Blob]]) -> dict[str, Blob]:
    """Images by relative name without extension."""
    out: dict[str, Blob] = {}
    for rel, blob in paths:
        suffix = PurePosixPath(rel).suffix
        if suffix.lower() in IMAGE_SUFFIXES:
            out.setdefault(rel[: -len(suffix)], blob)
    return out


def read_cvat_mask(export: Path, images: Path | None = None) -> GroundTruth:
    """A CVAT "Segmentation mask 1.1" export (zip or folder); images from its ``JPEGImages/`` or ``images``."""
    tree = _Tree(export)
    label_blob = tree.get("labelmap.txt")
    if label_blob is None:  # _Tree found it; only a race with a deleted file gets here
        raise DataFormatError(f"{shown_name(export.name)} has no labelmap.txt")
    names, decode = _colour_decoder(parse_labelmap(label_blob.read(MAX_TEXT_BYTES).decode("utf-8", "replace")))
    listed = _cvat_names(tree)
    if not listed:
        raise InputError(f"{shown_name(export.name)} lists no images (ImageSets/Segmentation/*.txt and SegmentationClass/ are empty)")
    mask_files = tree.under("SegmentationClass")
    missing = [n for n in listed if n + ".png" not in mask_files]
    if missing:
        raise InputError(f"{len(missing)} image(s) listed in ImageSets have no mask in SegmentationClass/: {_examples(missing)}")
    masks = {n: mask_files[n + ".png"] for n in listed}
    if images is not None:
        folder = _folder(images, "--images")
        img = _image_index((p.relative_to(folder).as_posix(), Blob(p)) for p in _files(folder, IMAGE_SUFFIXES, recursive=True))
    else:
        img = _image_index(tree.under("JPEGImages").items())
        if not img:
            raise InputError(f"{shown_name(export.name)} holds no images (JPEGImages/); export with images or give --images DIR")
    samples = _pair(img, masks, str(export))
    return GroundTruth("cvat-mask", names, None, samples, decode)


def read_ground_truth(fmt: str, masks: Path, images: Path | None = None) -> GroundTruth:
    """Read annotated images of format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown ground-truth format {quote_value(fmt)}; accepted: {', '.join(FORMATS)}")
    if fmt == "cvat-mask":
        return read_cvat_mask(Path(masks), Path(images) if images is not None else None)
    if images is None:
        raise InputError(f"format {quote_value(fmt)} needs --images DIR as well as --masks DIR")
    reader = read_camvid if fmt == "camvid" else read_cityscapes
    return reader(Path(images), Path(masks))

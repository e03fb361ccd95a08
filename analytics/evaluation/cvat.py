"""Write CVAT "Segmentation mask 1.1" packages: frames plus label masks that CVAT imports as annotations.

Layout (the one :func:`analytics.evaluation.readers.read_cvat_mask` reads)::

    labelmap.txt                        # "# label:color_rgb:parts:actions", then name:r,g,b:: per label
    SegmentationClass/<name>.png        # colour masks (RGB), one colour per label, background black
    ImageSets/Segmentation/default.txt  # the frame names, one a line, no extension
    JPEGImages/<name>.png               # the frames (PNG: lossless, so a round trip reads back the same pixels)
    README.md                           # how to open it in CVAT (when given)

Class id :data:`~analytics.evaluation.metrics.IGNORE` (255) in a label array is written as the
``background`` label (what CVAT shows as not annotated). The package is written as a zip (a
path ending ``.zip``) or a folder.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from analytics.errors import InputError, quote_value
from analytics.evaluation.metrics import IGNORE
from analytics.evaluation.readers import CVAT_BACKGROUND, MAX_CLASSES

__all__ = ["MAX_COLOURS", "PackageFrame", "distinct_colours", "labelmap_text", "write_cvat_package"]


@dataclass(frozen=True)
class PackageFrame:
    """One frame of a package: its name (no extension), BGR image and class ids (255: background)."""

    name: str
    image: np.ndarray
    labels: np.ndarray


_COLOUR_TRIES = 4096
MAX_COLOURS = 512
"""Most colours :func:`distinct_colours` gives (a package holds at most MAX_CLASSES classes)."""


def distinct_colours(n: int) -> list[tuple[int, int, int]]:
    """``n`` distinct, non-black RGB colours (golden-ratio hues, alternating brightness), ``n`` at most
    :data:`MAX_COLOURS`; a fixed number of tries, so it always ends.

    >>> cs = distinct_colours(30); len(set(cs)), (0, 0, 0) in cs
    (30, False)
    >>> len(distinct_colours(MAX_COLOURS))
    512
    """
    if n > MAX_COLOURS:
        raise InputError(f"{n} colours asked for; at most {MAX_COLOURS} distinct ones are chosen")
    out: dict[tuple[int, int, int], None] = {}
    for i in range(_COLOUR_TRIES):
        if len(out) >= n:
            break
        hue = int((i * 0.61803398875 % 1.0) * 180)
        value = 255 if (i // 7) % 2 == 0 else 170
        hsv = np.array([[[hue, 200 - (i // 14) % 3 * 40, value]]], np.uint8)
        b, g, r = (int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])
        if (r, g, b) != (0, 0, 0):
            out[(r, g, b)] = None
    if len(out) < n:  # pragma: no cover - the tries give more than MAX_COLOURS distinct colours
        raise InputError(f"only {len(out)} distinct colours found for {n} classes")
    return list(out)[:n]


def labelmap_text(class_names: Sequence[str], colours: Sequence[tuple[int, int, int]]) -> str:
    """``labelmap.txt`` with ``background`` first (black), then each class and its colour.

    >>> print(labelmap_text(["Road"], [(128, 64, 128)]), end="")
    # label:color_rgb:parts:actions
    background:0,0,0::
    Road:128,64,128::
    """
    lines = ["# label:color_rgb:parts:actions", f"{CVAT_BACKGROUND}:0,0,0::"]
    lines += [f"{n}:{r},{g},{b}::" for n, (r, g, b) in zip(class_names, colours, strict=True)]
    return "\n".join(lines) + "\n"


def _check(frames: Sequence[PackageFrame], class_names: Sequence[str], colours: Sequence[tuple[int, int, int]]) -> None:
    if not frames:
        raise InputError("no frames to package; expected at least one")
    names = [f.name for f in frames]
    if len(set(names)) != len(names):
        raise InputError("two frames have the same name; expected unique names")
    bad = [n for n in names if not n or "/" in n or "\\" in n or n.startswith(".") or not n.isprintable() or len(n) > 200]
    if bad:
        raise InputError(f"frame name {quote_value(bad[0])} is not a plain file name (at most 200 printable characters, "
                         "no '/', '\\' or leading '.')")
    if len(class_names) > MAX_CLASSES:
        raise InputError(f"{len(class_names)} classes; a package holds at most {MAX_CLASSES} (class ids 0..{MAX_CLASSES - 1} "
                         "fit an 8-bit mask)")
    lower = [c.lower() for c in class_names]
    if CVAT_BACKGROUND in lower or len(set(lower)) != len(lower) or any(":" in c for c in class_names):
        raise InputError(f"class names {', '.join(quote_value(c, 40) for c in list(class_names)[:6])} must be unique, "
                         f"without ':' and not {CVAT_BACKGROUND!r}")
    if len(colours) != len(class_names) or len(set(colours)) != len(colours) or (0, 0, 0) in colours:
        raise InputError("expected one distinct, non-black colour per class")
    for f in frames:
        if f.labels.shape != f.image.shape[:2]:
            raise InputError(f"frame {f.name}: labels {f.labels.shape} and image {f.image.shape[:2]} differ in size")
        ids = np.unique(f.labels)
        wrong = ids[(ids != IGNORE) & (ids >= len(class_names))]
        if wrong.size:
            raise InputError(f"frame {f.name}: class id(s) {wrong[:5].tolist()}; expected 0..{len(class_names) - 1} or 255")


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image as PNG
        raise InputError("could not encode a PNG")
    return buf.tobytes()


def _colour_mask(labels: np.ndarray, colours: Sequence[tuple[int, int, int]]) -> np.ndarray:
    table = np.zeros((256, 3), np.uint8)
    for i, (r, g, b) in enumerate(colours):
        table[i] = (b, g, r)
    return table[labels]


def package_files(frames: Sequence[PackageFrame], class_names: Sequence[str], colours: Sequence[tuple[int, int, int]],
                  readme: str | None = None) -> dict[str, bytes]:
    """The package's files by relative path."""
    _check(frames, class_names, colours)
    files = {"labelmap.txt": labelmap_text(class_names, colours).encode()}
    files["ImageSets/Segmentation/default.txt"] = ("\n".join(f.name for f in frames) + "\n").encode()
    for f in frames:
        files[f"JPEGImages/{f.name}.png"] = _png(f.image)
        files[f"SegmentationClass/{f.name}.png"] = _png(_colour_mask(f.labels, colours))
    if readme is not None:
        files["README.md"] = readme.encode()
    return files


def write_cvat_package(out: Path, frames: Sequence[PackageFrame], class_names: Sequence[str],
                       colours: Sequence[tuple[int, int, int]], readme: str | None = None) -> Path:
    """Write the package to ``out`` (a ``.zip`` file, else a folder that must not exist yet); returns ``out``."""
    files = package_files(frames, class_names, colours, readme)
    out = Path(out)
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for rel, data in sorted(files.items()):
                zf.writestr(rel, data)
        out.write_bytes(buf.getvalue())
        return out
    if out.exists():
        raise InputError(f"{str(out)!r} already exists; give a new folder or a .zip path")
    for rel, data in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return out

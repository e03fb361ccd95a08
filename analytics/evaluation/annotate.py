"""``annotate select``: score candidate frames with a model, choose the ones worth annotating, package them for CVAT.

The model runs once over every candidate frame (its softmax gives the frame's uncertainty, its
labels the frame's descriptor; :mod:`analytics.evaluation.select`), the strategy chooses, and the
chosen frames are run again to write the package (:mod:`analytics.evaluation.cvat`) with the
model's labels as pre-annotations, in the model's own classes (its void class, e.g. Cityscapes'
``background``, is CVAT's ``background``). People and vehicle plates are pixelated
(:func:`analytics.footage.privacy.anonymise`) unless ``allow_people``.

Candidates come from a folder of images (:func:`image_candidates`) or from a camera's stored clips
(:func:`camera_candidates`): the frames each clip's active run sampled, decoded again from the file
recorded at ingest, at that run's sampling. A clip whose file was not recorded (an upload), is gone
or no longer holds the same bytes (SHA-256) is left out with one line saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from analytics.checksums import sha256_file
from analytics.errors import DataFormatError, InputError
from analytics.evaluation.adapt import sequence_key
from analytics.evaluation.cvat import PackageFrame, distinct_colours, write_cvat_package
from analytics.evaluation.metrics import IGNORE
from analytics.evaluation.readers import IMAGE_SUFFIXES
from analytics.evaluation.select import STRATEGIES, descriptor, mean_entropy, random_picks, select_frames
from analytics.footage.privacy import anonymise
from analytics.footage.segment import frame_geometry, labels_to_frame, preprocess, session_options
from analytics.footage.video import SampledFrame, open_video
from analytics.models.zoo import InstalledModel
from analytics.store import Store, catalog
from analytics.taxonomy import GROUP_COLORS

__all__ = ["CameraFrames", "Candidate", "Choice", "camera_candidates", "image_candidates", "select_and_package"]

Progress = Callable[[str, int, int], None]
ENTROPY_STRIDE = 4


@dataclass(frozen=True)
class Candidate:
    """A frame that may be chosen: its name, (sequence, position) and how to read it (BGR)."""

    name: str
    key: tuple[str, int]
    load: Callable[[], np.ndarray]


@dataclass(frozen=True)
class Choice:
    """A chosen frame with its uncertainty (0-1) and rank in the order chosen."""

    name: str
    uncertainty: float
    rank: int


def _read(path: Path) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        data = np.fromfile(str(path), np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if image is None:
            raise DataFormatError(f"{path.name} is not an image OpenCV can read")
        return image

    return load


def image_candidates(folder: Path) -> list[Candidate]:
    """The images of ``folder`` (not recursive), named by file stem, keyed ``<sequence>_<frame>``."""
    if not folder.is_dir():
        raise InputError(f"--images {str(folder)!r} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise InputError(f"--images {str(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return [Candidate(p.stem, sequence_key(p.stem), _read(p)) for p in paths]


class _ClipFrames:
    """The sampled frames of one clip file, decoded in order; asking for a frame before the last one
    decoded opens the file again. The file is closed once its last wanted frame is out."""

    def __init__(self, path: Path, sampling: str, wanted: Sequence[int]) -> None:
        self.path, self.sampling, self.last_wanted = path, sampling, int(max(wanted))
        self._frames: Generator[SampledFrame, None, None] | None = None
        self._at = -1

    def _decode(self) -> Generator[SampledFrame, None, None]:
        with open_video(self.path, self.sampling) as reader:
            yield from reader

    def load(self, index: int) -> np.ndarray:
        """Frame ``index`` (position in the clip) as BGR; DataFormatError when the file no longer yields it."""
        if self._frames is None or index <= self._at:
            self._close()
            self._frames = self._decode()
        for frame in self._frames:
            self._at = frame.index
            if frame.index == index:
                if index >= self.last_wanted:
                    self._close()
                return frame.image
            if frame.index > index:
                break
        self._close()
        raise DataFormatError(f"{self.path}: frame {index} is not among the frames sampled at {self.sampling} when read again")

    def _close(self) -> None:
        if self._frames is not None:
            self._frames.close()
        self._frames, self._at = None, -1


@dataclass(frozen=True)
class CameraFrames:
    """A camera's candidate frames, how many of its clips gave them, and one line per clip left out."""

    candidates: list[Candidate]
    clips: int
    missing: list[str]


def _unreadable(row: pd.Series) -> str | None:
    """Why a stored clip's frames cannot be read again from its recorded file (None: they can)."""
    name, sha, path = str(row["label"] or row["clip_sha256"][:12]), str(row["clip_sha256"]), row["source_path"]
    n = len(row["frame_index"])
    if not isinstance(path, str) or not path:
        return f"{name} ({sha[:12]}): no source file recorded (an uploaded clip, or stored before paths were); its {n} frames left out"
    if not Path(path).is_file():
        return f"{name} ({sha[:12]}): {path} is gone; its {n} frames left out"
    if sha256_file(path) != sha:
        return f"{name} ({sha[:12]}): {path} no longer holds the clip stored (its SHA-256 differs); its {n} frames left out"
    return None


def camera_candidates(store: Store, camera_id: str) -> CameraFrames:
    """The frames the active runs of ``camera_id``'s clips sampled, read again from the files recorded
    at ingest, named ``<clip sha256[:12]>_f<frame index>`` (keyed by clip and sample order, so two
    neighbouring samples of a clip are neighbours); clips whose file cannot be read are left out with
    a line each in ``missing``. InputError for an unknown camera."""
    store.camera(camera_id)  # an unknown camera fails here, naming the known ones
    candidates: list[Candidate] = []
    missing: list[str] = []
    clips = catalog.clip_sources(store, camera_id)
    for _, row in clips.iterrows():
        why = _unreadable(row)
        if why is not None:
            missing.append(why)
            continue
        indices = [int(i) for i in row["frame_index"]]
        frames = _ClipFrames(Path(row["source_path"]), str(row["sampling"]), indices)
        seq = str(row["clip_sha256"])[:12]
        candidates += [Candidate(f"{seq}_f{i:06d}", (seq, k), _frame_loader(frames, i)) for k, i in enumerate(indices)]
    return CameraFrames(candidates, len(clips) - len(missing), missing)


def _frame_loader(frames: _ClipFrames, index: int) -> Callable[[], np.ndarray]:
    return lambda: frames.load(index)


class _Runner:
    """The model's softmax and labels on one frame (labels mapped back onto the frame's pixels)."""

    def __init__(self, model: InstalledModel, threads: int | None) -> None:
        import onnxruntime as ort  # deferred: only running the model needs ONNX Runtime

        self.card = model.card
        self.session = ort.InferenceSession(str(model.onnx_path), session_options(threads), providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def run(self, image: np.ndarray) -> tuple[float, np.ndarray]:
        """``(mean normalised entropy over the frame's pixels, labels at the frame's size)``."""
        c = self.card
        geo = frame_geometry(image.shape[0], image.shape[1], c.input_height, c.input_width, c.resize)
        (z,) = self.session.run(None, {self.input: preprocess(image, c, geometry=geo)[None]})[:1]
        y0, y1, x0, x1 = geo.content
        zc = z[0, :, y0:y1:ENTROPY_STRIDE, x0:x1:ENTROPY_STRIDE].astype(np.float64)
        zc -= zc.max(axis=0, keepdims=True)
        p = np.exp(zc)
        p /= p.sum(axis=0, keepdims=True)
        labels = np.full(z.shape[2:], IGNORE, np.uint8)
        labels[y0:y1, x0:x1] = z[0, :, y0:y1, x0:x1].argmax(axis=0)
        return mean_entropy(p), labels_to_frame(labels, geo, IGNORE)


def _package_labels(labels: np.ndarray, model: InstalledModel) -> tuple[np.ndarray, list[str]]:
    """Model labels as package class ids: void classes become background (255)."""
    cs = model.card.class_set
    keep = [i for i, g in enumerate(cs.groups) if g != "void"]
    lut = np.full(256, IGNORE, np.uint8)
    for new, old in enumerate(keep):
        lut[old] = new
    return lut[labels], [cs.class_names[i] for i in keep]


def _colours(model: InstalledModel, names: Sequence[str]) -> list[tuple[int, int, int]]:
    """A colour per class: its group's colour for the first class of each group, distinct ones after."""
    cs = model.card.class_set
    spare = iter(c for c in distinct_colours(len(names) + len(GROUP_COLORS) + 8) if c not in GROUP_COLORS.values())
    used: set[tuple[int, int, int]] = set()
    out = []
    for n in names:
        c = GROUP_COLORS.get(cs.groups[cs.class_names.index(n)], (0, 0, 0))
        if c in used or c == (0, 0, 0):
            c = next(spare)
        used.add(c)
        out.append(c)
    return out


README = """# UrbanLens annotation task

{n} frames chosen by `urbanlens annotate select` (strategy `{strategy}`, model `{model}`), with the
model's labels as pre-annotations: correct them instead of drawing from scratch.

## Open it in CVAT
1. Create a task; add the labels from `labelmap.txt` (or use the raw label editor).
2. Upload the images of `JPEGImages/` as the task's data.
3. Open the task: Actions -> Upload annotations -> format "Segmentation mask 1.1" -> this zip.
4. Correct the masks; then Actions -> Export task dataset -> "Segmentation mask 1.1" (with images).
5. Bring it back: `urbanlens annotate import EXPORT.zip --camera ID`.

## Privacy
{privacy}

## Frames (in the order chosen; uncertainty 0-1, higher: the model is less sure)
{rows}
"""


def _score(runner: _Runner, candidates: Sequence[Candidate], nc: int, progress: Progress | None) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's uncertainty (mean entropy) and descriptor, by running the model on every one."""
    unc, desc = [], []
    for i, cand in enumerate(candidates):
        image = cand.load()
        u, labels = runner.run(image)
        unc.append(u)
        desc.append(descriptor(labels, image, nc))
        if progress is not None:
            progress("scoring", i + 1, len(candidates))
    return np.array(unc), np.stack(desc)


def select_and_package(
    model: InstalledModel, candidates: Sequence[Candidate], n: int, out: Path, *, strategy: str = STRATEGIES[0], seed: int = 0,
    allow_people: bool = False, threads: int | None = None, progress: Progress | None = None,
) -> list[Choice]:
    """Choose ``n`` of ``candidates`` by ``strategy`` and write the CVAT package to ``out``."""
    if strategy not in STRATEGIES:
        raise InputError(f"--strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if not candidates:
        raise InputError("no candidate frames")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"--n {n!r}; expected a whole number of frames, at least 1")
    runner = _Runner(model, threads)
    if strategy == "random":  # chosen blind: the model runs on the chosen frames only, while packaging them
        picks = random_picks(n, len(candidates), seed)
        unc: dict[int, float] = {}
    else:
        scores, desc = _score(runner, candidates, model.card.num_classes, progress)
        picks = select_frames(strategy, n, scores, desc, [c.key for c in candidates], seed=seed)
        unc = dict(enumerate(scores.tolist()))
    images = {i: candidates[i].load() for i in sorted(picks)}  # in candidate order: each clip is decoded once
    frames, choices = [], []
    names: list[str] = []
    for rank, i in enumerate(picks):
        image = images.pop(i)
        u, labels = runner.run(image)
        unc.setdefault(i, u)
        if progress is not None:
            progress("packaging", rank + 1, len(picks))
        shown = image if allow_people else anonymise(image, labels, model.card.class_set)
        ids, names = _package_labels(labels, model)
        frames.append(PackageFrame(candidates[i].name, shown, ids))
        choices.append(Choice(candidates[i].name, float(unc[i]), rank + 1))
    privacy = ("People were NOT blurred (`--allow-people`): handle these frames as personal data." if allow_people else
               "People and vehicle plates are pixelated where the model found them (a person it missed is not); "
               "`--allow-people` keeps them.")
    rows = "\n".join(f"- {c.rank}. {c.name}: {c.uncertainty:.3f}" for c in choices)
    readme = README.format(n=len(choices), strategy=strategy, model=model.card.name, privacy=privacy, rows=rows)
    write_cvat_package(out, frames, names, _colours(model, names), readme)
    return choices

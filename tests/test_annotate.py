"""Choosing frames to annotate, the CVAT package and its round trip through `annotate import`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.errors import InputError
from analytics.evaluation.annotations import import_annotations, load_annotations
from analytics.evaluation.cvat import PackageFrame, distinct_colours, write_cvat_package
from analytics.evaluation.readers import read_cvat_mask
from analytics.evaluation.select import STRATEGIES, select_frames
from analytics.settings import load_settings


def _pool(m: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int]]]:
    rng = np.random.default_rng(seed)
    return rng.random(m), rng.random((m, 5)), [("a" if i < m // 2 else "b", i) for i in range(m)]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_selection_is_deterministic_distinct_and_respects_n(strategy: str) -> None:
    u, d, keys = _pool()
    first = select_frames(strategy, 7, u, d, keys, seed=3)
    assert first == select_frames(strategy, 7, u, d, keys, seed=3)
    assert len(first) == 7 and len(set(first)) == 7
    assert len(select_frames(strategy, 100, u, d, keys)) == 30  # never more than the pool


@pytest.mark.parametrize("strategy", ["uncertainty", "diverse"])
def test_no_two_neighbouring_frames(strategy: str) -> None:
    u, d, keys = _pool()
    u[10], u[11] = 10.0, 9.0  # the two most uncertain frames are neighbours: only one is taken
    picks = select_frames(strategy, 8, u, d, keys)
    assert 10 in picks and 11 not in picks
    assert all(abs(a - b) > 1 for a in picks for b in picks if a != b and keys[a][0] == keys[b][0])


def test_uncertainty_takes_the_least_sure_first() -> None:
    u, d, keys = _pool()
    assert select_frames("uncertainty", 1, u, d, keys) == [int(np.argmax(u))]


@pytest.mark.parametrize(
    ("strategy", "n", "match"),
    [
        ("best", 3, "strategy 'best'"),  # unknown strategy
        ("random", 0, "n=0"),  # nothing to choose
        ("random", True, "n=True"),  # a bool is not a count
    ],
)
def test_selection_bad_input(strategy: str, n: int, match: str) -> None:
    u, d, keys = _pool()
    with pytest.raises(InputError, match=match):
        select_frames(strategy, n, u, d, keys)


def _frames() -> list[PackageFrame]:
    rng = np.random.default_rng(1)
    out = []
    for i in range(3):
        labels = rng.integers(0, 3, (12, 16)).astype(np.uint8)
        labels[0, :4] = 255  # not annotated: CVAT's background
        out.append(PackageFrame(f"seq_{i:03d}", rng.integers(0, 256, (12, 16, 3)).astype(np.uint8), labels))
    return out


def test_package_round_trip_reads_back_unchanged(tmp_path: Path) -> None:
    frames = _frames()
    out = write_cvat_package(tmp_path / "task.zip", frames, ["Road", "Tree", "Car"], distinct_colours(3), "readme")
    names = set(zipfile.ZipFile(out).namelist())
    assert {"labelmap.txt", "ImageSets/Segmentation/default.txt", "README.md", "SegmentationClass/seq_000.png"} <= names
    gt = read_cvat_mask(out)
    assert gt.class_names == ("Road", "Tree", "Car")
    for f, s in zip(frames, gt.samples, strict=True):
        assert s.name == f.name
        assert np.array_equal(gt.decode_mask(s.mask.read(), s.mask.name), f.labels)
    settings = load_settings()
    first = import_annotations(out, "cvat-mask", None, settings)
    again = import_annotations(out, "cvat-mask", None, settings)
    assert first.new and not again.new and first.id == again.id
    stored = load_annotations(first.id, settings).ground_truth
    for f, s in zip(frames, stored.samples, strict=True):
        assert np.array_equal(stored.decode_mask(s.mask.read(), s.mask.name), f.labels)


@pytest.mark.parametrize(
    ("labels_class", "names", "match"),
    [
        (5, ["Road", "Tree", "Car"], r"class id\(s\) \[5\]"),  # a label the class list lacks
        (0, ["Road", "background", "Car"], "must be unique"),  # background is CVAT's own
    ],
)
def test_package_bad_input(tmp_path: Path, labels_class: int, names: list[str], match: str) -> None:
    frame = PackageFrame("a", np.zeros((4, 4, 3), np.uint8), np.full((4, 4), labels_class, np.uint8))
    with pytest.raises(InputError, match=match):
        write_cvat_package(tmp_path / "t.zip", [frame], names, distinct_colours(len(names)))


def test_import_refuses_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--format 'voc'"):
        import_annotations(tmp_path, "voc", None, load_settings())


def test_select_cli_on_camvid_frames(shared_dir: Path, model_mirror: Path, tmp_path: Path) -> None:
    src = shared_dir / "datasets" / "camvid" / "train"
    folder = tmp_path / "frames"
    folder.mkdir()
    for name in sorted(p.name for p in src.iterdir())[:40:10]:
        (folder / name).write_bytes((src / name).read_bytes())
    runner = CliRunner()
    assert runner.invoke(app, ["models", "install", "espnetv2-s2"]).exit_code == 0
    out = tmp_path / "t.zip"
    result = runner.invoke(app, ["annotate", "select", "--images", str(folder), "--n", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    gt = read_cvat_mask(out)
    assert len(gt.samples) == 2 and "road" in gt.class_names and "background" not in gt.class_names
    assert "pixelated" in zipfile.ZipFile(out).read("README.md").decode()
    imported = runner.invoke(app, ["annotate", "import", str(out)])
    assert imported.exit_code == 0 and "imported annotation set" in imported.output
    assert "already imported" in runner.invoke(app, ["annotate", "import", str(out)]).output

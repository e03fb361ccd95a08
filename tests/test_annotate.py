"""Choosing frames to annotate, the CVAT package and its round trip through `annotate import`."""

from __future__ import annotations

import dataclasses
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clips import H, W, street, write_cv2
from helpers import ROAD, VEG, clip_from_pixels, run_info
from tinymodels import colour_card, colour_model
from typer.testing import CliRunner

from analytics.cli import app
from analytics.errors import InputError
from analytics.evaluation.annotate import camera_candidates, select_and_package
from analytics.evaluation.annotations import import_annotations, load_annotations
from analytics.evaluation.cvat import PackageFrame, distinct_colours, write_cvat_package
from analytics.evaluation.readers import read_cvat_mask
from analytics.evaluation.select import STRATEGIES, random_picks, select_frames
from analytics.models import zoo
from analytics.records import ClipInfo
from analytics.settings import load_settings
from analytics.store import Store


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
    if strategy == "uncertainty":
        assert 10 in picks and 11 not in picks
    assert all(abs(a - b) > 1 for a in picks for b in picks if a != b and keys[a][0] == keys[b][0])


def test_diverse_takes_the_most_typical_frame_of_each_scene() -> None:
    # three scenes of 5, 4 and 3 frames around known centres; the frame on each centre is nearest its scene's mean
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    offsets = [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]]
    d = np.array([centres[c] + o for c, size in enumerate([5, 4, 3]) for o in offsets[:size]], float)
    keys = [(f"s{i}", 0) for i in range(len(d))]  # no neighbours
    u = np.zeros(len(d))
    picks = select_frames("diverse", 3, u, d, keys)
    assert sorted(picks) == [0, 5, 9]  # the centre frame of each scene, uncertainty ignored
    assert picks[0] == 0  # the largest scene first


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


# -- choosing among a camera's stored clips (frames decoded again from the files recorded at ingest) --


@pytest.fixture
def camera_clips(tmp_path: Path) -> tuple[Path, Path]:
    """Two tiny street clips of camera cam-1 ingested with the colour model (4 sampled frames each at fps=2)."""
    settings = load_settings()
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "colours.json").write_text(colour_card(32, 64).to_json())
    zoo.add_model(colour_model(folder / "colours.onnx", height=32, width=64), folder / "colours.json", settings)
    with Store(settings.db_path) as s:
        s.upsert_cameras(pd.DataFrame({"camera_id": ["cam-1"], "name": ["Test"], "lon": [4.9], "lat": [52.37]}))
    a = write_cv2(tmp_path / "a.avi", 20, fps=10, size=(W, H), paint=street)
    b = write_cv2(tmp_path / "b.avi", 20, fps=10, size=(W, H), paint=lambda i, w, h: street(19 - i, w, h))
    result = CliRunner().invoke(app, ["ingest", str(a), str(b), "--camera", "cam-1", "--model", "colours", "--road-model", "none",
                                      "--start", "2024-05-01T08:00:00"])
    assert result.exit_code == 0, result.output
    return a, b


def _paths() -> dict[str, str | None]:
    with Store(load_settings().db_path) as s:
        df = s.query_df("SELECT label, source_path FROM clips")
    return {str(r.label): (None if pd.isna(r.source_path) else str(r.source_path)) for r in df.itertuples()}


def test_ingest_records_the_source_path(camera_clips: tuple[Path, Path]) -> None:
    a, b = camera_clips
    assert _paths() == {"a.avi": str(a.resolve()), "b.avi": str(b.resolve())}


def test_a_changed_file_is_left_out(camera_clips: tuple[Path, Path]) -> None:
    a, b = camera_clips
    a.write_bytes(b.read_bytes())  # another clip now lies where a.avi was ingested from
    with Store(load_settings().db_path) as s:
        found = camera_candidates(s, "cam-1")
    assert found.clips == 1 and len(found.candidates) == 4
    assert len(found.missing) == 1 and "a.avi" in found.missing[0] and "SHA-256 differs" in found.missing[0]


def test_a_clip_read_again_from_a_file_records_its_path(tmp_path: Path) -> None:
    """A clip stored without a path (an upload, an older file) gets one when analysed again from a file."""
    with Store(tmp_path / "s.duckdb") as s:
        s.upsert_cameras(pd.DataFrame({"camera_id": ["c1"], "name": ["c1"], "lon": [0.0], "lat": [0.0]}))
        m = clip_from_pixels("c1", datetime(2024, 5, 1, 8), [{ROAD: 60, VEG: 40}] * 2, label="x.mp4")
        s.ingest(m)
        assert s.scalar("SELECT source_path FROM clips") is None
        moved = dataclasses.replace(m, clip=dataclasses.replace(m.clip, source_path=str(tmp_path / "x.mp4")), run=run_info(k=1))
        assert s.ingest(moved)[0].status == "stored"
        assert s.scalar("SELECT source_path FROM clips") == str(tmp_path / "x.mp4")


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        (None, True),  # not recorded (an upload's copy is deleted once saved)
        ("/data/clips/a.mp4", True),  # absolute
        ("clips/a.mp4", False),  # relative: meaningless once the working folder changes
        ("", False),  # empty
        ("/data/a\x00.mp4", False),  # a NUL character is no path
    ],
)
def test_clip_info_checks_the_source_path(path: str | None, ok: bool) -> None:
    def make() -> ClipInfo:
        return ClipInfo("0" * 64, "c1", datetime(2024, 5, 1), 1.0, 25.0, 10, 10, 25, source_path=path)

    if ok:
        assert make().source_path == path
    else:
        with pytest.raises(InputError, match="source_path"):
            make()


def test_select_camera_uses_the_files_still_there_and_names_the_gone_ones(camera_clips: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = camera_clips
    with Store(load_settings().db_path) as s:
        found = camera_candidates(s, "cam-1")
    assert found.clips == 2 and not found.missing and len(found.candidates) == 8
    image = found.candidates[5].load()  # the second clip's frame 5, decoded again: the person walks back
    assert image.shape == (H, W, 3) and found.candidates[5].name.endswith("_f000005")
    b.unlink()
    out = tmp_path / "t.zip"
    runner = CliRunner()
    args = ["annotate", "select", "--camera", "cam-1", "--n", "3", "--model", "colours", "--strategy", "uncertainty", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    gone = [line for line in result.output.splitlines() if "is gone" in line]
    assert len(gone) == 1 and "b.avi" in gone[0] and "4 frames left out" in gone[0]
    gt = read_cvat_mask(out)
    a_seq = {c.name.split("_")[0] for c in found.candidates[:4]}
    assert len(gt.samples) == 3 and {smp.name.split("_")[0] for smp in gt.samples} == a_seq
    a.unlink()
    none_left = runner.invoke(app, args)
    assert none_left.exit_code != 0 and isinstance(none_left.exception, InputError)
    assert "none of the 2 clips of camera 'cam-1' can be read again" in str(none_left.exception)
    assert none_left.output.count("is gone") == 2


def test_select_camera_without_recorded_paths_says_so(tmp_path: Path) -> None:
    """Clips stored before paths were recorded (or uploads) cannot be read again: one line each, then an error."""
    settings = load_settings()
    with Store(settings.db_path) as s:
        s.upsert_cameras(pd.DataFrame({"camera_id": ["c1"], "name": ["c1"], "lon": [0.0], "lat": [0.0]}))
        s.ingest(clip_from_pixels("c1", datetime(2024, 5, 1, 8), [{ROAD: 60, VEG: 40}] * 3, label="old.mp4"))
        found = camera_candidates(s, "c1")
        assert found.candidates == [] and found.clips == 0
        assert found.missing == ["old.mp4 (" + s.scalar("SELECT clip_sha256 FROM clips")[:12] + "): no source file recorded "
                                 "(an uploaded clip, or stored before paths were); its 3 frames left out"]
        with pytest.raises(InputError, match="unknown camera 'nope'"):
            camera_candidates(s, "nope")
    result = CliRunner().invoke(app, ["annotate", "select", "--camera", "c1", "--n", "2", "--out", str(tmp_path / "t.zip")])
    assert result.exit_code != 0 and "no source file recorded" in result.output
    assert "none of the 1 clips of camera 'c1'" in str(result.exception)


def test_random_choice_runs_the_model_on_the_chosen_frames_only(camera_clips: tuple[Path, Path], tmp_path: Path) -> None:
    settings = load_settings()
    with Store(settings.db_path) as s:
        found = camera_candidates(s, "cam-1")
    steps: list[tuple[str, int, int]] = []
    model = zoo.resolve("colours", settings)
    choices = select_and_package(model, found.candidates, 2, tmp_path / "r.zip", strategy="random", seed=3,
                                 progress=lambda stage, done, total: steps.append((stage, done, total)))
    assert [c.name for c in choices] == [found.candidates[i].name for i in random_picks(2, 8, seed=3)]
    assert steps == [("packaging", 1, 2), ("packaging", 2, 2)]  # 2 model runs, not 8 + 2
    steps.clear()
    select_and_package(model, found.candidates, 2, tmp_path / "u.zip", strategy="uncertainty", progress=lambda *a: steps.append(a))
    assert [s[0] for s in steps].count("scoring") == 8 and steps[-1] == ("packaging", 2, 2)

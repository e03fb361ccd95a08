"""Counting as a stage of the analysis: geometry from stored zones, the count stage, tables, speeds,
and the hand count of the sample clip car-detection.mp4 through the whole pipeline with the real detector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tinymodels import colour_card, colour_model

from analytics.errors import DataFormatError, InputError, VideoError
from analytics.footage.counting import CountPlan, CountStage, count_tables, detector_for, track_speed
from analytics.footage.lines import geometry_from_rows, geometry_rows, parse_count_geometry
from analytics.footage.pipeline import AnalysisOptions, analyse_clip
from analytics.footage.stages import FrameItem, StageContext
from analytics.footage.track import Track, Tracker, TrackerOptions
from analytics.footage.video import Sampling, open_video, select_frames
from analytics.geo import CAMERA_COLUMNS
from analytics.models.zoo import builtin_detector_cards
from analytics.settings import load_settings
from analytics.store import Store

LINE = {"zone": "mid", "role": "line", "polygon_json": "[[0, 216], [768, 216]]", "in_label": "northbound",
        "out_label": "southbound", "drawn_width": 768, "drawn_height": 432}


def rows(*extra: dict) -> pd.DataFrame:
    return pd.DataFrame([LINE, *extra])


# -- geometry from the stored rows -----------------------------------------------------------------


def test_geometry_from_rows_reads_lines_and_zones_and_skips_segmentation_zones():
    dwell = {"zone": "square", "role": "dwell", "polygon_json": "[[0, 0], [768, 0], [768, 432], [0, 432]]",
             "drawn_width": 768, "drawn_height": 432}
    cross = {**LINE, "zone": "diag", "polygon_json": "[[0, 0], [768, 432]]"}
    side = {"zone": "walk", "role": "sidewalk", "polygon_json": "[[0, 0], [10, 0], [10, 10]]"}
    g = geometry_from_rows(rows(dwell, cross, side), (768, 432))
    assert g is not None
    assert [ln.name for ln in g.lines] == ["mid", "diag"] and [z.name for z in g.zones] == ["square"]
    assert g.lines[0].in_label == "northbound"
    # lines crossing each other and a zone over the whole frame are accepted, with a note each
    assert any("cross each other" in n for n in g.notes) and any("whole frame" in n for n in g.notes)
    again = geometry_from_rows(geometry_rows(g), (768, 432))
    assert again is not None and again.lines == g.lines and again.zones == g.zones
    assert geometry_from_rows(pd.DataFrame([side]), (768, 432)) is None
    assert geometry_from_rows(pd.DataFrame(columns=["zone", "role", "polygon_json"]), (768, 432)) is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({}, "drawn on a 768x432 frame but the clip is 640x360"),  # another clip size: both named
        ({"drawn_width": None, "drawn_height": None, "polygon_json": "[[0, 216], [700, 216]]"}, "outside the 640x360 frame"),
        ({"drawn_width": None, "drawn_height": None, "polygon_json": "[[5, 5], [5, 5]]"}, "zero length"),
    ],
)
def test_geometry_from_rows_refuses_what_does_not_fit_the_clip(row, message):
    with pytest.raises(DataFormatError, match=message):
        geometry_from_rows(pd.DataFrame([{**LINE, **row}]), (640, 360))


# -- tables from tracks ------------------------------------------------------------------------------


def _plan(geometry, calibration=None, rate=10.0) -> CountPlan:
    card = builtin_detector_cards()["deimv2-femto"]
    return CountPlan(geometry, _FakeDetector(card), "0" * 64, rate, calibration=calibration)  # type: ignore[arg-type]


class _FakeDetector:
    """Stands for a loaded detector where only its card is read (tables from given tracks)."""

    def __init__(self, card):
        self.card = card


def _car(track_id: int, xs, ys, t0=0.0, fps=10.0) -> Track:
    trk = Track(track_id=track_id)
    for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
        trk._add(t0 + k / fps, np.array([x - 20, y - 40, x + 20, y]), "car")
    return trk


def test_count_tables_crossings_visits_speeds_and_censoring():
    geo = parse_count_geometry([{"name": "mid", "line": [[0, 216], [768, 216]]},
                                {"name": "all", "role": "dwell", "polygon": [[0, 0], [768, 0], [768, 432], [0, 432]]}], (768, 432))
    up = _car(1, [100] * 20, np.linspace(400, 20, 20))  # upward: in
    down = _car(2, [300] * 20, np.linspace(20, 400, 20), t0=0.5)  # downward: out
    parked = _car(3, [500] * 30, [300] * 30)  # in the zone the whole clip: a censored visit
    h = np.diag([0.05, 0.05, 1.0])  # 1 px = 5 cm on the ground
    times = [k / 10 for k in range(30)]
    c = count_tables([up, down, parked], _plan(geo, h), times, "deimv2-femto")
    assert c.crossings[["direction", "track_id", "class"]].values.tolist() == [["in", 1, "car"], ["out", 2, "car"]]
    assert c.tracks.set_index("track_id")["stationary"].to_dict() == {1: False, 2: False, 3: True}
    # 380 px = 19 m in 1.9 s: 36 km/h
    assert c.tracks.set_index("track_id").loc[1, "speed_kmh"] == pytest.approx(36.0)
    visits = c.visits.set_index("track_id")
    assert bool(visits.loc[3, "censored"]) and not bool(visits.loc[2, "censored"])
    assert c.calibrated and c.n_tracked_frames == 30
    assert track_speed(np.arange(10) * 0.2, np.array([[0.0, 20.0 * k] for k in range(10)]))[1] is None  # 360 km/h: dropped


def test_the_kalman_filter_steps_by_time_so_a_gap_is_bridged_at_any_tracking_rate():
    for fps in (5.0, 10.0, 25.0):
        tr = Tracker(TrackerOptions(max_lost=int(2 * fps)))
        for k in range(int(4 * fps)):
            t = k / fps
            if 1.0 <= t < 1.6:  # 0.6 s unseen
                tr.update([], [], [], t)
                continue
            x = 50 + 100 * t  # 100 px/s whatever the rate
            tr.update([[x, 100, x + 40, 140]], [0.9], ["car"], t)
        assert [t.track_id for t in tr.tracks()] == [1], fps


def test_a_clip_with_no_detections_gives_a_count_run_with_zero_crossings(shared_dir: Path, tmp_path: Path):
    card = builtin_detector_cards()["deimv2-femto"]
    detector = detector_for(card, shared_dir / "models" / "detectors" / "deimv2_hgnetv2_femto_coco.onnx")
    geo = parse_count_geometry([{"name": "mid", "line": [[0, 60], [160, 60]]}], (160, 120))
    stage = CountStage()
    stage.start(StageContext(card=None, counting=CountPlan(geo, detector, "0" * 64, 10.0)))  # type: ignore[arg-type]
    black = np.zeros((120, 160, 3), np.uint8)
    for k in range(3):
        stage.frame(FrameItem(k, k, k / 10, black, np.empty(0, np.float32), None, True, True, black), None)  # type: ignore[arg-type]
    counts = stage.finish()["counts"]
    assert counts.n_tracked_frames == 3 and counts.crossings.empty and counts.tracks.empty and counts.detector_name == "deimv2-femto"


# -- the hand count of car-detection.mp4 -------------------------------------------------------------
# By hand (frames viewed with the line drawn): the white car crosses y = 216 upward (in) at about 7.0 s,
# the grey car downward (out) at 15.5 s, the red car upward at 17.6 s and the white car downward at
# 26.2 s: 2 in, 2 out. The whole pipeline counts the first 9 s (one crossing, tracking at 5 frames/s); the other three are
# counted on windows of the clip around them, with the same detector and tracker.

CLIP_WINDOWS = [((14.2, 18.2), [("car", "out"), ("car", "in")]), ((25.0, 28.5), [("car", "out")])]


@pytest.fixture(scope="module")
def counted(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The first 9 s of car-detection.mp4 analysed once (segmentation at 1 frame/s, tracking at 5) for a
    camera with the line y = 216."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("home")
    mp.setenv("URBANLENS_HOME", str(home))
    mp.setenv("URBANLENS_MODEL_MIRROR", str(shared_dir / "models"))
    settings = load_settings()
    store = Store(str(home / "c.duckdb"))
    camera = {k: None for k in CAMERA_COLUMNS} | {"camera_id": "park", "name": "car park", "lon": 8.5, "lat": 47.3, "kind": "fixed"}
    store.upsert_cameras(pd.DataFrame([camera]))
    store.set_zones("park", rows())
    clip = shared_dir / "samples" / "car-detection.mp4"
    tiny = colour_model(home / "colours.onnx", height=32, width=64)  # a tiny segmenter: the counts do not depend on it
    model = (colour_card(32, 64), tiny)
    options = AnalysisOptions.from_flags(fps=1, max_frames=9, keep_previews=0, model=model, track_fps=5)
    result = analyse_clip(clip, "park", store, options, settings)
    yield store, result, settings, (clip, model)
    store.close()
    mp.undo()


def test_the_pipeline_counts_the_first_crossing_of_car_detection_and_stores_it(counted):
    store, result, _, _ = counted
    assert result.status == "stored"
    crossings = store.query_df("SELECT class, direction, t_s FROM crossings WHERE line = 'mid'")
    assert crossings[["class", "direction"]].values.tolist() == [["car", "in"]]
    assert 6.5 < crossings["t_s"].iloc[0] < 7.5
    run = store.query_df("SELECT detector_name, track_fps, n_tracked_frames FROM count_runs").iloc[0]
    assert run["detector_name"] == "deimv2-femto" and run["track_fps"] == 5.0 and run["n_tracked_frames"] == 41  # 0 to 8 s
    assert store.scalar("SELECT count(*) FROM frames") == 9  # segmentation stays at its own sampling
    params = json.loads(store.scalar("SELECT params_json FROM model_runs"))
    assert params["counting"]["track_fps"] == 5.0


def test_car_detection_gives_the_hand_count_two_up_two_down(counted, shared_dir: Path):
    store, _, _, (clip, _) = counted
    found = [tuple(r) for r in store.query_df("SELECT class, direction FROM crossings").itertuples(index=False, name=None)]
    card = builtin_detector_cards()["deimv2-femto"]
    detector = detector_for(card, shared_dir / "models" / "detectors" / "deimv2_hgnetv2_femto_coco.onnx")
    geo = geometry_from_rows(rows(), (768, 432))
    for (lo, hi), expected in CLIP_WINDOWS:
        stage = CountStage()
        stage.start(StageContext(card=None, counting=CountPlan(geo, detector, "0" * 64, 10.0)))  # type: ignore[arg-type]
        with open_video(clip, Sampling.parse("all")) as reader:
            tracked = select_frames(reader.frame_times, Sampling("fps", 10.0))
            t = reader.frame_times[tracked]
            reader.wanted = tracked[(t >= lo) & (t <= hi)]
            for f in reader:
                stage.frame(FrameItem(0, f.index, f.t_s, f.image, np.empty(0, np.float32), None, False, True, f.image), None)  # type: ignore[arg-type]
        window = [tuple(r) for r in stage.finish()["counts"].crossings[["class", "direction"]].itertuples(index=False, name=None)]
        assert window == expected, (lo, hi)
        found += window
    assert sorted(found) == [("car", "in"), ("car", "in"), ("car", "out"), ("car", "out")]


def test_counting_settings_change_the_settings_key_and_a_camera_drawn_on_another_size_is_refused(counted, tmp_path):
    store, result, settings, (clip, model) = counted
    off = analyse_clip(clip, "park", store, AnalysisOptions.from_flags(fps=1, keep_previews=0, count=False, max_frames=9, model=model),
                       settings, save=False)
    assert off.settings_key != result.settings_key and off.measurements is not None and off.measurements.counts is None
    store.set_zones("park", rows().assign(drawn_width=640, drawn_height=360))
    with pytest.raises(DataFormatError, match="drawn on a 640x360 frame but the clip is 768x432"):
        analyse_clip(clip, "park", store, AnalysisOptions.from_flags(fps=0.2, keep_previews=0, max_frames=1, model=model), settings,
                     save=False)
    store.set_zones("park", rows())


# -- count tables through a Parquet folder (`ingest --engine ray`) --------------------------------


def test_parquet_sink_writes_a_clips_count_tables_and_import_clips_stores_them(tmp_path: Path):
    import dataclasses
    from datetime import datetime

    from analytics.store.parquet import COUNTS, ParquetSink, clip_files, import_clips, read_clip
    from tests.helpers import clip_from_pixels, count_tables, run_info, store_with_cameras

    counts = count_tables(crossings=[("mid", 1.5, "car", "in", 1), ("mid", 2.5, "cyclist", "out", 2)],
                          visits=[("square", "person", 3, 0.5, 4.0)],
                          tracks=[(1, "car", 0.0, 3.0, 30.0), (2, "cyclist", 1.0, 4.0, None), (3, "person", 0.5, 4.0, None)])
    m = dataclasses.replace(clip_from_pixels("cam-1", datetime(2024, 5, 1, 8), [{0: 10}] * 4, run=run_info(counting={"track_fps": 10})),
                            counts=counts)
    plain = clip_from_pixels("cam-1", datetime(2024, 5, 1, 9), [{0: 10}] * 4, label="plain")
    camera = {"camera_id": "cam-1", "name": "c", "lon": 4.0, "lat": 52.0, "kind": "fixed"}
    sink = ParquetSink(tmp_path / "pq", {"cam-1": camera}, calibrations={"cam-1": np.eye(3)})
    assert [r.status for r in sink.ingest([m, plain])] == ["stored", "stored"]
    assert (tmp_path / "pq" / COUNTS).is_dir() and len(clip_files(tmp_path / "pq")) == 2  # counts stay out of the frame files
    assert sink.calibration("cam-1") is not None and sink.calibration("cam-2") is None
    back = {r.clip.label: r for r in map(read_clip, clip_files(tmp_path / "pq"))}
    assert back["plain"].counts is None
    got = back[m.clip.label].counts
    assert got is not None and got.detector_name == "test-detector" and got.calibrated
    for name in ("tracks", "crossings", "visits"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(counts, name), check_dtype=False)
    with store_with_cameras(str(tmp_path / "db.duckdb"), [("cam-1", 4.0, 52.0)]) as store:
        assert [r.status for r in import_clips(store, tmp_path / "pq")] == ["stored", "stored"]
        rows = store.query_df("SELECT class, direction FROM crossings ORDER BY t_s").values.tolist()
        assert rows == [["car", "in"], ["cyclist", "out"]]
        assert store.scalar("SELECT count(*) FROM zone_visits") == 1 and store.scalar("SELECT count(*) FROM count_runs") == 1
    # a counted clip whose tables are gone is refused in one line, not stored without its counts
    import shutil

    shutil.rmtree(tmp_path / "pq" / COUNTS)
    with pytest.raises(InputError, match="count tables .* are missing"):
        read_clip(next(p for p in clip_files(tmp_path / "pq") if back[m.clip.label].clip.sha256 in p.name))


# -- bad input with counting on ------------------------------------------------------------------------


def test_an_empty_clip_with_counting_on_is_refused_and_stores_nothing(counted, tmp_path: Path):
    import cv2

    store, _, settings, (_, model) = counted
    empty = tmp_path / "empty.mp4"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (768, 432)).release()  # a container with no frame
    before = store.scalar("SELECT count(*) FROM count_runs")
    with pytest.raises(VideoError, match="empty.mp4 has no video stream"):
        analyse_clip(empty, "park", store, AnalysisOptions.from_flags(fps=1, keep_previews=0, model=model), settings)
    assert store.scalar("SELECT count(*) FROM count_runs") == before


def test_a_ground_calibration_drawn_on_another_frame_size_is_refused_not_rescaled(counted):
    store, _, settings, (clip, model) = counted
    with store.transaction() as con:
        con.execute("INSERT INTO camera_calibrations (camera_id, homography_json, drawn_width, drawn_height, created_at) "
                    "VALUES ('park', '[[0.05, 0, 0], [0, 0.05, 0], [0, 0, 1]]', 640, 360, now())")
    try:
        with pytest.raises(DataFormatError, match="ground calibration was drawn on a 640x360 frame but the clip is 768x432"):
            analyse_clip(clip, "park", store, AnalysisOptions.from_flags(fps=1, keep_previews=0, max_frames=1, model=model), settings,
                         save=False)
        # without counting the calibration is not used, so the clip is analysed
        off = AnalysisOptions.from_flags(fps=1, keep_previews=0, max_frames=1, model=model, count=False)
        assert analyse_clip(clip, "park", store, off, settings, save=False).measurements is not None
    finally:
        with store.transaction() as con:
            con.execute("DELETE FROM camera_calibrations WHERE camera_id = 'park'")

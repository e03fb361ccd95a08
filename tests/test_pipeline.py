"""analyse_clip end to end: synthetic clips, a tiny colour model, a DuckDB store in tmp; one real-model run."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from clips import H, W, street, write_av, write_cv2
from tinymodels import colour_card, colour_model

from analytics.errors import Cancelled, InputError, VideoError
from analytics.footage import scheduling
from analytics.footage.pipeline import AnalysisOptions, AnalysisResult, analyse_clip, clip_sha256, save_analysis
from analytics.footage.segment import Segmenter
from analytics.settings import Settings, load_settings
from analytics.store import Store


def analyse(path: Path, camera_id: str, sink: Store | None, *, settings: Settings, progress=None, cancel=None,  # type: ignore[no-untyped-def]
            save: bool = True, **flags) -> AnalysisResult:
    """:func:`analyse_clip` with the options built from ``ingest``-style flags (``fps``, ``smooth``, ``temporal``, fields);
    the segmenter alone unless ``road_model`` is given (these tests check the segmenter's pipeline)."""
    options = AnalysisOptions.from_flags(**{"road_model": "none", **flags})
    return analyse_clip(path, camera_id, sink, options, settings, progress=progress, cancel=cancel, save=save)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    path = colour_model(tmp_path_factory.mktemp("tiny") / "colours.onnx", height=32, width=64)
    return (colour_card(32, 64), path)


@pytest.fixture
def settings() -> Settings:
    """The settings of this test's isolated URBANLENS_HOME."""
    return load_settings()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "t.duckdb")
    s.upsert_cameras(pd.DataFrame({"camera_id": ["cam-1"], "name": ["Test"], "lon": [4.9], "lat": [52.37]}))
    return s


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_cv2(tmp_path / "street.avi", 30, fps=10, size=(W, H), paint=street)


def _count(store: Store, table: str) -> int:
    return int(store.scalar(f"SELECT count(*) FROM {table}"))  # table names are constants of this test


def test_clip_is_measured_and_stored(clip: Path, store: Store, tiny: tuple, settings: Settings) -> None:
    calls: list[tuple[int, int, float, float]] = []
    r = analyse(clip, "cam-1", store, model=tiny, settings=settings, fps=2, start_time="2024-05-01T08:00:00", progress=lambda *a: calls.append(a))
    m = r.measurements
    assert r.status == "stored" and m is not None and m.n == 6  # 3 s at 2 sampled frames a second
    assert m.frame_index.tolist() == [0, 5, 10, 15, 20, 25]
    assert m.t_s.tolist() == pytest.approx([0, 0.5, 1, 1.5, 2, 2.5])
    shares = m.class_pixels.sum(0) / m.class_pixels.sum()
    assert shares[10] == pytest.approx(1 / 3, abs=0.03) and shares[13] > 0.05 and shares[11] > 0.02
    assert m.object_counts.tolist() == [[1, 0, 1]] * 6  # one person, one car in every frame
    assert math.isnan(m.vehicle_stationarity[0]) and np.all(m.vehicle_stationarity[1:] > 0.95)  # the car is parked
    # only the walker changes pixels: 15 frame px a sampled frame, 32 px tall, entering and leaving: 2 * 15 * 32 / (128 * 64)
    assert math.isnan(m.flicker[0]) and m.flicker[1:] == pytest.approx(2 * 15 * 32 / (W * H), abs=0.05)
    assert np.all(m.mean_confidence > 0.9) and np.all(m.low_conf_share < 0.05)
    assert (m.distress_crack_px == 0).all() and (m.distress_pothole_px == 0).all()  # flat synthetic road
    people = m.objects[m.objects["group"] == "person"]
    assert people["x0"].is_monotonic_increasing  # the walker's box moves right, in frame pixels
    assert calls[0][:2] == (0, 6) and calls[-1][0] == calls[-1][1] == 6 and all(c[2] > 0 for c in calls[1:])
    assert m.run.sampling == "fps=2" and m.run.smoothing == "off"
    assert m.clip.sha256 == clip_sha256(clip)
    assert _count(store, "frames") == 6 and _count(store, "clips") == 1
    kinds = store.query_df("SELECT kind, count(*) AS n FROM previews GROUP BY kind ORDER BY kind")
    assert kinds.to_dict("records") == [{"kind": "frame", "n": 3}, {"kind": "overlay", "n": 3}]
    jpeg = store.query_df("SELECT image FROM previews WHERE kind = 'frame' LIMIT 1")["image"][0]
    img = cv2.imdecode(np.frombuffer(bytes(jpeg), np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape[1] <= 480


def test_person_is_blurred_in_the_stored_preview(tmp_path: Path, store: Store, tiny: tuple, settings: Settings) -> None:
    def textured(i: int, w: int = W, h: int = H) -> np.ndarray:
        img = street(0, w, h)
        yy, xx = np.mgrid[24:56, 4:14]
        img[24:56, 4:14] = np.where(((yy + xx) % 2 == 0)[..., None], (0, 0, 255), (40, 40, 200))  # detail on the person
        return img

    path = write_cv2(tmp_path / "still.avi", 5, fps=10, size=(W, H), paint=textured)
    r = analyse(path, "cam-1", store, model=tiny, settings=settings, fps=2, keep_previews=1, start_time="2024-05-01T08:00:00")
    frame = next(p for p in r.previews if p.kind == "frame")
    img = cv2.imdecode(np.frombuffer(frame.image, np.uint8), cv2.IMREAD_COLOR)
    sx = img.shape[1] / W
    person = img[int(28 * sx) : int(52 * sx), int(5 * sx) : int(13 * sx)].astype(np.float32)
    assert np.abs(np.diff(person, axis=1)).mean() < 12  # the checker detail is gone


def test_same_clip_same_settings_is_skipped(clip: Path, store: Store, tiny: tuple, settings: Settings) -> None:
    first = analyse(clip, "cam-1", store, model=tiny, settings=settings, fps=2, start_time="2024-05-01T08:00:00")
    again = analyse(clip, "cam-1", store, model=tiny, settings=settings, fps=2, start_time="2024-05-01T08:00:00")
    assert (first.status, again.status) == ("stored", "skipped")
    assert again.measurements is None and "already ingested" in again.message
    assert _count(store, "frames") == 6 and _count(store, "model_runs") == 1
    other = analyse(clip, "cam-1", store, model=tiny, settings=settings, fps=5, start_time="2024-05-01T08:00:00")
    assert other.status == "stored" and _count(store, "model_runs") == 2  # another sampling is another run


def test_corrupt_file_raises_and_stores_nothing(tmp_path: Path, store: Store, tiny: tuple, settings: Settings) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(VideoError, match="bad.mp4"):
        analyse(bad, "cam-1", store, model=tiny, settings=settings)
    assert _count(store, "clips") == 0 and _count(store, "frames") == 0


def test_truncated_clip_is_stored_with_what_decoded_and_says_so(tmp_path: Path, store: Store, tiny: tuple, settings: Settings) -> None:
    full = write_av(
        tmp_path / "full.mp4", 60, fps=10, size=(W, H), codec="libx264", gop=10, paint=street, options={"qp": "0"},
        container_options={"movflags": "faststart"},
    )
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    r = analyse(cut, "cam-1", store, model=tiny, settings=settings, fps=2, start_time="2024-05-01T08:00:00")
    assert r.status == "stored" and r.measurements is not None and 0 < r.measurements.n < 12
    assert any("truncated" in w for w in r.warnings) and "truncated" in r.message


def test_cancel_stops_and_stores_nothing(clip: Path, store: Store, tiny: tuple, settings: Settings) -> None:
    stop = threading.Event()

    def progress(done: int, total: int, rate: float, eta: float) -> None:
        if done == 2:
            stop.set()

    with pytest.raises(Cancelled, match="nothing was stored"):
        analyse(clip, "cam-1", store, model=tiny, settings=settings, fps="all", progress=progress, cancel=stop)
    assert _count(store, "clips") == 0
    with pytest.raises(Cancelled):
        analyse(clip, "cam-1", store, model=tiny, settings=settings, cancel=lambda: True)  # a callable works too


def test_unknown_camera_fails_before_any_work(clip: Path, store: Store, tiny: tuple, settings: Settings) -> None:
    with pytest.raises(InputError, match="unknown camera 'nowhere'"):
        analyse(clip, "nowhere", store, model=tiny, settings=settings)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keep_previews": 99}, "keep_previews"),  # too many previews
        ({"fps": "sometimes"}, "sampling"),  # not a sampling rule
        ({"start_time": "yesterday"}, "ISO"),  # not a time
        ({"cancel": 3}, "cancel"),  # neither an Event nor a callable
    ],
)
def test_bad_arguments(clip: Path, store: Store, tiny: tuple, kwargs: dict, message: str, settings: Settings) -> None:
    with pytest.raises(InputError, match=message):
        analyse(clip, "cam-1", store, model=tiny, settings=settings, **kwargs)


def test_zones_are_measured_and_saved_for_the_camera(tmp_path: Path, clip: Path, store: Store, tiny: tuple, settings: Settings) -> None:
    zones = tmp_path / "zones.json"
    zones.write_text(json.dumps([
        {"name": "walk", "role": "sidewalk", "polygon": [[0, 20], [64, 20], [64, 64], [0, 64]]},
        {"name": "bay", "role": "parking", "polygon": [[64, 20], [128, 20], [128, 64], [64, 64]]},
    ]))
    r = analyse(clip, "cam-1", store, model=tiny, settings=settings, fps=2, zones=zones, start_time="2024-05-01T08:00:00")
    zp = r.measurements.zone_pixels  # type: ignore[union-attr]
    assert zp is not None
    walk_person = zp[(zp["zone"] == "walk") & (zp["class_id"] == 11)]
    assert len(walk_person) >= 4  # the walker is on the sidewalk zone in the first frames
    assert zp[(zp["zone"] == "bay") & (zp["class_id"] == 13)]["pixels"].min() > 50  # the parked car is in the bay
    assert store.zones("cam-1")["zone"].tolist() == ["bay", "walk"]
    assert _count(store, "frame_zone_pixels") > 0
    side = store.query_df("SELECT person_sidewalk_px FROM frames ORDER BY frame_index")["person_sidewalk_px"]
    assert side.iloc[0] > 0


def test_smoothing_is_recorded_and_analysis_without_store(clip: Path, tiny: tuple, settings: Settings) -> None:
    r = analyse(clip, "cam-1", None, model=tiny, settings=settings, fps=2, smooth=True, save=False, start_time="2024-05-01T08:00:00")
    assert r.status == "analysed" and r.ingest is None
    assert r.measurements is not None and r.measurements.run.smoothing == "ema=0.6"


def test_start_time_defaults_to_the_file_time_and_says_so(clip: Path, tiny: tuple, settings: Settings) -> None:
    r = analyse(clip, "cam-1", None, model=tiny, settings=settings, fps=2, save=False)
    assert any("modification time" in w or "creation_time" in w for w in r.warnings)


@pytest.fixture(scope="session")
def espnetv2(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path):  # type: ignore[no-untyped-def]
    """espnetv2-s2 installed once for the session from the ../shared mirror."""
    from analytics.models import zoo

    home = tmp_path_factory.mktemp("espnet-home")
    settings = dataclasses.replace(load_settings(), home=home, model_mirror=shared_dir / "models")
    return zoo.install("espnetv2-s2", settings)


@pytest.mark.slow
def test_real_espnetv2_on_bikes(espnetv2, shared_dir: Path, store: Store, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    r = analyse(
        shared_dir / "samples" / "bikes.mp4", "cam-1", store, model=espnetv2, settings=settings, fps=0.5, max_frames=3, keep_previews=1,
        start_time="2024-05-01T08:00:00",
    )
    m = r.measurements
    assert r.status == "stored" and m is not None and m.n == 3
    names = m.run.class_set.class_names
    shares = dict(zip(names, m.class_pixels.sum(0) / m.class_pixels.sum(), strict=True))
    assert shares["building"] > 0.1  # a city street
    assert shares["person"] + shares["rider"] > 0.01 and shares["bicycle"] + shares["car"] > 0.01  # commuters, bikes, cars
    assert m.object_counts[:, 0].sum() >= 1
    assert np.all((m.mean_confidence > 0.5) & (m.mean_confidence < 1))


def test_without_a_sink_the_clip_is_analysed_only(clip: Path, tiny: tuple, settings: Settings) -> None:
    options = AnalysisOptions(model=tiny, start_time="2024-05-01T08:00:00", road_model="none")
    r = analyse_clip(clip, "cam-1", None, options, settings)
    assert r.status == "analysed" and r.measurements is not None and r.measurements.n == 6
    assert not settings.db_path.exists()  # no database was opened


@pytest.mark.parametrize(
    ("sink", "options", "message"),
    [
        (object(), AnalysisOptions(), "sink must be a ClipSink"),  # not a place clips can go
        (None, {"fps": 2}, "options must be an AnalysisOptions"),  # keywords are not options
    ],
)
def test_the_sink_and_options_are_checked(clip: Path, settings: Settings, sink: object, options: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        analyse_clip(clip, "cam-1", sink, options, settings)  # type: ignore[arg-type]


def test_options_are_picklable_and_built_from_flags(tiny: tuple) -> None:
    import pickle

    options = AnalysisOptions.from_flags(fps="every=5", smooth=True, model=tiny, zones=b"[]")
    assert pickle.loads(pickle.dumps(options)) == options
    assert (options.temporal, options.smoothing_alpha, options.smoothing) == ("ema", 0.6, "ema=0.6")
    assert AnalysisOptions.from_flags(temporal="flow").smoothing == "flow=0.4,sigma=2"
    assert AnalysisOptions(temporal="flow", alpha=0.5).smoothing_alpha == 0.5


def test_analyse_then_save_with_a_new_camera_and_its_zones(tmp_path: Path, clip: Path, tiny: tuple, settings: Settings) -> None:
    store = Store(tmp_path / "empty.duckdb")  # the camera does not exist yet: the Analyse page's flow
    zones = json.dumps([{"name": "walk", "role": "sidewalk", "polygon": [[0, 20], [64, 20], [64, 64], [0, 64]]}]).encode()
    r = analyse(clip, "new-cam", store, model=tiny, settings=settings, fps=2, zones=zones, save=False,
                     start_time="2024-05-01T08:00:00")
    assert r.status == "analysed" and r.new_zones is not None and _count(store, "clips") == 0
    camera = {"camera_id": "new-cam", "name": "New", "lon": 4.9, "lat": 52.37, "heading": None, "kind": "fixed"}
    saved = save_analysis(store, r, new_camera=camera)
    assert (saved.status, r.status) == ("stored", "analysed")  # a new result; the analysed one is left as it was
    assert saved.ingest is not None and saved.ingest.n_frames == 6 and saved.message == "stored 6 sampled frames"
    assert store.camera("new-cam")["name"] == "New" and store.zones("new-cam")["zone"].tolist() == ["walk"]
    assert _count(store, "frames") == 6 and _count(store, "frame_zone_pixels") > 0
    assert save_analysis(store, r).status == "skipped"  # saving twice stores nothing more
    assert _count(store, "frames") == 6


@pytest.mark.parametrize(
    ("camera", "message"),
    [
        ({"camera_id": "other", "name": "O", "lon": 4.9, "lat": 52.3, "heading": None, "kind": "fixed"}, "not the clip's camera"),
        (None, "unknown camera 'new-cam'"),  # a new camera that was not passed along
    ],
)
def test_save_refuses_a_camera_that_is_not_the_clips(
    tmp_path: Path, clip: Path, tiny: tuple, settings: Settings, camera: dict | None, message: str
) -> None:
    store = Store(tmp_path / "empty.duckdb")
    r = analyse(clip, "new-cam", None, model=tiny, settings=settings, fps=2, save=False, start_time="2024-05-01T08:00:00")
    with pytest.raises(InputError, match=message):
        save_analysis(store, r, new_camera=camera)
    assert _count(store, "clips") == 0


def test_a_skipped_clip_has_nothing_to_save(clip: Path, store: Store, tiny: tuple, settings: Settings) -> None:
    analyse(clip, "cam-1", store, model=tiny, settings=settings, fps=2, start_time="2024-05-01T08:00:00")
    skipped = analyse(clip, "cam-1", store, model=tiny, settings=settings, fps=2, start_time="2024-05-01T08:00:00")
    with pytest.raises(InputError, match="no measurements to save"):
        save_analysis(store, skipped)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keep_previews": -1}, "keep_previews=-1"),  # fewer than none
        ({"keep_previews": True}, "keep_previews=True"),  # a flag is not a count
        ({"temporal": "ema", "alpha": 0.0}, r"expected a number in \(0, 1\]"),
        ({"alpha": 0.5}, "with temporal 'none'"),  # a weight for no fusion
        ({"temporal": "median"}, "expected one of none, ema, flow"),
        ({"model": 42}, "model must be"),  # no weight on the newest frame
        ({"threads": 0}, "threads=0"),
        ({"max_frames": 2.5}, "max_frames=2.5"),  # not a whole number
        ({"zones": 42}, "zones must be"),
        ({"start_time": "noon"}, "not an ISO time"),
        ({"sampling": "2"}, "expected a Sampling"),  # text goes through Sampling.parse first
    ],
)
def test_analysis_options_are_checked(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        AnalysisOptions(**kwargs)


def test_analysis_options_parse_the_start_time() -> None:
    options = AnalysisOptions(start_time="2024-05-01T08:00:00+02:00")
    assert options.start == datetime(2024, 5, 1, 8, 0)  # the offset is dropped, not converted
    assert AnalysisOptions(start_time="  ").start is None  # blank: taken from the clip
    assert AnalysisOptions().sampling.label == "fps=2" and AnalysisOptions().smoothing == "off"


def test_settings_are_required(clip: Path, tiny: tuple) -> None:
    with pytest.raises(InputError, match="settings must be a Settings"):
        analyse(clip, "cam-1", None, model=tiny, settings=None, save=False)  # type: ignore[arg-type]


def test_a_stored_clip_opens_the_store_twice(clip: Path, store: Store, tiny: tuple, settings: Settings,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """One read-only connection for the camera, its zones and the already-ingested check; one write."""
    opened: list[bool] = []
    real = Store._open

    def counting(self: Store, write: bool, wait: bool = True):  # type: ignore[no-untyped-def]
        opened.append(write)
        return real(self, write, wait)

    monkeypatch.setattr(Store, "_open", counting)
    r = analyse(clip, "cam-1", store, model=tiny, settings=settings, fps=2, start_time="2024-05-01T08:00:00")
    assert r.status == "stored" and opened == [False, True]
    opened.clear()
    again = analyse(clip, "cam-1", store, model=tiny, settings=settings, fps=2, start_time="2024-05-01T08:00:00")
    assert again.status == "skipped" and opened == [False]


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling policies")
def test_background_threads_use_idle_cpu_time_and_get_it_back_when_starved() -> None:
    policies: list[int] = []
    release = threading.Event()

    def background() -> None:
        scheduling.lower_priority()
        policies.append(os.sched_getscheduler(0))
        release.wait(5)
        policies.append(os.sched_getscheduler(0))

    t = threading.Thread(target=background)
    t.start()
    while not policies:
        time.sleep(0.01)
    starved = scheduling.Starvation(t)
    for _ in range(scheduling.STARVED_WAITS):
        starved.waited()
    release.set()
    t.join()
    # the idle policy only where this process may leave it (CAP_SYS_NICE or RLIMIT_NICE), and then it is left when starved
    reversible = scheduling.idle_policy_reversible()
    assert policies[0] == (os.SCHED_IDLE if reversible else os.SCHED_OTHER)
    assert policies[1] == os.SCHED_OTHER


def _same_measurements(a, b) -> None:  # type: ignore[no-untyped-def]
    for name in ("frame_index", "t_s", "class_pixels", "mean_confidence", "low_conf_share", "flicker", "vehicle_stationarity",
                 "object_counts", "distress_crack_px", "distress_pothole_px"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None and y is None) or np.array_equal(x, y, equal_nan=True), name
    pd.testing.assert_frame_equal(a.objects, b.objects)
    assert [p.image for p in a.previews] == [p.image for p in b.previews]


def _inference_threads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Filled with (thread name, segmenter id) for each frame segmented."""
    names: list[tuple[str, int]] = []
    run = Segmenter.run

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        names.append((threading.current_thread().name, id(self)))
        return run(self, *args, **kwargs)

    monkeypatch.setattr(Segmenter, "run", spy)
    return names


def test_two_frames_at_once_measure_what_one_at_a_time_does(
    clip: Path, tiny: tuple, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _inference_threads(monkeypatch)
    here = threading.current_thread().name
    one = analyse(clip, "cam-1", None, model=tiny, settings=settings, fps=5, threads=1, save=False, start_time="2024-05-01T08:00:00")
    assert {n for n, _ in names} == {here} and len({s for _, s in names}) == 1  # each frame in the calling thread
    names.clear()
    two = analyse(clip, "cam-1", None, model=tiny, settings=settings, fps=5, threads=2, save=False, start_time="2024-05-01T08:00:00")
    assert len(names) == 15 and all(n.startswith("urbanlens-infer") for n, _ in names)
    assert sorted(Counter(s for _, s in names).values()) == [7, 8]  # frame i on segmenter i % 2
    assert one.measurements is not None and two.measurements is not None
    _same_measurements(one.measurements, two.measurements)  # the frames reach the measuring thread in order
    names.clear()
    analyse(clip, "cam-1", None, model=tiny, settings=settings, fps=5, threads=2, smooth=True, save=False,
                 start_time="2024-05-01T08:00:00")
    assert {n for n, _ in names} == {here}  # temporal fusion needs the frames one after another


def test_an_error_in_a_frame_slot_stops_the_clip_and_stores_nothing(
    clip: Path, store: Store, tiny: tuple, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Segmenter.run
    calls: list[int] = []

    def failing(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 4:
            raise VideoError("frame 4 could not be segmented")
        return run(self, *args, **kwargs)

    monkeypatch.setattr(Segmenter, "run", failing)
    with pytest.raises(VideoError, match="frame 4"):
        analyse(clip, "cam-1", store, model=tiny, settings=settings, fps=5, threads=2, start_time="2024-05-01T08:00:00")
    assert _count(store, "frames") == 0 and _count(store, "clips") == 0
    assert not [t for t in threading.enumerate() if t.name.startswith(("urbanlens-infer", "urbanlens-decode", "urbanlens-measure"))]


@pytest.mark.slow
def test_real_espnetv2_two_frames_at_once_is_bit_identical(espnetv2, shared_dir: Path, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    runs = [
        analyse(shared_dir / "samples" / "bikes.mp4", "cam-1", None, model=espnetv2, settings=settings, fps=2, max_frames=6,
                     threads=threads, save=False, start_time="2024-05-01T08:00:00").measurements
        for threads in (1, 2)
    ]
    _same_measurements(*runs)

"""Pipeline benchmark (figures, not asserts): python bench/pipeline_bench.py [--shared ../shared] [--quick]

On bikes.mp4 and car-detection.mp4 with espnetv2-s2 at 384x768 (installed from the ../shared mirror
into a temporary URBANLENS_HOME):

1. end-to-end sampled frames/s of :func:`analytics.footage.pipeline.analyse_clip` (2 sampled frames a
   second; decode, preprocess, inference, measurements, distress heuristic, previews, store write),
   beside pure model inference/s on the same preprocessed frames (one ``session.run`` per frame on
   the raw ONNX graph, inputs already in memory; with the road model, which the analysis runs by default,
   one more ``session.run`` of the road model per frame on its own input, so both models are counted)
   — the ratio's goal is >= 0.9 (``--road-model none``: the segmenter alone); and beside pure
   inference scheduled as the pipeline schedules it (two frames at once on half the threads each,
   :func:`analytics.footage.runner.frame_slots`), so the pipeline's own cost is shown apart from
   what running two frames at once gains;
2. a naive baseline written here: OpenCV decodes every frame in turn, the sampled ones are
   preprocessed, one frame per ``session.run`` (default session options), soft-max, arg-max and
   counts with numpy per-class loops;
3. decode cost at 1, 2 and 5 sampled frames a second: OpenCV (``grab`` every frame, ``retrieve``
   the sampled ones) against PyAV as :class:`analytics.footage.video.VideoReader` uses it (demux index,
   key-frame seeking, only sampled frames converted) and PyAV decoding every frame;
4. flicker on bikes.mp4 with and without temporal smoothing, and what smoothing does to the shares;
5. ``--sections steps``: where the time goes, step by step: every step of the pipeline replayed
   one after another in this thread on the clip's sampled frames (store look-ups, hashing, opening,
   decoding, preprocessing, inference on the raw graph and on the pipeline's graph, each
   measurement, the distress heuristic, previews, the store write), as CPU ms per sampled frame
   (per-clip steps divided by the clip's frames) and its share of the sum. CPU time, unlike wall
   time, hardly moves when other work shares the machine; the table is in docs/performance.md.

Every timing is the median of ``--repeats`` runs, interleaved, on whatever machine runs it; the
load average is printed because on a shared machine other work skews the figures. Beside the
ratio of the medians, the e2e line gives the median of the ratios of each side-by-side pair of
runs (pure inference, then the pipeline): the steadier figure when the load drifts.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import onnxruntime as ort
import pandas as pd
from _timing import Timing, measure

from analytics.footage import runner, scheduling
from analytics.footage.distress import distress_heuristic
from analytics.footage.geometry import frame_geometry
from analytics.footage.measure import class_pixels, confidence_stats, find_objects, group_mask, vehicle_stationarity
from analytics.footage.pipeline import AnalysisOptions, analyse_clip, clip_sha256
from analytics.footage.scheduling import Scheduling
from analytics.footage.segment import Segmenter, model_view, normalise_into, preprocess, session_options
from analytics.footage.stages import CONFIDENCE_STRIDE, STAGES, FrameItem, StageContext, preview_positions, previews
from analytics.footage.temporal import flicker as flicker_share
from analytics.footage.video import open_video, probe
from analytics.models import zoo
from analytics.settings import load_settings
from analytics.store import Store

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' clip writer, tests/clips.py
from tests.clips import write_av  # noqa: E402

CLIPS = ("bikes.mp4", "car-detection.mp4")


def sampled_inputs(path: Path, card, fps: float) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    with open_video(path, fps) as reader:
        return [preprocess(f.image, card)[None] for f in reader]


def road_inputs(path: Path, fps: float, size: tuple[int, int] = (512, 896)) -> list[np.ndarray]:
    """The road model's inputs of the sampled frames: each frame stretched to ``size``, BGR float 0-255, NHWC."""
    with open_video(path, fps) as reader:
        return [cv2.resize(f.image, (size[1], size[0]), interpolation=cv2.INTER_LINEAR).astype(np.float32)[None] for f in reader]


def pure_inference(onnx_path: Path, inputs: list[np.ndarray], threads: int, road: tuple[Path, list[np.ndarray]] | None = None,
                   ) -> Callable[[], None]:
    """Each frame through the raw graph, and through the road model after it when ``road`` = (its ONNX file, its inputs)."""
    sess = ort.InferenceSession(str(onnx_path), sess_options=session_options(threads), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    sess.run(None, {name: inputs[0]})
    road_sess = None if road is None else ort.InferenceSession(str(road[0]), sess_options=session_options(threads),
                                                                providers=["CPUExecutionProvider"])
    road_x = road[1] if road is not None else []
    road_name = road_sess.get_inputs()[0].name if road_sess is not None else ""

    def run() -> None:
        for i, x in enumerate(inputs):
            sess.run(None, {name: x})
            if road_sess is not None:
                road_sess.run(None, {road_name: road_x[i]})

    return run


_SLOTS = runner.frame_slots  # the pipeline's own, even where --one-frame-at-a-time replaces it


def pure_in_slots(onnx_path: Path, inputs: list[np.ndarray], threads: int, road: tuple[Path, list[np.ndarray]] | None = None,
                  ) -> Callable[[], None]:
    """Pure inference scheduled as the pipeline does by default (:func:`analytics.footage.runner.frame_slots`): with two slots,
    frame i on session ``i % 2`` in one of two threads, each session on ``threads // 2`` threads (the road model after it)."""
    slots, per_slot = _SLOTS(threads, False)
    runs = [pure_inference(onnx_path, inputs[i::slots], per_slot, None if road is None else (road[0], road[1][i::slots]))
            for i in range(slots)]
    if slots == 1:
        return runs[0]

    def run() -> None:
        workers = [threading.Thread(target=r) for r in runs]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    return run


def naive(path: Path, onnx_path: Path, card, fps: float) -> Callable[[], int]:  # type: ignore[no-untyped-def]
    """The baseline: decode every frame with OpenCV, one frame per run, numpy per-class loops."""
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    mean = np.array(card.mean, np.float32)
    std = np.array(card.std, np.float32)
    h, w = card.input_height, card.input_width

    def run() -> int:
        cap = cv2.VideoCapture(str(path))
        clip_fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        step = clip_fps / fps
        i, n, next_t = 0, 0, 0.0
        prev = None
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i + 1e-6 >= next_t:
                next_t += step
                fh, fw = frame.shape[:2]
                s = min(w / fw, h / fh)
                rw, rh = round(fw * s), round(fh * s)
                canvas = np.zeros((h, w, 3), np.float32)
                rgb = cv2.cvtColor(cv2.resize(frame, (rw, rh)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
                oy, ox = (h - rh) // 2, (w - rw) // 2
                canvas[oy : oy + rh, ox : ox + rw] = (rgb - mean) / std
                x = canvas.transpose(2, 0, 1)[None].copy()
                logits = sess.run(None, {name: x})[0][0]
                e = np.exp(logits - logits.max(0))
                probs = e / e.sum(0)
                labels = probs.argmax(0)
                conf = probs.max(0)
                counts = [int((labels == c).sum()) for c in range(card.num_classes)]
                _ = (conf.mean(), (conf < 0.5).mean(), counts)
                if prev is not None:
                    _ = (labels != prev).mean()
                prev = labels
                n += 1
            i += 1
        cap.release()
        return n

    return run


def decode_opencv(path: Path, fps: float) -> Callable[[], int]:
    def run() -> int:
        cap = cv2.VideoCapture(str(path))
        clip_fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        step = clip_fps / fps
        i, n, next_t = 0, 0, 0.0
        while cap.grab():
            if i + 1e-6 >= next_t:
                next_t += step
                ok, _ = cap.retrieve()
                n += ok
            i += 1
        cap.release()
        return n

    return run


DECODED: dict[tuple[str, float], int] = {}


def decode_reader(path: Path, fps: float) -> Callable[[], int]:
    def run() -> int:
        with open_video(path, fps) as reader:
            n = sum(1 for _ in reader)
            DECODED[(path.name, fps)] = reader.frames_out
            return n

    return run


def synthetic_clip(folder: Path, seconds: int = 60, fps: int = 25, gop: int = 25) -> Path:
    """A 1280x720 H.264 clip with a key frame every second (as many cameras write): where seeking pays."""
    base = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    return write_av(
        folder / f"synthetic-720p-{seconds}s-gop{gop}.mp4", seconds * fps, fps=fps, size=(1280, 720), gop=gop,
        options={"preset": "ultrafast", "keyint_min": str(gop), "sc_threshold": "0"},
        paint=lambda i, w, h: np.roll(base, 8 * i, axis=1),
    )


def decode_pyav_all(path: Path, fps: float) -> Callable[[], int]:
    """PyAV decoding every frame (no seeking), converting only the sampled ones."""
    def run() -> int:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            s.thread_type = "AUTO"
            step = 1.0 / fps
            n, next_t = 0, 0.0
            for frame in c.decode(s):
                t = float(frame.time or 0.0)
                if t + 5e-4 >= next_t:
                    next_t += step
                    frame.to_ndarray(format="bgr24")
                    n += 1
            return n

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="one repeat, skip the naive baseline on car-detection")
    ap.add_argument("--one-frame-at-a-time", action="store_true",
                    help="the pipeline segments one frame at a time on all threads (as before two frame slots)")
    ap.add_argument("--nice-only", action="store_true",
                    help="background threads at nice 10 without the idle policy, as for a user without CAP_SYS_NICE")
    ap.add_argument("--road-model", default="road-segmentation-adas-0001", help="road model the analysis runs ('none': the segmenter alone)")
    ap.add_argument("--sections", default="e2e,naive,batch,decode,flicker",
                    help="comma-separated sections to run (e2e, naive, batch, decode, flicker, steps)")
    args = ap.parse_args()
    if args.one_frame_at_a_time:
        runner.frame_slots = lambda threads, sequential: (1, threads)
    if args.nice_only:
        scheduling.idle_policy_reversible = lambda: False
    sections = set(args.sections.split(","))
    repeats = 1 if args.quick else args.repeats
    samples = args.shared / "samples"
    home = Path(tempfile.mkdtemp(prefix="urbanlens-bench-"))
    settings = dataclasses.replace(load_settings(), home=home, db_path=home / "bench.duckdb",
                                   model_mirror=args.shared / "models", threads=args.threads)
    model = zoo.install("espnetv2-s2", settings, size=(384, 768))
    road = zoo.with_road(model, args.road_model, settings).road
    print(f"road model: {road.name if road is not None else 'none'}")
    card = model.card
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; ORT threads {args.threads}; "
          f"model {card.name} {card.input_height}x{card.input_width}; median of {repeats}")
    try:
        run_sections(args, sections, samples, home, settings, model, repeats, road.onnx_path if road is not None else None)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run_sections(args, sections, samples, home, settings, model, repeats, road_onnx=None) -> None:  # type: ignore[no-untyped-def]
    card = model.card
    if "e2e" in sections:
        print("\n== end-to-end vs pure inference vs naive (2 sampled frames a second) ==")
    for name in CLIPS if "e2e" in sections else ():
        path = samples / name
        inputs = sampled_inputs(path, card, 2.0)
        n = len(inputs)
        road = None if road_onnx is None else (road_onnx, road_inputs(path, 2.0))
        infer = pure_inference(model.onnx_path, inputs, args.threads, road)
        infer_slots = pure_in_slots(model.onnx_path, inputs, args.threads, road)
        options = AnalysisOptions.from_flags(fps=2.0, model=model, threads=args.threads, start_time="2024-01-01T00:00:00",
                                             road_model=args.road_model)
        analyse_clip(path, "bench", None, options.replace(max_frames=1, keep_previews=0), settings)  # warm-up: builds the cached session
        infs, slotted, e2es = [], [], []
        for _ in range(repeats):  # interleaved, so all see the same machine load
            infs.append(measure(infer, 1, warmup=0))
            slotted.append(measure(infer_slots, 1, warmup=0))
            with Store(home / f"e2e-{time.monotonic_ns()}.duckdb") as store:
                store.upsert_cameras(pd.DataFrame({"camera_id": ["bench"], "name": ["b"], "lon": [0.0], "lat": [0.0]}))
                e2es.append(measure(lambda store=store, path=path, options=options: analyse_clip(
                    path, "bench", store, options, settings), 1, warmup=0))
        inf_t, slot_t, e2e_t = Timing.join(infs), Timing.join(slotted), Timing.join(e2es)
        inf, e2e = n / inf_t.median, n / e2e_t.median
        cpu_inf, cpu_e2e = inf_t.cpu_median / n, e2e_t.cpu_median / n
        paired = statistics.median(i.median / e.median for i, e in zip(infs, e2es, strict=True))
        line = (
            f"{name}: {n} sampled frames | wall: pure inference {inf:.2f} frames/s, end-to-end {e2e:.2f} frames/s, "
            f"ratio {e2e / inf:.2f} (median of the {repeats} side-by-side ratios {paired:.2f}) | CPU: inference "
            f"{cpu_inf * 1000:.0f} ms/frame, end-to-end {cpu_e2e * 1000:.0f} ms/frame, ratio {cpu_inf / cpu_e2e:.2f}"
            f" | pure inference in two frame slots ({'x'.join(map(str, _SLOTS(args.threads, False)))}"
            f" frames x threads): {n / slot_t.median:.2f} frames/s, end-to-end ratio to it {slot_t.median / e2e_t.median:.2f}"
            f" (paired {statistics.median(s.median / e.median for s, e in zip(slotted, e2es, strict=True)):.2f})"
        )
        if "naive" in sections and not (args.quick and name != CLIPS[0]):
            naive_t = measure(naive(path, model.onnx_path, card, 2.0), 1, warmup=0)
            cpu_naive = naive_t.cpu_median / n
            line += (
                f" | naive: {n / naive_t.median:.2f} frames/s, {cpu_naive * 1000:.0f} ms CPU/frame "
                f"(end-to-end {naive_t.ratio(e2e_t):.2f}x faster by wall, {naive_t.ratio(e2e_t, cpu=True):.2f}x by CPU)"
            )
        print(line, flush=True)

    if "steps" in sections:
        for name in CLIPS:
            steps(samples / name, home, settings, model, args, repeats)
    if "batch" in sections:
        batching(samples, card, model, args, repeats)
    if "decode" in sections:
        decoding(samples, home, repeats)
    if "flicker" in sections:
        flicker(samples, model, settings, args)


def _cpu_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median CPU milliseconds (this process, all threads) of ``fn`` over ``repeats`` runs."""
    return measure(fn, repeats, warmup=0).cpu_median * 1000


def _store_with_camera(path: Path) -> Store:
    store = Store(path)
    store.upsert_cameras(pd.DataFrame({"camera_id": ["bench"], "name": ["b"], "lon": [0.0], "lat": [0.0]}))
    return store


def steps(path: Path, home: Path, settings, model, args, repeats) -> None:  # type: ignore[no-untyped-def]
    """The pipeline's steps one after another on one clip: CPU ms per sampled frame and share."""
    card, cs = model.card, model.card.class_set
    with open_video(path, 2.0) as reader:
        images = [f.image for f in reader]
    n = len(images)
    g = frame_geometry(*images[0].shape[:2], card.input_height, card.input_width, card.resize)
    views = [model_view(im, g, card.resize) for im in images]
    xs = [normalise_into(v, card, g, np.empty((3, card.input_height, card.input_width), np.float32)) for v in views]
    seg = Segmenter(model.onnx_path, card, args.threads, confidence_stride=CONFIDENCE_STRIDE)
    raw = ort.InferenceSession(str(model.onnx_path), sess_options=session_options(args.threads), providers=["CPUExecutionProvider"])
    iname = raw.get_inputs()[0].name
    segs = [seg.run(x[None], [g])[0] for x in xs]
    outs = [s.content() for s in segs]
    labels = [lab for lab, _ in outs]
    confs = [c[:: CONFIDENCE_STRIDE, :: CONFIDENCE_STRIDE] for _, c in outs]
    prevs = [None, *labels[:-1]]
    veh, road = cs.class_ids("vehicle"), cs.class_ids("road")
    keep = preview_positions(n, 3)
    options = AnalysisOptions.from_flags(fps=2.0, model=model, threads=args.threads, start_time="2024-01-01T00:00:00")
    result = analyse_clip(path, "bench", None, options, settings)
    stores = [_store_with_camera(home / f"steps-{time.monotonic_ns()}-{i}.duckdb") for i in range(repeats)]

    def lookups() -> None:
        store = stores[0]
        with store.reading():
            store.camera("bench")
            store.zones("bench")
            store.is_ingested("0" * 64, "key")

    def ingest() -> None:
        stores.pop().ingest(result.measurements)  # type: ignore[arg-type]

    def decode() -> None:
        with open_video(path, 2.0, decode_threads=runner.DECODE_THREADS) as reader:
            for _ in reader:
                pass

    def measurer() -> None:
        m = runner.StageThread([stage() for stage in STAGES], StageContext(card, None, settings.low_confidence, keep), Scheduling())
        for i in range(n):
            m.frame(FrameItem(i, i, 0.0, views[i], np.empty(0, np.float32), g), segs[i])
        m.finish()

    per_clip: dict[str, Callable[[], object]] = {
        "store look-ups (camera, zones, ingested?)": lookups,
        "hash the clip (SHA-256)": lambda: clip_sha256(path),
        "open (probe, demux index)": lambda: open_video(path, 2.0).close(),
        "store write (one transaction)": ingest,
    }
    per_frame: dict[str, Callable[[], object]] = {
        "decode (PyAV, sampled frames to BGR)": decode,
        "resize to model size (model_view)": lambda: [model_view(im, g, card.resize) for im in images],
        "normalise into the input tensor": lambda: [
            normalise_into(v, card, g, np.empty((3, card.input_height, card.input_width), np.float32)) for v in views],
        "inference, raw graph (the baseline)": lambda: [raw.run(None, {iname: x[None]}) for x in xs],
        "inference + arg-max/confidence nodes": lambda: [seg.run(x[None], [g]) for x in xs],
        "class pixels": lambda: [class_pixels(lab, cs.num_classes) for lab in labels],
        "confidence statistics": lambda: [confidence_stats(c, settings.low_confidence) for c in confs],
        "vehicle stationarity": lambda: [
            vehicle_stationarity(None if p is None else group_mask(p, veh), group_mask(lab, veh)) for p, lab in zip(prevs, labels)],
        "objects (connected components)": lambda: [find_objects(lab, cs, g) for lab in labels],
        "flicker": lambda: [flicker_share(p, lab) for p, lab in zip(prevs, labels)],
        "distress heuristic": lambda: [distress_heuristic(v, group_mask(lab, road)) for v, lab in zip(views, labels)],
        "previews (3 a clip: anonymise, overlay, JPEG)": lambda: [
            previews(i, views[i], labels[i], cs, False) for i in sorted(keep)],
        "measure thread, all of the above but decode/inference": measurer,
    }
    rows = [(k, _cpu_ms(fn, repeats) / n) for k, fn in {**per_clip, **per_frame}.items()]
    base = dict(rows)["inference, raw graph (the baseline)"]
    total = sum(v for k, v in rows if not k.startswith(("inference, raw", "measure thread")))
    print(f"\n== steps on {path.name}: {n} sampled frames, CPU ms per sampled frame (median of {repeats}), "
          f"load average {os.getloadavg()[0]:.1f} ==")
    for k, v in rows:
        share = "" if k.startswith(("inference, raw", "measure thread")) else f"{v / total:6.1%}"
        print(f"{k:<56s} {v:8.2f} ms {share}")
    print(f"{'sum of the steps (pipeline graph)':<56s} {total:8.2f} ms; outside the raw graph {total - base:.2f} ms "
          f"({(total - base) / total:.1%})")


def batching(samples, card, model, args, repeats) -> None:  # type: ignore[no-untyped-def]
    print("\n== batching: inference per frame at batch 1, 2, 4 (raw graph, same frames) ==")
    inputs = sampled_inputs(samples / "bikes.mp4", card, 1.0)[:8]
    sess = ort.InferenceSession(str(model.onnx_path), sess_options=session_options(args.threads), providers=["CPUExecutionProvider"])
    iname = sess.get_inputs()[0].name
    for bs in (1, 2, 4):
        batches = [np.concatenate(inputs[i : i + bs]) for i in range(0, 8, bs)]
        sess.run(None, {iname: batches[0]})
        t = measure(lambda batches=batches: [sess.run(None, {iname: b}) for b in batches], repeats, warmup=0).median
        print(f"batch {bs}: {t / 8 * 1000:.0f} ms a frame")


def decoding(samples, home, repeats) -> None:  # type: ignore[no-untyped-def]
    print("\n== decode cost (ms per clip; [sampled frames]; frames the reader decoded of the clip's total) ==")
    synthetic = synthetic_clip(home)
    for path in [samples / name for name in CLIPS] + [synthetic]:
        name = path.name
        total = probe(path).n_frames
        for fps in (1.0, 2.0, 5.0):
            cells = []
            for label, make in (("OpenCV grab+retrieve", decode_opencv), ("PyAV reader (seek)", decode_reader),
                                ("PyAV decode all", decode_pyav_all)):
                fn = make(path, fps)
                k = fn()
                cells.append(f"{label} {measure(fn, max(3, repeats), warmup=0).median * 1000:.0f} ms [{k}]")
            print(f"{name} @ {fps:g}/s: " + " | ".join(cells) + f" | reader decoded {DECODED[(name, fps)]} of {total} frames")


def flicker(samples, model, settings, args) -> None:  # type: ignore[no-untyped-def]
    print("\n== flicker on bikes.mp4 (2 sampled frames a second) ==")
    for smooth in (False, True):
        options = AnalysisOptions.from_flags(fps=2.0, smooth=smooth, model=model, threads=args.threads, start_time="2024-01-01T00:00:00")
        r = analyse_clip(samples / "bikes.mp4", "bench", None, options, settings)
        m = r.measurements
        assert m is not None
        shares = m.class_pixels.sum(0) / m.class_pixels.sum()
        names = m.run.class_set.class_names
        top = ", ".join(f"{names[c]} {shares[c]:.1%}" for c in np.argsort(shares)[::-1][:4])
        print(f"smoothing {m.run.smoothing:8s}: mean flicker {np.nanmean(m.flicker):.3f} (median {np.nanmedian(m.flicker):.3f}); "
              f"person+rider {shares[11] + shares[12]:.1%}; {top}")


if __name__ == "__main__":
    main()

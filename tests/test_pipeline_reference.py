"""The pipeline's fast paths give the numbers of a straightforward implementation.

The measurements run beside the model on the same cores, so they take shortcuts (table look-ups
for masks, connected components and blurs inside bounding boxes, a histogram median, OpenCV
single-threaded, the clip hashed while it is decoded). Here a synthetic street clip, whose frames
hold many people, cars, bicycles and road cracks, is analysed by :func:`analyse_clip` and again
step by step by the plain formulas below (whole-frame numpy masks, whole-frame components,
``np.median``): every stored number, object box and preview must be the same.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import write_cv2
from tinymodels import bgr, colour_card, colour_model

from analytics.errors import InputError
from analytics.footage import distress as D
from analytics.footage import privacy as P
from analytics.footage.overlay import overlay
from analytics.footage.pipeline import AnalysisOptions, analyse_clip, clip_sha256
from analytics.footage.privacy import preview_jpeg
from analytics.footage.segment import Segmenter, model_view
from analytics.footage.stages import CONFIDENCE_STRIDE, preview_positions, previews
from analytics.footage.video import open_video
from analytics.records import OBJECT_GROUPS
from analytics.settings import Settings, load_settings
from analytics.taxonomy import CITYSCAPES, ClassSet

FW, FH = 160, 96  # frame size; the 128x64 model sees it letterboxed to 107x64, between padding columns


def _paint(i: int, w: int, h: int) -> np.ndarray:
    """Sky, road with dark cracks, buildings; people, bicycles and cars that move, touch and part."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 3] = bgr(10)
    img[h // 3 :] = bgr(0)
    img[: h // 3, 120:] = bgr(2)
    cv2.line(img, (10, 80), (70, 88), (92, 92, 92), 1)  # a crack: darker than the road, still road to the model
    cv2.circle(img, (110, 85), 5, (90, 90, 90), -1)  # a pothole-like dark blob
    for k in range(3):  # people walking at different speeds, one next to a bicycle
        x = (7 + 9 * k + (2 + k) * i) % (w - 12)
        img[30 + 5 * k : 62 + 5 * k, x : x + 6 + k] = bgr(11)
    img[50:66, (40 + 3 * i) % 140 : (40 + 3 * i) % 140 + 14] = bgr(18)
    img[60:80, 100:150] = bgr(13)  # a parked car
    img[40:44, (5 * i) % 150 : (5 * i) % 150 + 4] = bgr(13)  # a small moving car
    return img


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    return (colour_card(64, 128), colour_model(tmp_path_factory.mktemp("ref") / "colours.onnx", height=64, width=128))


def _mask(labels: np.ndarray, ids: tuple[int, ...]) -> np.ndarray:
    lut = np.zeros(256, bool)
    lut[list(ids)] = True
    return lut[labels]


def _objects(labels: np.ndarray, cs: ClassSet, g, min_area: int) -> list[tuple]:  # type: ignore[no-untyped-def]
    """Whole-frame connected components of each object group, boxes mapped back to frame pixels."""
    cy0, _, cx0, _ = g.content
    ax, bx, ay, by = 1 / g.scale_x, (cx0 - g.offset_x) / g.scale_x, 1 / g.scale_y, (cy0 - g.offset_y) / g.scale_y
    out = []
    for group in OBJECT_GROUPS:
        n, _, stats, _ = cv2.connectedComponentsWithStats(_mask(labels, cs.class_ids(group)).astype(np.uint8), connectivity=8)
        for x, y, w, h, area in stats[1:n]:
            if area >= min_area:
                out.append((group, math.floor(ax * x + bx), math.floor(ay * y + by), math.ceil(ax * (x + w) + bx),
                            math.ceil(ay * (y + h) + by), round(area * ax * ay)))
    return out


def _distress(view: np.ndarray, road: np.ndarray) -> tuple[int, int]:
    """The distress heuristic as its module doc says, with np.nonzero and np.median."""
    er = cv2.erode(road.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * D.ROAD_ERODE + 1,) * 2)).astype(bool)
    if np.count_nonzero(er) < D.MIN_AREA * 4:
        return 0, 0
    ys, xs = np.nonzero(er)
    y0, y1 = max(0, ys.min() - D.KERNEL), min(road.shape[0], ys.max() + 1 + D.KERNEL)
    x0, x1 = max(0, xs.min() - D.KERNEL), min(road.shape[1], xs.max() + 1 + D.KERNEL)
    grey = cv2.cvtColor(view[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    black = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (D.KERNEL,) * 2)).astype(np.float32)
    sub = er[y0:y1, x0:x1]
    vals = black[sub]
    thr = max(D.MIN_CONTRAST, D.K_MAD * 1.4826 * float(np.median(np.abs(vals - np.median(vals)))))
    n, cc, stats, _ = cv2.connectedComponentsWithStats(((black > thr) & sub).astype(np.uint8), connectivity=8)
    crack = hole = 0
    for i in range(1, n):
        if stats[i, 4] >= D.MIN_AREA:
            t, s = D.component_shape(cc == i)
            crack += int(stats[i, 4]) if t <= D.MAX_CRACK_THICKNESS and s >= D.MIN_CRACK_SLENDERNESS else 0
            hole += int(stats[i, 4]) if t > D.MAX_CRACK_THICKNESS and s < D.MAX_POTHOLE_SLENDERNESS else 0
    return crack, hole


def _anonymised(view: np.ndarray, labels: np.ndarray, cs: ClassSet) -> np.ndarray:
    """People and plates hidden as the privacy module doc says, on the whole image."""
    h, w = labels.shape
    hide = np.zeros((h, w), np.uint8)
    person = _mask(labels, cs.class_ids("person")).astype(np.uint8)
    r = max(2, round(P.PERSON_MARGIN * w))
    hide |= cv2.dilate(person, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
    n, _, st, _ = cv2.connectedComponentsWithStats(person, connectivity=8)
    for x, y, bw, bh, _a in st[1:n]:
        gx, gy = int(P.PERSON_BOX_GROW * bw) + r, int(P.PERSON_BOX_GROW * bh) + r
        hide[max(0, y - gy) : y + bh + gy, max(0, x - gx) : x + bw + gx] = 1
    n, _, st, _ = cv2.connectedComponentsWithStats(_mask(labels, cs.class_ids("two_wheeler")).astype(np.uint8), connectivity=8)
    for x, y, bw, bh, _a in st[1:n]:
        hide[max(0, y - int(P.RIDER_ABOVE * bh)) : y + bh, x : x + bw] = 1
    n, _, st, _ = cv2.connectedComponentsWithStats(_mask(labels, cs.class_ids("vehicle")).astype(np.uint8), connectivity=8)
    for x, y, bw, bh, a in st[1:n]:
        hide[y if a < P.SMALL_VEHICLE_SHARE * h * w else y + int(bh * (1 - P.PLATE_SHARE)) : y + bh, x : x + bw] = 1
    if not hide.any():
        return view.copy()
    b = P.block_size(w)
    mosaic = cv2.resize(cv2.resize(view, (max(1, w // b), max(1, h // b)), interpolation=cv2.INTER_AREA), (w, h),
                        interpolation=cv2.INTER_NEAREST)
    out = view.copy()
    out[hide.astype(bool)] = cv2.GaussianBlur(mosaic, (b | 1, b | 1), 0)[hide.astype(bool)]
    return out


def test_fast_paths_give_the_reference_measurements(tmp_path: Path, model: tuple) -> None:
    settings: Settings = load_settings()
    clip = write_cv2(tmp_path / "busy.avi", 40, fps=10, size=(FW, FH), paint=_paint)
    options = AnalysisOptions.from_flags(fps=4, model=model, keep_previews=3, start_time="2024-05-01T08:00:00", review_width=1280,
                                       road_model="none")
    r = analyse_clip(clip, "cam-1", None, options, settings)
    m = r.measurements
    assert m is not None and m.n == 16 and m.clip.sha256 == clip_sha256(clip)

    card, cs = model[0], model[0].class_set
    seg = Segmenter(model[1], card, 1, confidence_stride=CONFIDENCE_STRIDE)
    with open_video(clip, 4) as reader:
        frames = [f.image for f in reader]
    prev = prev_v = None
    objects, previews, review = [], [], []
    keep = preview_positions(len(frames), 3)
    for i, frame in enumerate(frames):
        s = seg.segment(frame)
        labels, conf = s.content()
        conf = conf[::CONFIDENCE_STRIDE, ::CONFIDENCE_STRIDE]
        view = model_view(frame, s.geometry, card.resize)
        vehicle = _mask(labels, cs.class_ids("vehicle"))
        assert m.class_pixels[i].tolist() == np.bincount(labels.ravel(), minlength=cs.num_classes).tolist()
        assert m.mean_confidence[i] == pytest.approx(float(conf.mean(dtype=np.float64)), abs=1e-9)
        assert m.low_conf_share[i] == np.count_nonzero(conf < settings.low_confidence) / conf.size
        flicker = np.nan if prev is None else np.count_nonzero(prev != labels) / labels.size
        stat = np.nan if prev_v is None or not prev_v.any() or not vehicle.any() else np.count_nonzero(vehicle & prev_v) / np.count_nonzero(vehicle)
        np.testing.assert_equal([m.flicker[i], m.vehicle_stationarity[i]], [flicker, stat])
        found = _objects(labels, cs, s.geometry, max(20, round(0.001 * labels.size)))
        assert m.object_counts[i].tolist() == [sum(o[0] == g for o in found) for g in OBJECT_GROUPS]
        objects += [(i, *o) for o in found]
        assert (m.distress_crack_px[i], m.distress_pothole_px[i]) == _distress(view, _mask(labels, cs.class_ids("road")))
        if i in keep:
            image = _anonymised(view, labels, cs)
            previews += [preview_jpeg(image), preview_jpeg(overlay(image, labels, cs, alpha=0.45))]
            review += [preview_jpeg(image, 1280), preview_jpeg(overlay(image, labels, cs, alpha=0.45), 1280)]
        prev, prev_v = labels.copy(), vehicle

    assert m.objects.to_records(index=False).tolist() == objects
    assert len(objects) > 40 and m.object_counts.sum(0).min() > 0  # every group is there, in many frames
    assert np.nansum(m.distress_crack_px) > 0 or np.nansum(m.distress_pothole_px) > 0  # the heuristic found the marks
    assert [p.image for p in m.previews] == previews  # stored previews: the same bytes with or without a review
    assert [p.image for p in r.review_previews] == review and r.previews == m.previews  # review ones: beside, not stored


def test_review_previews_are_larger_and_stored_ones_keep_their_size() -> None:
    view = np.random.default_rng(5).integers(0, 255, (900, 1600, 3), dtype=np.uint8)
    labels = np.zeros((900, 1600), np.uint8)
    kept = previews(7, view, labels, CITYSCAPES, raw=True, review_width=1280)
    widths = [cv2.imdecode(np.frombuffer(p.image, np.uint8), cv2.IMREAD_COLOR).shape[1] for p in kept]
    assert [(p.frame_pos, p.kind) for p in kept] == [(7, "frame"), (7, "overlay")] * 2 and widths == [480, 480, 1280, 1280]
    assert [p.image for p in kept[:2]] == [p.image for p in previews(7, view, labels, CITYSCAPES, raw=True)]
    with pytest.raises(InputError, match="review_width=100; expected 0"):
        AnalysisOptions(review_width=100)


def test_opencv_threads_are_given_back(tmp_path: Path, model: tuple) -> None:
    before = cv2.getNumThreads()
    clip = write_cv2(tmp_path / "busy.avi", 5, fps=10, size=(FW, FH), paint=_paint)
    analyse_clip(clip, "cam-1", None, AnalysisOptions.from_flags(fps=10, model=model, keep_previews=0, road_model="none", start_time="2024-05-01T08:00:00"),
                 load_settings())
    assert cv2.getNumThreads() == before

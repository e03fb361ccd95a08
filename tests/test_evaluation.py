"""Evaluation against ground truth: metrics on hand-made masks, readers on tiny files, label maps,
the scoring rule with the tiny colour model, the evaluations table, and a few real CamVid frames."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from evaldata import (
    camvid_mask,
    cvat_files,
    paint,
    scene,
    write_camvid,
    write_cityscapes,
    write_png,
    write_tree,
    write_zip,
)
from tinymodels import colour_card, colour_model

from analytics.errors import DataFormatError, InputError
from analytics.evaluation import archives, readers
from analytics.evaluation.adjust import choose_evaluation
from analytics.evaluation.labelmaps import (
    LabelMap,
    annotation_groups,
    builtin_label_maps,
    default_label_map,
    indicator_classes,
    label_lut,
    load_label_map,
)
from analytics.evaluation.metrics import (
    IGNORE,
    bootstrap_interval,
    confusion_matrix,
    fw_iou,
    indicator_errors,
    iou_per_class,
    mean_iou,
    pixel_accuracy,
    summarise_errors,
)
from analytics.evaluation.readers import read_camvid, read_cityscapes, read_cvat_mask, read_ground_truth
from analytics.evaluation.run import evaluate
from analytics.models.zoo import InstalledModel
from analytics.store import EvaluationRow, Store, list_evaluations, save_evaluation
from analytics.taxonomy import CITYSCAPES

NAN = float("nan")


# -- metrics ------------------------------------------------------------------------------------
def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


@pytest.mark.parametrize(
    ("truth", "pred", "k", "iou", "miou", "acc", "fw"),
    [
        # perfect: every class found exactly
        ([[0, 0, 1, 2]], [[0, 0, 1, 2]], 3, [1.0, 1.0, 1.0], 1.0, 1.0, 1.0),
        # all wrong: classes swapped, no overlap anywhere
        ([[0, 0, 1, 1]], [[1, 1, 0, 0]], 2, [0.0, 0.0], 0.0, 0.0, 0.0),
        # one class missing from truth and prediction: its IoU is undefined, not zero, and not averaged
        ([[0, 0, 1, 1]], [[0, 1, 1, 1]], 3, [0.5, 2 / 3, NAN], (0.5 + 2 / 3) / 2, 0.75, 0.5 * 0.5 + 0.5 * 2 / 3),
        # a class predicted but absent from the truth: IoU 0, weight 0 in fwIoU
        ([[0, 0, 0, 0]], [[0, 0, 0, 1]], 2, [0.75, 0.0], 0.375, 0.75, 0.75),
        # void everywhere in the truth: nothing scored, every score undefined
        ([[255, 255, 255]], [[0, 1, 0]], 2, [NAN, NAN], NAN, NAN, NAN),
        # a void prediction on a labelled pixel is not scored (the remaining pixels are perfect)
        ([[0, 1, 1]], [[0, 255, 1]], 2, [1.0, 1.0], 1.0, 1.0, 1.0),
    ],
)
def test_metrics_on_hand_made_masks(truth: list, pred: list, k: int, iou: list, miou: float, acc: float, fw: float) -> None:
    cm = confusion_matrix(np.array(truth), np.array(pred), k)
    assert all(_same(a, b) for a, b in zip(iou_per_class(cm).tolist(), iou, strict=True))
    assert _same(mean_iou(cm), miou)
    assert _same(pixel_accuracy(cm), acc)
    assert _same(fw_iou(cm), fw)


@pytest.mark.parametrize(
    ("truth", "pred", "k", "message"),
    [
        (np.zeros((2, 2), int), np.zeros((2, 3), int), 2, "same size"),  # shapes differ
        (np.zeros((2, 2), int), np.full((2, 2), 5), 2, r"class id\(s\) \[5\]"),  # prediction outside 0..k-1
        (np.zeros((2, 2), float), np.zeros((2, 2), int), 2, "integer array"),  # not class ids
        (np.zeros((2, 2), int), np.zeros((2, 2), int), 0, "num_classes"),  # no classes
    ],
)
def test_confusion_matrix_refuses_bad_input(truth: np.ndarray, pred: np.ndarray, k: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        confusion_matrix(truth, pred, k)


def test_indicator_errors_per_image_and_bootstrap() -> None:
    # image 1: truth 8/10 vegetation, prediction 6/10; image 2: truth 0/4, prediction 1/4; image 3: nothing scored
    cms = np.array([[[6, 2], [0, 2]], [[0, 0], [1, 3]], [[0, 0], [0, 0]]])
    err = indicator_errors(cms, {"green_view": [0], "sky_view": []})
    assert list(err) == ["green_view"]  # an indicator the annotation cannot see is left out
    assert np.allclose(err["green_view"][:2], [-20.0, 25.0]) and math.isnan(err["green_view"][2])
    s = summarise_errors(err["green_view"])
    assert (s.bias, s.mae, s.n) == (pytest.approx(2.5), pytest.approx(22.5), 2)
    assert s.bias_low <= s.bias <= s.bias_high and s.mae_low <= s.mae <= s.mae_high
    assert summarise_errors(err["green_view"]) == s  # fixed seed: the same intervals every time
    values = np.arange(50.0)
    assert bootstrap_interval(values, lambda r: r.mean(axis=1), seed=1) != bootstrap_interval(values, lambda r: r.mean(axis=1), seed=2)
    empty = summarise_errors(np.array([NAN]))
    assert empty.n == 0 and math.isnan(empty.bias)


# -- readers ------------------------------------------------------------------------------------
def _decoded(gt: readers.GroundTruth, i: int = 0) -> np.ndarray:
    s = gt.samples[i]
    return gt.decode_mask(s.mask.read(), s.mask.name)


def test_camvid_reader(tmp_path: Path) -> None:
    images, masks = write_camvid(tmp_path, n=2)
    gt = read_camvid(images, masks)
    assert gt.format == "camvid" and len(gt.class_names) == 11 and gt.groups is not None
    assert dict(zip(gt.class_names, gt.groups))["Bicyclist"] == "two_wheeler"
    assert [s.name for s in gt.samples] == ["f0", "f1"]
    mask = _decoded(gt)
    assert (mask[0] == IGNORE).all()  # value 11 (unlabelled) is not scored
    assert set(np.unique(mask[1:]).tolist()) == {0, 1, 3, 5}


def test_cityscapes_reader(tmp_path: Path) -> None:
    images, masks = write_cityscapes(tmp_path)
    gt = read_cityscapes(images, masks)
    assert [s.name for s in gt.samples] == ["aachen_000000_000019", "bonn_000000_000019"]  # *_color.png left alone
    assert gt.class_names[13] == "car" and len(gt.class_names) == 19
    mask = _decoded(gt)
    assert (mask[0] == IGNORE).all()  # ego vehicle has no train id
    assert np.array_equal(mask[1:], scene()[1:])  # label ids became train ids


@pytest.mark.parametrize("packed", ["folder", "zip"])
def test_cvat_reader(tmp_path: Path, packed: str) -> None:
    files = cvat_files(n=2)
    export = write_tree(tmp_path / "export", files) if packed == "folder" else write_zip(tmp_path / "export.zip", files)
    gt = read_cvat_mask(export)
    assert gt.class_names == ("sky", "building", "road", "tree") and gt.groups is None  # background is not a class
    assert [s.name for s in gt.samples] == ["frame_000000", "frame_000001"]
    mask = _decoded(gt)
    assert (mask[0] == IGNORE).all()  # background
    expected = np.vectorize({10: 0, 2: 1, 0: 2, 8: 3}.get)(scene())
    assert np.array_equal(mask[1:], expected[1:])


def test_cvat_reader_takes_images_from_a_folder(tmp_path: Path) -> None:
    export = write_zip(tmp_path / "export.zip", cvat_files(n=2, with_images=False))
    with pytest.raises(InputError, match="give --images"):
        read_cvat_mask(export)
    for i in range(2):
        write_png(tmp_path / "frames" / f"frame_{i:06d}.png", paint(scene(shift=i)))
    gt = read_ground_truth("cvat-mask", export, tmp_path / "frames")
    assert len(gt.samples) == 2 and gt.samples[0].image.path.parent.name == "frames"


def _camvid_with(tmp_path: Path, change: str) -> tuple[Path, Path]:
    images, masks = write_camvid(tmp_path, n=2)
    if change == "image without mask":
        (masks / "f1.png").unlink()
    elif change == "mask without image":
        (images / "f1.png").unlink()
    elif change == "empty folders":
        for p in [*images.iterdir(), *masks.iterdir()]:
            p.unlink()
    return images, masks


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("image without mask", r"1 image\(s\) have no mask: f1.png"),
        ("mask without image", r"1 mask\(s\) have no image: f1.png"),
        ("empty folders", "no images and no masks found"),
    ],
)
def test_readers_refuse_unpaired_or_empty_sets(tmp_path: Path, change: str, message: str) -> None:
    images, masks = _camvid_with(tmp_path, change)
    with pytest.raises(InputError, match=message):
        read_camvid(images, masks)


def test_mask_decoders_refuse_unknown_values(tmp_path: Path) -> None:
    bad = write_png(tmp_path / "bad.png", np.array([[0, 12, 40]], np.uint8)).read_bytes()
    with pytest.raises(DataFormatError, match=r"bad.png holds unknown class value\(s\) \[12, 40\]"):
        readers.decode_camvid(bad, "bad.png")
    with pytest.raises(DataFormatError, match=r"unknown class value\(s\) \[40\]"):
        readers.decode_cityscapes(bad, "bad.png")
    colour = write_png(tmp_path / "colour.png", np.zeros((2, 2, 3), np.uint8)).read_bytes()
    with pytest.raises(DataFormatError, match="single-channel"):
        readers.decode_camvid(colour, "colour.png")


def test_cvat_refuses_unlisted_colours_and_bad_labelmaps(tmp_path: Path) -> None:
    files = cvat_files(n=1)
    mask = np.zeros((32, 64, 3), np.uint8)
    mask[5, 5] = (1, 2, 3)  # BGR of an RGB colour labelmap.txt does not list
    files["SegmentationClass/frame_000000.png"] = cv2.imencode(".png", mask)[1].tobytes()
    gt = read_cvat_mask(write_tree(tmp_path / "a", files))
    with pytest.raises(DataFormatError, match=r"colour\(s\) \(3,2,1\) that labelmap.txt does not list"):
        _decoded(gt)
    files["labelmap.txt"] = b"car:300,0,0::\n"
    with pytest.raises(DataFormatError, match="line 1"):
        read_cvat_mask(write_tree(tmp_path / "b", files))
    del files["labelmap.txt"]
    with pytest.raises(DataFormatError, match="no labelmap.txt"):
        read_cvat_mask(write_tree(tmp_path / "c", files))


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("../evil.png", "points outside the archive"),  # climbs out of the folder it would be unpacked into
        ("SegmentationClass/../../evil.png", "points outside the archive"),
        ("/etc/evil.png", "points outside the archive"),  # absolute
    ],
)
def test_zip_with_unsafe_paths_is_refused(tmp_path: Path, member: str, message: str) -> None:
    files = cvat_files(n=1)
    files[member] = b"x"
    with pytest.raises(DataFormatError, match=message):
        read_cvat_mask(write_zip(tmp_path / "export.zip", files))


def test_zip_with_oversize_member_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export = write_zip(tmp_path / "export.zip", cvat_files(n=1))
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 100)
    with pytest.raises(DataFormatError, match="over the 0 MB limit"):
        read_cvat_mask(export)


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="accepted: camvid, cityscapes, cvat-mask"):
        read_ground_truth("voc", tmp_path, tmp_path)


# -- label maps ---------------------------------------------------------------------------------
def test_builtin_label_maps() -> None:
    assert builtin_label_maps() == ("cityscapes-camvid", "cityscapes-cityscapes")
    camvid = load_label_map("cityscapes-camvid")
    assert len(camvid.pairs) == 19 and "background" not in camvid.as_dict()  # background is void
    lut = label_lut(camvid, CITYSCAPES, [c for c, _ in readers.CAMVID_CLASSES])
    assert lut[CITYSCAPES.class_names.index("truck")] == 8 and lut[19] == IGNORE
    same = load_label_map("cityscapes-cityscapes")
    assert all(m == a for m, a in same.pairs) and len(same.pairs) == 19


def test_label_map_from_file_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"road": "Road", "vegetation": "Tree", "background": None}))
    lm = load_label_map(path)
    assert lm.pairs == (("road", "Road"), ("vegetation", "Tree"))
    camvid = [c for c, _ in readers.CAMVID_CLASSES]
    with pytest.raises(InputError, match=r"model class\(es\) \['lamp'\]"):
        label_lut(LabelMap("m", (("lamp", "Pole"),)), CITYSCAPES, camvid)
    with pytest.raises(InputError, match=r"annotation class\(es\) \['Lamp'\]"):
        label_lut(LabelMap("m", (("pole", "Lamp"),)), CITYSCAPES, camvid)
    path.write_text("[1, 2]")
    with pytest.raises(DataFormatError, match="must be a JSON object"):
        load_label_map(path)
    with pytest.raises(InputError, match="neither a built-in map"):
        load_label_map(tmp_path / "missing.json")


def test_default_map_groups_and_indicator_classes() -> None:
    camvid = [c for c, _ in readers.CAMVID_CLASSES]
    lm = default_label_map(CITYSCAPES, "camvid", camvid)
    assert lm.name == "cityscapes-camvid"
    ind = indicator_classes(lm, CITYSCAPES, camvid)
    assert ind["pedestrian_share"] == (9, 10)  # person + rider: Pedestrian + Bicyclist (which holds the riders)
    assert ind["green_view"] == (5,) and ind["share_vehicle"] == (8,)
    groups = annotation_groups(lm, CITYSCAPES, camvid)
    assert groups == tuple(g for _, g in readers.CAMVID_CLASSES)  # the README's groups follow from the map
    with pytest.raises(InputError, match="give --label-map"):
        default_label_map(CITYSCAPES, "cvat-mask", ["Foo", "Bar"])


# -- the scoring rule, with the tiny colour model -----------------------------------------------
@pytest.fixture
def colours(tmp_path: Path) -> InstalledModel:
    path = colour_model(tmp_path / "colours.onnx", height=32, width=64)
    return InstalledModel(colour_card(32, 64), path, hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size)


def test_evaluate_perfect_model_on_camvid(tmp_path: Path, colours: InstalledModel) -> None:
    gt = read_camvid(*write_camvid(tmp_path, n=2))
    ev = evaluate(colours, gt, n_boot=200)
    d = ev.to_dict()
    assert d["miou"] == 100.0 and d["pixel_accuracy"] == 100.0 and d["fw_iou"] == 100.0
    assert d["images"] == 2 and d["scored_pixels"] == 2 * 31 * 64  # the unlabelled first row is not scored
    assert d["iou"]["Road"] == 100.0 and d["iou"]["Car"] is None  # Car is in neither truth nor prediction
    assert set(d["indicator_error_pp"]) == {"green_view", "sky_view", "share_road", "share_sidewalk", "pedestrian_share", "share_vehicle"}
    assert d["indicator_error_pp"]["green_view"]["bias"] == 0.0 and d["indicator_error_pp"]["green_view"]["mae"] == 0.0
    json.loads(ev.to_json())  # valid JSON, no NaN
    again = evaluate(colours, gt, n_boot=200)
    assert again.gt_sha256 == ev.gt_sha256  # same frames, same map: same ground-truth hash
    other = evaluate(colours, gt, LabelMap("sky only", (("sky", "Sky"),)), n_boot=200)
    assert other.gt_sha256 != ev.gt_sha256 and other.to_dict()["scored_pixels"] < d["scored_pixels"]


def test_evaluate_maps_labels_back_to_the_mask_resolution(tmp_path: Path, colours: InstalledModel) -> None:
    ids = np.repeat(np.repeat(scene(32, 64), 4, axis=0), 4, axis=1)  # 256x128 frame, letterboxed into 64x32
    write_png(tmp_path / "images" / "big.png", paint(ids))
    write_png(tmp_path / "masks" / "big.png", camvid_mask(ids))
    ev = evaluate(colours, read_camvid(tmp_path / "images", tmp_path / "masks"), n_boot=50)
    scored = ev.confusion.sum()
    assert 0.95 * 128 * 256 < scored <= 128 * 256  # scored at the mask's resolution (blended edges may come out void)
    assert ev.pixel_accuracy > 0.95 and ev.miou > 0.9


def test_evaluate_ignores_void_predictions_and_refuses_other_mask_sizes(tmp_path: Path, colours: InstalledModel) -> None:
    ids = scene()
    ids[:, :8] = 19  # painted black: the model says background, a void class in cityscapes-camvid
    mask = camvid_mask(scene())
    write_png(tmp_path / "images" / "a.png", paint(ids))
    write_png(tmp_path / "masks" / "a.png", mask)
    ev = evaluate(colours, read_camvid(tmp_path / "images", tmp_path / "masks"), n_boot=50)
    assert ev.confusion.sum() == 32 * (64 - 8) and ev.pixel_accuracy == 1.0
    write_png(tmp_path / "masks" / "a.png", mask[:, :32])
    with pytest.raises(InputError, match="mask a.png is 32x32 but its image a.png is 64x32"):
        evaluate(colours, read_camvid(tmp_path / "images", tmp_path / "masks"))


def test_evaluate_cvat_and_cityscapes(tmp_path: Path, colours: InstalledModel) -> None:
    cvat = read_cvat_mask(write_zip(tmp_path / "e.zip", cvat_files(n=2)))
    lm = LabelMap("to cvat", (("road", "road"), ("building", "building"), ("vegetation", "tree"), ("sky", "sky")))
    ev = evaluate(colours, cvat, lm, n_boot=50)
    assert ev.miou == 1.0 and ev.class_groups == ("sky", "built", "road", "vegetation")  # groups from the map
    assert set(ev.indicators) == {"green_view", "sky_view", "share_road"}
    city = evaluate(colours, read_cityscapes(*write_cityscapes(tmp_path / "cs")), n_boot=50)
    assert city.label_map.name == "cityscapes-cityscapes" and city.miou == 1.0


# -- the evaluations table ----------------------------------------------------------------------
def _row(camera: str | None = None, miou: float = 50.0) -> EvaluationRow:
    return EvaluationRow("m", "a" * 64, "b" * 64, camera, "camvid", "cityscapes-camvid", 3, miou, 80.0, 70.0, "{}")


def test_store_one_row_per_model_gt_and_camera(tmp_path: Path) -> None:
    with Store(tmp_path / "db.duckdb") as s:
        s.upsert_cameras(pd.DataFrame({"camera_id": ["cam-1"], "name": ["A"], "lon": [4.9], "lat": [52.3]}))
        key, replaced = save_evaluation(s, _row())
        assert not replaced
        key2, replaced = save_evaluation(s, _row(miou=51.0))  # the same evaluation again: one row, updated
        assert key2 == key and replaced
        save_evaluation(s, _row(camera="cam-1"))  # the same frames for a camera: a row of its own
        df = list_evaluations(s)
        assert len(df) == 2 and sorted(df["miou"].tolist()) == [50.0, 51.0]
        assert list_evaluations(s, camera_id="cam-1")["camera_id"].tolist() == ["cam-1"]
        with pytest.raises(InputError, match="unknown camera 'nowhere'"):
            save_evaluation(s, _row(camera="nowhere"))
        assert len(list_evaluations(s)) == 2
    with pytest.raises(InputError, match="weights_sha256"):
        replace(_row(), weights_sha256="abc")


def test_refined_evaluation_is_stored_beside_the_plain_one(tmp_path: Path) -> None:
    """Scoring with --refine/--tta is another row, never a replacement; only plain ones adjust indicators."""
    refined = replace(_row(miou=56.0), options={"refine": "crf"}, metrics_json='{"options": {"refine": "crf"}}')
    with Store(tmp_path / "db.duckdb") as s:
        plain_key, _ = save_evaluation(s, _row())
        refined_key, replaced = save_evaluation(s, refined)
        assert refined_key != plain_key and not replaced
        assert sorted(list_evaluations(s)["miou"].tolist()) == [50.0, 56.0]
        rows = list_evaluations(s).to_dict("records")
    source, chosen = choose_evaluation("cam-1", "a" * 64, rows)
    assert source == "model" and chosen is not None and chosen["evaluation_id"] == plain_key
    only_refined = [r for r in rows if r["evaluation_id"] == refined_key]
    assert choose_evaluation("cam-1", "a" * 64, only_refined) == ("none", None)


# -- real frames --------------------------------------------------------------------------------
@pytest.mark.slow
def test_five_camvid_val_frames(shared_dir: Path, model_mirror: Path, tmp_path: Path) -> None:
    """espnetv2-s2 on five CamVid val frames (copied to a temp folder), scored as the CLI does."""
    from analytics.models.zoo import install
    from analytics.settings import load_settings

    val = shared_dir / "datasets" / "camvid" / "val"
    if not val.is_dir():
        pytest.skip("../shared/datasets/camvid is absent")
    for name in sorted(p.name for p in val.iterdir())[::20][:5]:
        (tmp_path / "img").mkdir(exist_ok=True)
        (tmp_path / "ann").mkdir(exist_ok=True)
        shutil.copy(val / name, tmp_path / "img" / name)
        shutil.copy(val.parent / "valannot" / name, tmp_path / "ann" / name)
    model = install("espnetv2-s2", load_settings())
    ev = evaluate(model, read_camvid(tmp_path / "img", tmp_path / "ann"), load_label_map("cityscapes-camvid"), n_boot=200)
    d = ev.to_dict()
    assert d["images"] == 5
    assert 40.0 < d["miou"] < 75.0 and 80.0 < d["pixel_accuracy"] < 95.0
    assert d["iou"]["Sky"] > 85.0 and d["iou"]["Road"] > 75.0
    assert d["indicator_error_pp"]["green_view"]["bias"] > 0  # the model's known upward bias on greenery

"""Tiny annotated image sets written by the tests, in the CamVid, Cityscapes and CVAT layouts.

The images are painted in the prototype colours of :mod:`tinymodels`, so the colour model's
prediction is known: sky on top, building and vegetation in the middle, road at the bottom.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np
from tinymodels import bgr

# Cityscapes ids of tinymodels: 0 road, 2 building, 8 vegetation, 10 sky, 19 background
CAMVID_OF_CITYSCAPES = {0: 3, 2: 1, 8: 5, 10: 0}  # road -> Road, building -> Building, vegetation -> Tree, sky -> Sky
CITYSCAPES_LABEL_ID = {0: 7, 2: 11, 8: 21, 10: 23}  # train id -> label id
CVAT_LABELS = {"background": (0, 0, 0), "sky": (70, 130, 180), "building": (70, 70, 70), "road": (128, 64, 128), "tree": (107, 142, 35)}
CVAT_OF_CITYSCAPES = {0: "road", 2: "building", 8: "tree", 10: "sky"}


def scene(h: int = 32, w: int = 64, shift: int = 0) -> np.ndarray:
    """Cityscapes class ids of a street scene: sky rows, building | vegetation, road rows."""
    ids = np.full((h, w), 10, np.uint8)
    ids[h // 4 :, : w // 2 + shift] = 2
    ids[h // 4 :, w // 2 + shift :] = 8
    ids[h * 5 // 8 :, :] = 0
    return ids


def paint(ids: np.ndarray) -> np.ndarray:
    """The BGR image of class ids in the tinymodels prototype colours."""
    image = np.zeros((*ids.shape, 3), np.uint8)
    for k in np.unique(ids):
        image[ids == k] = bgr(int(k))
    return image


def write_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", image)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def camvid_mask(ids: np.ndarray) -> np.ndarray:
    out = np.full(ids.shape, 11, np.uint8)  # unlabelled
    for src, dst in CAMVID_OF_CITYSCAPES.items():
        out[ids == src] = dst
    return out


def write_camvid(root: Path, n: int = 2, h: int = 32, w: int = 64) -> tuple[Path, Path]:
    """``root/images`` and ``root/masks`` with n frames; the mask's first row is unlabelled (11)."""
    for i in range(n):
        ids = scene(h, w, shift=i)
        mask = camvid_mask(ids)
        mask[0, :] = 11
        write_png(root / "images" / f"f{i}.png", paint(ids))
        write_png(root / "masks" / f"f{i}.png", mask)
    return root / "images", root / "masks"


def write_cityscapes(root: Path, h: int = 32, w: int = 64) -> tuple[Path, Path]:
    """``leftImg8bit/val/<city>/`` and ``gtFine/val/<city>/`` with one frame in each of two cities."""
    for city in ("aachen", "bonn"):
        ids = scene(h, w)
        label_ids = np.zeros(ids.shape, np.uint8)  # 0: unlabeled
        for train_id, label_id in CITYSCAPES_LABEL_ID.items():
            label_ids[ids == train_id] = label_id
        label_ids[0, :] = 1  # ego vehicle: ignored
        stem = f"{city}_000000_000019"
        write_png(root / "leftImg8bit" / "val" / city / f"{stem}_leftImg8bit.png", paint(ids))
        write_png(root / "gtFine" / "val" / city / f"{stem}_gtFine_labelIds.png", label_ids)
        write_png(root / "gtFine" / "val" / city / f"{stem}_gtFine_color.png", paint(ids))  # not a mask: left alone
    return root / "leftImg8bit", root / "gtFine"


def cvat_files(n: int = 2, h: int = 32, w: int = 64, with_images: bool = True) -> dict[str, bytes]:
    """The files of a CVAT "Segmentation mask 1.1" export, as CVAT documents the layout."""
    files: dict[str, bytes] = {}
    files["labelmap.txt"] = ("# label:color_rgb:parts:actions\n" + "".join(
        f"{name}:{r},{g},{b}::\n" for name, (r, g, b) in CVAT_LABELS.items())).encode()
    names = [f"frame_{i:06d}" for i in range(n)]
    files["ImageSets/Segmentation/default.txt"] = ("\n".join(names) + "\n").encode()
    for i, name in enumerate(names):
        ids = scene(h, w, shift=i)
        colour = np.zeros((h, w, 3), np.uint8)  # background where nothing is annotated
        for src, label in CVAT_OF_CITYSCAPES.items():
            r, g, b = CVAT_LABELS[label]
            colour[ids == src] = (b, g, r)
        colour[0, :] = 0
        files[f"SegmentationClass/{name}.png"] = cv2.imencode(".png", colour)[1].tobytes()
        files[f"SegmentationObject/{name}.png"] = cv2.imencode(".png", colour)[1].tobytes()
        if with_images:
            files[f"JPEGImages/{name}.png"] = cv2.imencode(".png", paint(ids))[1].tobytes()
    return files


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for rel, data in files.items():
            zf.writestr(rel, data)
    return path

"""Draw the dashboard's browser-tab icon, ``dashboard/static/icon.png`` (64 × 64, no network, no font).

A lens (a ring) over three city blocks of rising height on the brand blue; run it again after
changing the drawing: ``.venv/bin/python scripts/make_icon.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

SIZE = 64
ICON = Path(__file__).resolve().parents[1] / "dashboard" / "static" / "icon.png"
BLUE = (178, 114, 0, 255)  # Okabe–Ito blue #0072B2 in BGRA
WHITE = (255, 255, 255, 255)


def draw_icon(size: int = SIZE) -> np.ndarray:
    """The icon as a BGRA image: a rounded blue square, three white blocks and a white lens ring."""
    s = size / 64
    img = np.zeros((size, size, 4), np.uint8)
    r = round(12 * s)
    cv2.rectangle(img, (r, 0), (size - 1 - r, size - 1), BLUE, -1)
    cv2.rectangle(img, (0, r), (size - 1, size - 1 - r), BLUE, -1)
    for cx, cy in ((r, r), (size - 1 - r, r), (r, size - 1 - r), (size - 1 - r, size - 1 - r)):
        cv2.circle(img, (cx, cy), r, BLUE, -1, cv2.LINE_AA)
    for x0, top in ((12, 34), (24, 24), (36, 30)):  # blocks of a skyline
        cv2.rectangle(img, (round(x0 * s), round(top * s)), (round((x0 + 9) * s), round(52 * s)), WHITE, -1)
    cv2.circle(img, (round(40 * s), round(22 * s)), round(11 * s), WHITE, max(1, round(3 * s)), cv2.LINE_AA)
    cv2.line(img, (round(48 * s), round(30 * s)), (round(55 * s), round(37 * s)), WHITE, max(1, round(4 * s)), cv2.LINE_AA)
    return img


def main() -> int:
    ICON.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(ICON), draw_icon()):
        print(f"could not write {ICON}", file=sys.stderr)
        return 1
    print(ICON)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

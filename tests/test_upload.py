"""The Analyse page's logic without widgets: start times and where they come from, camera positions, the
position map, the review's scrubber, the refused upload, the stop message."""

from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.errors import InputError
from analytics.footage.overlay import draw_legend, legend_entries
from analytics.footage.video import ClipStart, clip_start, creation_tag, upload_start
from analytics.pages import analyse as flow
from analytics.settings import Settings
from analytics.taxonomy import CITYSCAPES


def _clip(path: Path | io.BytesIO, tag: str | None) -> None:
    """A 4-frame MPEG-4 clip, with a ``creation_time`` tag when given."""
    import av

    with av.open(path, "w", format="mp4") as out:
        if tag:
            out.metadata["creation_time"] = tag
        stream = out.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(4):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")))
        out.mux(stream.encode())


@pytest.mark.parametrize(
    ("tag", "source", "expected"),
    [
        ("2018-04-19T08:00:00.000000Z", "tag", datetime(2018, 4, 19, 8, 0)),  # the container's creation tag
        (None, "mtime", datetime(2020, 1, 2, 3, 4, 5)),  # no tag: the file's modification time
        ("1970-01-01T00:00:00Z", "mtime", datetime(2020, 1, 2, 3, 4, 5)),  # a camera with no clock set: not believed
    ],
)
def test_clip_start_says_where_it_came_from(tmp_path: Path, tag: str | None, source: str, expected: datetime) -> None:
    path = tmp_path / "c.mp4"
    _clip(path, tag)
    os.utime(path, (expected.timestamp(), expected.timestamp()))
    got = clip_start(path)
    assert (got.time, got.source) == (expected, source)
    assert got.note().endswith("; pass --start to set it") and got.origin in got.note()
    assert clip_start(path, datetime(2026, 5, 4, 8, 30, 0, 500)).source == "given"


def test_upload_start_reads_the_tag_from_bytes(tmp_path: Path) -> None:
    buf = io.BytesIO()
    _clip(buf, "2018-04-19T08:00:00Z")
    received = datetime(2026, 1, 1, 12, 0, 0, 123)
    assert upload_start(buf.getvalue(), received) == ClipStart(datetime(2018, 4, 19, 8, 0), "tag")
    assert upload_start(b"not a video", received) == ClipStart(datetime(2026, 1, 1, 12, 0), "upload")
    assert creation_tag(tmp_path / "missing.mp4") is None
    assert "time of the upload" in flow.start_caption(upload_start(b"", received))


def test_refused_upload_names_what_is_accepted() -> None:
    settings = Settings(home=Path("/h"), db_path=Path("/h/db"))
    with pytest.raises(InputError, match=r"notes\.txt is not a video file .*mp4, mov"):
        flow.receive_upload("notes.txt", b"hello", settings)
    assert flow.receive_upload("CLIP.MP4", b"x", settings).name == "CLIP.MP4"  # the suffix in any case


@pytest.mark.parametrize(
    ("lat", "lon", "problem"),
    [
        (None, None, "set the camera's position"),  # no default position
        (52.0, None, "set the camera's position"),  # half a position
        (float("nan"), 4.0, "set the camera's position"),
        (-90.5, 4.0, "latitude -90.5 is outside -90 to 90"),
        (52.0, 180.5, "longitude 180.5 is outside -180 to 180"),
        (52.0, 4.0, None),
    ],
)
def test_new_camera_needs_a_position(lat: float | None, lon: float | None, problem: str | None) -> None:
    camera = flow.new_camera("Market Street", "", lon, lat, "fixed")
    got = [p for p in flow.analysis_problems(None, camera, [], "m") if p != "upload a clip"]
    assert got == ([] if problem is None else [got[0]]) and (problem is None or got[0].startswith(problem))


def test_position_map_and_clicks() -> None:
    cams = pd.DataFrame({"camera_id": ["a", "b"], "name": ["A", "B"], "lat": [52.30, 52.34], "lon": [4.80, 4.86]})
    assert flow.picker_figure(cams.iloc[0:0], pd.DataFrame(), (None, None), "city") is None  # nothing to centre on
    span = flow.fitting_span(cams)
    fig = flow.picker_figure(cams, pd.DataFrame(), (None, None), span)
    assert fig is not None
    grid = fig.data[0]
    assert len(grid.x) == 61 * 41 and min(grid.y) < 52.30 and max(grid.y) > 52.34  # the clickable points cover the cameras
    assert [t.name for t in fig.data] == ["click", "stored cameras"]  # no position yet: none drawn
    click = {"curve_number": 0, "point_index": 7, "x": float(grid.x[7]), "y": float(grid.y[7])}
    lat, lon = flow.picked_position({"selection": {"points": [click]}})  # type: ignore[misc]
    fig2 = flow.picker_figure(cams, pd.DataFrame(), (lat, lon), flow.finer_span(span))
    assert fig2 is not None and fig2.data[-1].name == "new camera" and fig2.data[-1].y == (lat,)
    assert abs(float(np.mean(fig2.data[0].y)) - lat) < 1e-9  # centred on the new position
    assert flow.picked_position({"selection": {"points": [{"curve_number": 1, "x": 4.8, "y": 52.3}]}}) is None  # a stored camera, not the grid
    with pytest.raises(InputError, match="map scale 'planet'"):
        flow.finer_span("planet")


def test_stop_message_only_after_a_real_stop() -> None:
    assert flow.stop_message(False, False) is None and flow.stop_message(False, True) is None  # nothing was running
    assert flow.stop_message(True, True) == "Analysis cancelled; nothing was stored."
    assert "stopped when the page changed" in (flow.stop_message(True, False) or "")


@pytest.mark.parametrize("width", [320, 1280, 1920])
def test_legend_text_scales_with_the_frame(width: int) -> None:
    """The legend keeps its size relative to the frame, so it stays readable in a 480 px preview."""
    h = width * 9 // 16
    labels = np.zeros((h, width), np.uint8)
    labels[: h // 3] = 10  # sky
    labels[h // 3 : h // 2] = 8  # vegetation
    image = draw_legend(np.zeros((h, width, 3), np.uint8), legend_entries(labels, CITYSCAPES))
    panel = image[:, width:]
    assert image.shape[0] == h and 0.15 * width < panel.shape[1] < 0.6 * width
    rows = np.flatnonzero((panel > 200).any(axis=(1, 2)))  # the white text and swatch borders
    text_px_in_preview = (rows.max() - rows.min()) * 480 / image.shape[1]
    assert text_px_in_preview > 12  # two rows of about 6 px or more each once scaled to 480 px wide


def test_legend_merges_what_does_not_fit() -> None:
    labels = np.arange(19, dtype=np.uint8).repeat(4).reshape(4, 19)  # 19 classes in a 4 px high frame
    image = draw_legend(np.zeros((4, 19, 3), np.uint8), legend_entries(labels, CITYSCAPES))
    assert image.shape[0] <= 40  # one row ("other") rather than 19

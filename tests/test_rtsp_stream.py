"""The local RTSP test server: PyAV reads a live stream of a real sample clip from 127.0.0.1 over TCP."""

from __future__ import annotations

import av
import numpy as np
from rtsp_fixture import RTSP_FPS, RTSP_SIZE, rtsp_url  # noqa: F401 (the fixture)


def test_pyav_reads_frames_of_the_right_size_from_the_rtsp_server(rtsp_url):  # noqa: F811
    assert rtsp_url.startswith("rtsp://127.0.0.1:")
    with av.open(rtsp_url, options={"rtsp_transport": "tcp"}, timeout=10) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append((frame.width, frame.height, frame.time, frame.to_ndarray(format="rgb24")))
            if len(frames) == 6:
                break
    assert {(w, h) for w, h, _, _ in frames} == {RTSP_SIZE}
    times = [t for _, _, t, _ in frames]
    assert np.allclose(np.diff(times), 1 / RTSP_FPS, atol=0.02)  # paced at the stream's rate, in order
    # a real street scene, not a blank or a test pattern: varied pixels, and frames that differ
    assert frames[0][3].std() > 5 and np.abs(frames[0][3].astype(int) - frames[-1][3].astype(int)).mean() > 0.5

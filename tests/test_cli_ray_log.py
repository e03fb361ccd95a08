"""``urbanlens ingest --engine ray`` keeps Ray's internal ``core_worker.cc … max_restarts`` line off the terminal,
and every other line written to standard error still shows."""

from __future__ import annotations

import os
import sys

import pytest

from analytics.footage.cluster import RAY_NOISE, drop_stderr_lines

# the line Ray 2.60's C++ core (in the driver process, below sys.stderr) writes as each worker of a job starts
RAY_LINE = (b"[2026-12-07 21:21:27,474 E 16833 16833] core_worker.cc:2465: Actor with class name: "
            b"'MapWorker(MapBatches(_ClipWorker))' and ID: 'ed2ac040a2be6c2857d3205d01000000' has constructor arguments in "
            b"the object store and max_restarts > 0. If the arguments in the object store go out of scope or are lost, the "
            b"actor restart will fail. See https://github.com/ray-project/ray/issues/53727 for more details.\n")


def test_the_ray_line_is_dropped_and_real_errors_still_show(capfd: pytest.CaptureFixture[str]) -> None:
    with drop_stderr_lines(RAY_NOISE):
        os.write(2, b"error: car.mp4 could not be read\n")  # native code writes to fd 2, as Ray's core does
        os.write(2, RAY_LINE)
        print("a warning from Python", file=sys.stderr, flush=True)
        os.write(2, b"[2026-12-07 E 1 1] core_worker.cc:100: a worker died unexpectedly")  # a real Ray error, no newline
    err = capfd.readouterr().err
    assert "core_worker.cc:2465" not in err and "max_restarts" not in err
    assert "error: car.mp4 could not be read\n" in err and "a warning from Python\n" in err
    assert err.endswith("a worker died unexpectedly")  # shown, though its line never ended
    os.write(2, b"after\n")  # standard error is itself again
    assert capfd.readouterr().err == "after\n"


def test_the_filter_matches_only_the_restart_line() -> None:
    assert RAY_NOISE.search(RAY_LINE.decode())
    assert not RAY_NOISE.search("core_worker.cc:912: Actor died: out of memory (max_restarts reached)")

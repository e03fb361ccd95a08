"""How a clip's threads share the CPU with inference: one context manager, :func:`clip_scheduling`.

While a clip is analysed (2 CPU cores in mind), ONNX Runtime splits each layer over its threads
and the calling thread busy-waits for the slowest; a decoding or measuring thread holding one of
the cores stalls the whole layer. So, inside ``with clip_scheduling() as sched``:

- OpenCV runs single-threaded (its former setting back after the last clip ends,
  :func:`opencv_serial`): otherwise each resize, morphology or labelling of the background threads
  goes to a pool of OpenCV's own threads at normal priority, which takes the cores from inference;
- each background thread calls ``sched.background()`` when it starts (:func:`lower_priority`:
  Linux's idle policy where it can be left again, else nice :data:`BACKGROUND_NICE`);
- the calling thread watches them with ``sched.guard(*threads)`` (a :class:`Starvation`): after
  :data:`STARVED_WAITS` waits in a row on them, they get normal scheduling back, so that on a
  machine whose cores other processes keep busy they are not starved.

Results never depend on any of this; where the time goes is measured in ``docs/performance.md``.

>>> with clip_scheduling() as sched:
...     sched.guard().waits
0
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator

import cv2

__all__ = [
    "BACKGROUND_NICE", "STARVED_WAITS", "Scheduling", "Starvation", "clip_scheduling", "idle_policy_reversible", "lower_priority",
    "opencv_serial",
]

BACKGROUND_NICE = 10
"""Scheduling priority added to the decoding and measuring threads where the idle policy is not available."""
STARVED_WAITS = 5
"""Waits of 0.1 s in a row on a background thread (no frame decoded, or the measuring queue full)
after which both background threads get normal scheduling back (:class:`Starvation`)."""


def lower_priority() -> None:
    """Run this thread (and the threads it starts) only on CPU time that inference leaves idle.

    Linux's idle policy (``SCHED_IDLE``) hands the core back the moment an inference thread wakes;
    a lower priority (``nice`` 10) lets the background thread keep the core for the rest of its
    time slice (``docs/performance.md``: at nice 10 the inference threads spent 20-30 ms more CPU a
    frame than alone). The idle policy is used only where this process may leave it again
    (:func:`idle_policy_reversible`), so that :class:`Starvation` can rescue the thread on a busy
    machine; otherwise the thread runs at nice 10; elsewhere (not Linux, or not allowed) at normal priority.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
    if idle_policy_reversible():
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread (Linux)


@functools.cache
def idle_policy_reversible() -> bool:
    """Whether a thread of this process may enter Linux's idle policy and leave it again at nice
    :data:`BACKGROUND_NICE` (it needs ``CAP_SYS_NICE`` or an ``RLIMIT_NICE`` of at least 10; an
    unprivileged user or a container without ``SYS_NICE`` usually has neither). Probed once on a
    short-lived thread; False off Linux.
    """
    allowed: list[bool] = []

    def probe() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
            allowed.append(True)
        except (AttributeError, OSError):
            allowed.append(False)

    t = threading.Thread(target=probe, name="urbanlens-scheduling-probe", daemon=True)
    t.start()
    t.join()
    return bool(allowed and allowed[0])


class Starvation:
    """Gives the background threads normal scheduling (nice :data:`BACKGROUND_NICE`) when the calling
    thread has waited on them :data:`STARVED_WAITS` times in a row: on a machine whose cores other
    processes keep busy, idle-policy threads would get almost no CPU. The idle policy is only used
    where leaving it is allowed (:func:`idle_policy_reversible`)."""

    def __init__(self, *threads: threading.Thread) -> None:
        self.threads = threads
        self.waits = 0

    def waited(self) -> None:
        """The calling thread waited 0.1 s on a background thread."""
        self.waits += 1
        if self.waits != STARVED_WAITS:
            return
        for t in self.threads:
            if t.native_id is None:
                continue
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, t.native_id, BACKGROUND_NICE)  # first: leaving idle is checked at this nice
                os.sched_setscheduler(t.native_id, os.SCHED_OTHER, os.sched_param(0))

    def served(self) -> None:
        """The calling thread got what it waited for."""
        self.waits = 0


_OPENCV_LOCK = threading.Lock()
_OPENCV_USERS = [0, 0]
"""Clips being analysed, and OpenCV's thread count from before the first of them."""


@contextlib.contextmanager
def opencv_serial() -> Iterator[None]:
    """OpenCV single-threaded while clips are analysed (its former setting back after the last)."""
    with _OPENCV_LOCK:
        if _OPENCV_USERS[0] == 0:
            _OPENCV_USERS[1] = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _OPENCV_USERS[0] += 1
    try:
        yield
    finally:
        with _OPENCV_LOCK:
            _OPENCV_USERS[0] -= 1
            if _OPENCV_USERS[0] == 0:
                cv2.setNumThreads(_OPENCV_USERS[1])


class Scheduling:
    """What :func:`clip_scheduling` hands out: the call each background thread makes when it starts,
    and the starvation guard of the calling thread."""

    def background(self) -> None:
        """Called first thing by a decoding or measuring thread (:func:`lower_priority`)."""
        lower_priority()

    def guard(self, *threads: threading.Thread) -> Starvation:
        """A :class:`Starvation` guard over ``threads``, for the calling thread."""
        return Starvation(*threads)


@contextlib.contextmanager
def clip_scheduling() -> Iterator[Scheduling]:
    """The scheduling of one clip's analysis (see the module docstring); nests and overlaps across clips."""
    with opencv_serial():
        yield Scheduling()

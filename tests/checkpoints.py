"""Checkpoint files written without torch: zip and legacy layouts, tensors whose every field may be wrong.

:func:`fake_torch` installs empty ``torch`` / ``torch._utils`` modules (through ``monkeypatch``) so that
pickle can name torch's globals; nothing of torch is imported or needed.
"""

from __future__ import annotations

import io
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

__all__ = [
    "CONTIGUOUS",
    "STORAGE_KINDS",
    "FakeStorage",
    "FakeTensor",
    "checkpoint_bytes",
    "contiguous_strides",
    "fake_torch",
    "legacy_bytes",
    "pickle_bytes",
    "state_of",
    "write_legacy_checkpoint",
    "write_zip_checkpoint",
    "zip_bytes",
]

STORAGE_KINDS = ("FloatStorage", "BFloat16Storage", "LongStorage", "ComplexFloatStorage")


class FakeStorage:
    """Stands for a torch storage while pickling (pickled as a persistent id).

    ``numel`` is the element count the pickle declares (default: the data's); ``view`` an optional
    legacy view ``(view key, offset, size)`` into it.
    """

    def __init__(self, key: Any, data: np.ndarray, kind: str = "FloatStorage", numel: Any = None, view: Any = None) -> None:
        self.key, self.data, self.kind, self.view = key, data, kind, view
        self.numel = data.size if numel is None else numel


def fake_torch(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Modules named torch / torch._utils so pickle can name their globals (nothing is imported)."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:  # pragma: no cover - never called
        raise AssertionError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    for kind in STORAGE_KINDS:
        setattr(torch, kind, type(kind, (), {"__module__": "torch"}))
    torch._utils = utils  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, acc = [], 1
    for s in reversed(shape):
        strides.insert(0, acc)
        acc *= s
    return tuple(strides)


CONTIGUOUS = "contiguous"  # a FakeTensor's default stride: the contiguous strides of its shape


class FakeTensor:
    """Pickles as torch's ``_rebuild_tensor_v2(storage, offset, shape, stride, ...)``; any field may be wrong."""

    def __init__(self, storage: FakeStorage, shape: Any, stride: Any = CONTIGUOUS, offset: Any = 0) -> None:
        self.storage, self.shape, self.offset = storage, shape, offset
        self.stride = contiguous_strides(shape) if stride is CONTIGUOUS else stride

    def __reduce__(self) -> Any:
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return (rebuild, (self.storage, self.offset, self.shape, self.stride, False, OrderedDict()))


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, FakeStorage):
            pid = ("storage", getattr(sys.modules["torch"], obj.kind), obj.key, "cpu", obj.numel)
            return pid if obj.view is None else (*pid, obj.view)
        return None


def state_of(arrays: dict[str, np.ndarray]) -> tuple[OrderedDict[str, FakeTensor], list[FakeStorage]]:
    storages = [FakeStorage(str(i), a.astype(np.float32).ravel()) for i, a in enumerate(arrays.values())]
    state = OrderedDict((k, FakeTensor(s, a.shape)) for (k, a), s in zip(arrays.items(), storages))
    return state, storages


def pickle_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def zip_bytes(pkl: bytes, storages: dict[str, bytes]) -> bytes:
    """torch.save's zip layout: archive/data.pkl + archive/data/<key>."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        for key, raw in storages.items():
            zf.writestr(f"archive/data/{key}", raw)
    return buf.getvalue()


def legacy_bytes(pkl: bytes, storages: dict[str, tuple[int, bytes]]) -> bytes:
    """The legacy layout: magic, protocol, sys info, object, keys, then per storage its int64 element count and bytes."""
    parts = [
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2),
        pickle.dumps(1001, protocol=2),
        pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2),
        pkl,
        pickle.dumps(list(storages), protocol=2),
    ]
    parts += [struct.pack("<q", numel) + raw for numel, raw in storages.values()]
    return b"".join(parts)


def checkpoint_bytes(state: Any, storages: list[FakeStorage], layout: str) -> bytes:
    """A whole checkpoint file (``layout`` "zip" or "legacy"); needs :func:`fake_torch` installed."""
    pkl = pickle_bytes(state)
    if layout == "zip":
        return zip_bytes(pkl, {s.key: s.data.tobytes() for s in storages})
    return legacy_bytes(pkl, {s.key: (s.data.size, s.data.tobytes()) for s in storages})


def write_zip_checkpoint(path: Path, arrays: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkpoint in torch.save's zip layout (archive/data.pkl + archive/data/<key>)."""
    fake_torch(monkeypatch)
    path.write_bytes(checkpoint_bytes(*state_of(arrays), "zip"))
    return path


def write_legacy_checkpoint(path: Path, arrays: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkpoint in the legacy layout: magic, protocol, sys info, object, keys, raw storages."""
    fake_torch(monkeypatch)
    path.write_bytes(checkpoint_bytes(*state_of(arrays), "legacy"))
    return path

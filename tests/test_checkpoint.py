"""The safe checkpoint reader: real upstream files, hand-made zip/legacy files, malicious pickles."""

from __future__ import annotations

import io
import json
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

from analytics.errors import DataFormatError, UnsafeFileError
from analytics.models.checkpoint import read_state_dict

# ---------------------------------------------------------------- writing checkpoints without torch


class _FakeStorage:
    """Stands for a torch FloatStorage while pickling (pickled as a persistent id)."""

    def __init__(self, key: str, data: np.ndarray, kind: str = "FloatStorage") -> None:
        self.key, self.data, self.kind = key, data, kind


def _fake_torch(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Modules named torch / torch._utils so pickle can name their globals (nothing is imported)."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:  # pragma: no cover - never called
        raise AssertionError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    float_storage = type("FloatStorage", (), {"__module__": "torch"})
    torch.FloatStorage = float_storage  # type: ignore[attr-defined]
    torch.BFloat16Storage = type("BFloat16Storage", (), {"__module__": "torch"})  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


class _Tensor:
    def __init__(self, storage: _FakeStorage, shape: tuple[int, ...]) -> None:
        self.storage, self.shape = storage, shape

    def __reduce__(self) -> Any:
        strides, acc = [], 1
        for s in reversed(self.shape):
            strides.insert(0, acc)
            acc *= s
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return (rebuild, (self.storage, 0, self.shape, tuple(strides), False, OrderedDict()))


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _FakeStorage):
            return ("storage", getattr(sys.modules["torch"], obj.kind), obj.key, "cpu", obj.data.size)
        return None


def _state(arrays: dict[str, np.ndarray]) -> tuple[OrderedDict[str, _Tensor], list[_FakeStorage]]:
    storages = [_FakeStorage(str(i), a.astype(np.float32).ravel()) for i, a in enumerate(arrays.values())]
    state = OrderedDict((k, _Tensor(s, a.shape)) for (k, a), s in zip(arrays.items(), storages))
    return state, storages


def _pickle(obj: Any) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def write_zip_checkpoint(path: Path, arrays: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkpoint in torch.save's zip layout (archive/data.pkl + archive/data/<key>)."""
    _fake_torch(monkeypatch)
    state, storages = _state(arrays)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", _pickle(state))
        for s in storages:
            zf.writestr(f"archive/data/{s.key}", s.data.tobytes())
    return path


def write_legacy_checkpoint(path: Path, arrays: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkpoint in the legacy layout: magic, protocol, sys info, object, keys, raw storages."""
    _fake_torch(monkeypatch)
    state, storages = _state(arrays)
    parts = [
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2),
        pickle.dumps(1001, protocol=2),
        pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2),
        _pickle(state),
        pickle.dumps([s.key for s in storages], protocol=2),
    ]
    for s in storages:
        parts.append(struct.pack("<q", s.data.size) + s.data.tobytes())
    path.write_bytes(b"".join(parts))
    return path


ARRAYS = {"conv.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2), "bn.bias": np.array([0.5, -1.5], np.float32)}


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("writer", [write_zip_checkpoint, write_legacy_checkpoint], ids=["zip", "legacy"])
def test_reads_hand_made_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: Any) -> None:
    path = writer(tmp_path / "ok.pth", ARRAYS, monkeypatch)
    monkeypatch.delitem(sys.modules, "torch")  # reading needs no torch at all
    got = read_state_dict(path)
    assert list(got) == list(ARRAYS)
    for k, a in ARRAYS.items():
        np.testing.assert_array_equal(got[k], a)
        assert got[k].dtype == np.float32


@pytest.mark.parametrize("scale", ["2.0", "1.0"])
def test_reads_upstream_weights(shared_dir: Path, scale: str) -> None:
    name = f"espnetv2_s_{scale}_city_1024x512.pth"
    state = read_state_dict(shared_dir / "models" / "espnetv2" / name)
    ref = json.loads((shared_dir / "reference" / "espnetv2" / "reference.json").read_text())
    learnable = sum(v.size for k, v in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert learnable == ref["checkpoints"][name]["params"]
    assert state["base_net.level1.conv.weight"].shape == (32, 3, 3, 3)
    assert state["bu_dec_l4.merge_layer.3.bias"].shape == (20,)


class _OpenFile:
    """Would create a file when unpickled the usual way: pickle calls builtins.open(path, 'w')."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (open, (str(self.path), "w"))


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(OrderedDict(w=_OpenFile(marker)), protocol=2)
    with pickle.loads(payload).popitem()[1]:  # the usual way runs the payload ...
        pass
    assert marker.exists()
    marker.unlink()
    bad = tmp_path / "bad.pth"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
    with pytest.raises(UnsafeFileError, match=r"global (io|builtins)\.open"):  # ... ours refuses before calling anything
        read_state_dict(bad)
    assert not marker.exists()


def test_os_system_in_legacy_file_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> Any:
            import os

            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    data = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
    data += pickle.dumps({}, protocol=2) + pickle.dumps({"w": Evil()}, protocol=2)
    path = tmp_path / "evil.pth"
    path.write_bytes(data)
    with pytest.raises(UnsafeFileError, match=r"(posix|os|nt)\.system"):
        read_state_dict(path)
    assert not (tmp_path / "pwned").exists()


def test_persistent_module_ids_are_refused(tmp_path: Path) -> None:
    class ModulePid(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            return ("module", "SomeNet", "source code", "") if obj == "net" else None

    buf = io.BytesIO()
    ModulePid(buf, protocol=2).dump({"net": "net"})
    path = tmp_path / "m.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
    with pytest.raises(UnsafeFileError, match="module"):
        read_state_dict(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a PyTorch checkpoint"),  # empty file
        (b"hello, I am a text file\n", "not a PyTorch checkpoint"),  # not a pickle, not a zip
        (pickle.dumps({"a": 1}, protocol=2), "not a PyTorch checkpoint"),  # a pickle, but no magic number
        (b"PK\x03\x04garbage", "not a PyTorch checkpoint"),  # looks like a zip, is not one
    ],
    ids=["empty", "text", "plain-pickle", "broken-zip"],
)
def test_not_a_checkpoint(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.pth"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=message):
        read_state_dict(path)


def test_truncated_upstream_file(shared_dir: Path, tmp_path: Path) -> None:
    data = (shared_dir / "models" / "espnetv2" / "espnetv2_s_1.0_city_1024x512.pth").read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="truncated"):
        read_state_dict(path)


def test_zip_with_missing_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = write_zip_checkpoint(tmp_path / "ok.pth", ARRAYS, monkeypatch)
    bad = tmp_path / "bad.pth"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            if name != "archive/data/1":
                dst.writestr(name, src.read(name))
    with pytest.raises(DataFormatError, match="storage '1' is missing"):
        read_state_dict(bad)


def test_missing_file() -> None:
    with pytest.raises(DataFormatError, match="does not exist"):
        read_state_dict("/no/such/checkpoint.pth")


def test_bfloat16_is_widened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_torch(monkeypatch)
    bits = np.array([0x3F80, 0xC020], np.uint16)  # 1.0 and -2.5 in bfloat16
    storage = _FakeStorage("0", bits, "BFloat16Storage")
    path = tmp_path / "bf16.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", _pickle(OrderedDict(w=_Tensor(storage, (2,)))))
        zf.writestr("archive/data/0", bits.tobytes())
    got = read_state_dict(path)["w"]
    assert got.dtype == np.float32 and got.tolist() == [1.0, -2.5]

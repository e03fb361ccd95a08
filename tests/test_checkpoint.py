"""The safe checkpoint reader: real upstream files, hand-made zip/legacy files, malicious pickles, hostile layouts."""

from __future__ import annotations

import io
import json
import pickle
import struct
import sys
import time
import tracemalloc
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics.errors import DataFormatError, InputError, UnsafeFileError
from analytics.models.checkpoint import read_state_dict
from analytics.settings import load_settings
from tests.checkpoints import (
    CONTIGUOUS,
    FakeStorage,
    FakeTensor,
    checkpoint_bytes,
    fake_torch,
    pickle_bytes,
    write_legacy_checkpoint,
    write_zip_checkpoint,
    zip_bytes,
)

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
    fake_torch(monkeypatch)
    bits = np.array([0x3F80, 0xC020], np.uint16)  # 1.0 and -2.5 in bfloat16
    storage = FakeStorage("0", bits, "BFloat16Storage")
    path = tmp_path / "bf16.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle_bytes(OrderedDict(w=FakeTensor(storage, (2,)))))
        zf.writestr("archive/data/0", bits.tobytes())
    got = read_state_dict(path)["w"]
    assert got.dtype == np.float32 and got.tolist() == [1.0, -2.5]


# ---------------------------------------------------------------- hostile layouts: refused before any allocation

FOUR = np.array([1.0, 2.0, 3.0, 4.0], np.float32)  # the storage every case below points into


def _one_tensor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str, **fields: Any) -> Path:
    """A checkpoint holding tensor 'w' over the storage FOUR; ``fields`` override shape, stride, offset,
    the declared storage size (numel), its type (kind) or its legacy view."""
    fake_torch(monkeypatch)
    storage = FakeStorage("0", FOUR, fields.pop("kind", "FloatStorage"), fields.pop("numel", None), fields.pop("view", None))
    state = OrderedDict(w=FakeTensor(storage, fields.pop("shape", (4,)), fields.pop("stride", CONTIGUOUS), fields.pop("offset", 0)))
    path = tmp_path / f"{layout}.pth"
    path.write_bytes(checkpoint_bytes(state, [storage], layout))
    return path


LIMIT = r"more than the limit of 1024 MB \(URBANLENS_MAX_CHECKPOINT_MB\)"

HOSTILE = [
    # (id, fields of tensor 'w', expected message): each once per layout, each one clean DataFormatError line
    ("count-overflows-int64", {"shape": (2**32, 2**32, 2**32), "stride": (0, 0, 0)}, LIMIT),  # np.prod raised OverflowError
    ("dimension-beyond-int64", {"shape": (2**64,), "stride": (1,)}, LIMIT),
    ("negative-stride", {"shape": (2,), "stride": (-1,), "offset": 1}, r"negative stride -1 in dimension 0"),  # was SIGSEGV
    ("negative-stride-reads-before-buffer", {"shape": (4,), "stride": (-1,)}, r"negative stride -1"),
    ("zero-stride-16GiB", {"shape": (65536, 65536), "stride": (0, 0)}, LIMIT),  # was a 16 GiB allocation
    ("zero-stride-small", {"shape": (8,), "stride": (0,)}, r"repeats stored elements .*8 elements from 1 stored"),
    ("overlapping-strides", {"shape": (2, 2), "stride": (1, 1)}, r"repeats stored elements .*4 elements from 3 stored"),
    ("offset-past-end", {"shape": (1,), "offset": 4}, r"reaches element 4 of storage '0', which holds 4 elements"),
    ("offset-beyond-int64", {"shape": (1,), "offset": 2**64}, r"reaches element <65-bit integer>"),
    ("negative-offset", {"shape": (1,), "offset": -1}, r"negative storage offset -1"),
    ("shape-past-end", {"shape": (5,)}, r"reaches element 4 of storage '0'"),
    ("stride-past-end", {"shape": (2,), "stride": (4,)}, r"reaches element 4"),
    ("empty-tensor-offset-past-end", {"shape": (0,), "offset": 9}, r"starts at element 9, past its storage of 4"),
    ("negative-size", {"shape": (-1,), "stride": (1,)}, r"negative size -1 in dimension 0"),
    ("shape-not-a-tuple", {"shape": 4.0, "stride": (1,)}, r"has a shape of 4\.0; expected a tuple of whole numbers"),
    ("float-offset", {"offset": 1.5}, r"storage offset of 1\.5; expected a whole number"),
    ("bool-in-stride", {"shape": (4,), "stride": (True,)}, r"has a stride of \(True,\)"),
    ("strides-do-not-match-shape", {"shape": (2, 2), "stride": (1,)}, r"has 2 dimensions but 1 strides"),
    ("too-many-dimensions", {"shape": (1,) * 40, "stride": (1,) * 40}, r"has 40 dimensions; at most 32"),
    ("storage-size-beyond-limit", {"numel": 2**62}, r"storages declare \d+ bytes, " + LIMIT),
    ("storage-size-negative", {"numel": -1}, r"storage '0' declares a size of -1"),
    ("storage-size-not-a-number", {"numel": "4"}, r"storage '0' declares a size of '4'"),
    ("storage-larger-than-stored", {"numel": 8}, r"storage '0' holds (16 bytes, expected 32 \(truncated|4 elements, declared 8)"),
    ("unknown-dtype", {"kind": "ComplexFloatStorage"}, r"torch\.ComplexFloatStorage is not supported"),
    ("view-past-root", {"view": ("v", 3, 2), "shape": (2,)}, r"view of 2 elements at 3, past its 4 elements"),
    ("view-malformed", {"view": ("v", -1, 2), "shape": (2,)}, r"malformed view"),
]


@pytest.mark.parametrize("layout", ["zip", "legacy"])
@pytest.mark.parametrize(("fields", "message"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_layout_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str, fields: dict[str, Any], message: str
) -> None:
    path = _one_tensor(tmp_path, monkeypatch, layout, **fields)
    with pytest.raises(DataFormatError, match=message) as info:
        read_state_dict(path)
    text = str(info.value)
    assert "\n" not in text and len(text) < 400
    assert "tensor 'w'" in text or "storage" in text  # names the tensor, or the storage it declares


STRIDED = [
    # (id, fields, expected array): layouts a real torch.save can write, read exactly
    ("transposed", {"shape": (2, 2), "stride": (1, 2)}, [[1.0, 3.0], [2.0, 4.0]]),
    ("every-other", {"shape": (2,), "stride": (2,)}, [1.0, 3.0]),
    ("offset", {"shape": (2,), "offset": 2}, [3.0, 4.0]),
    ("size-one-dimension-any-stride", {"shape": (1, 2), "stride": (2**70, 1), "offset": 1}, [[2.0, 3.0]]),
    ("empty", {"shape": (0, 3), "stride": (3, 1)}, np.zeros((0, 3), np.float32)),
    ("legacy-view", {"view": ("v", 1, 2), "shape": (2,)}, [2.0, 3.0]),  # torch < 1.0 storage views
]


@pytest.mark.parametrize("layout", ["zip", "legacy"])
@pytest.mark.parametrize(("fields", "expected"), [c[1:] for c in STRIDED], ids=[c[0] for c in STRIDED])
def test_strided_layouts_read_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str, fields: dict[str, Any], expected: Any
) -> None:
    got = read_state_dict(_one_tensor(tmp_path, monkeypatch, layout, **fields))["w"]
    np.testing.assert_array_equal(got, np.asarray(expected, np.float32))
    assert got.shape == np.asarray(expected).shape and got.flags.owndata and got.flags.writeable


def test_many_names_for_one_storage_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_torch(monkeypatch)
    big = FakeStorage("0", np.zeros(200_000, np.float32))  # 0.8 MB, read once
    state = OrderedDict((f"w{i}", FakeTensor(big, (200_000,))) for i in range(1000))  # 800 MB if each were copied
    path = tmp_path / "alias.pth"
    path.write_bytes(checkpoint_bytes(state, [big], "zip"))
    with pytest.raises(DataFormatError, match=r"tensor 'w1': the tensors read so far take 1600000 bytes, more than the limit of 1 MB"):
        read_state_dict(path, max_mb=1)


def test_file_larger_than_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_legacy_checkpoint(tmp_path / "big.pth", {"w": np.zeros(300_000, np.float32)}, monkeypatch)
    assert read_state_dict(path, max_mb=2)["w"].shape == (300_000,)
    with pytest.raises(DataFormatError, match=r"the file has \d+ bytes, more than the limit of 1 MB"):
        read_state_dict(path, max_mb=1)


def test_limit_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().max_checkpoint_mb == 1024
    monkeypatch.setenv("URBANLENS_MAX_CHECKPOINT_MB", "64")
    assert load_settings().max_checkpoint_mb == 64
    monkeypatch.setenv("URBANLENS_MAX_CHECKPOINT_MB", "0")
    with pytest.raises(InputError, match="URBANLENS_MAX_CHECKPOINT_MB=0 is below the minimum 1"):
        load_settings()


@pytest.mark.parametrize("max_mb", [0, -1, 2**31, 1.5, True])
def test_bad_limit_is_refused(max_mb: Any) -> None:
    with pytest.raises(InputError, match="give a whole number of megabytes"):
        read_state_dict("/no/such/checkpoint.pth", max_mb=max_mb)


def _deflated_zeros(total: int) -> bytes:
    """A raw deflate stream that inflates to ``total`` zero bytes (a multiple of 1 MiB), built from
    one compressed MiB repeated: a few KB per GB, never the inflated bytes themselves."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(1 << 20)) + comp.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, no history needed
    return block * (total >> 20) + comp.flush()


def _zip_with_entries(entries: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip archive from (name, method, payload, crc, declared size) written field by field."""
    out, central = bytearray(), bytearray()
    for name, method, payload, crc, size in entries:
        raw = name.encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc, len(payload), size, len(raw), 0, 0, 0, 0, 0, len(out)) + raw
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(payload), size, len(raw), 0) + raw + payload
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + eocd)


@pytest.mark.parametrize("declared", [3 << 30, 16], ids=["honest-3GiB", "claims-16-bytes"])
def test_zip_entry_inflating_to_gigabytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declared: int) -> None:
    fake_torch(monkeypatch)
    storage = FakeStorage("0", np.zeros(4, np.float32))  # a 16-byte tensor
    pkl = pickle_bytes(OrderedDict(w=FakeTensor(storage, (4,))))
    bomb = _deflated_zeros(3 << 30)  # inflates to 3 GiB
    assert len(bomb) < 8 << 20
    crc = zlib.crc32(bytes(16)) if declared == 16 else 0
    path = tmp_path / "bomb.pth"
    path.write_bytes(_zip_with_entries([("archive/data.pkl", 0, pkl, zlib.crc32(pkl), len(pkl)), ("archive/data/0", 8, bomb, crc, declared)]))
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        if declared == 16:  # the archive states 16 bytes: at most 17 are inflated, and they are the tensor
            assert read_state_dict(path)["w"].tolist() == [0.0] * 4
        else:
            with pytest.raises(DataFormatError, match=r"storage '0' holds 3221225472 bytes, expected 16"):
                read_state_dict(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20 and time.perf_counter() - t0 < 5


@pytest.mark.parametrize(
    "pkl",
    [
        b"\x80\x02N" + b"r" + struct.pack("<I", 2**32 - 1) + b".",  # memo index 4e9: the unpickler would size its memo for it
        b"\x80\x04\x8e" + struct.pack("<Q", 2**60) + b"abc.",  # BINBYTES8 declaring an exabyte
        b"\x80\x02X" + struct.pack("<I", 2**31) + b"abc.",  # BINUNICODE declaring 2 GiB
    ],
    ids=["memo-index", "bytes8-length", "unicode-length"],
)
def test_pickle_lengths_are_checked_before_allocating(tmp_path: Path, pkl: bytes) -> None:
    path = tmp_path / "p.pth"
    path.write_bytes(zip_bytes(pkl, {}))
    with pytest.raises(DataFormatError, match="not a readable PyTorch checkpoint"):
        read_state_dict(path)


def test_allowed_globals_cannot_be_modified_by_a_pickle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GLOBAL torch._utils._rebuild_tensor_v2, then BUILD with {"__defaults__": ...}: refused, nothing changed
    pkl = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n}X\x0c\x00\x00\x00__defaults__)sb."
    path = tmp_path / "p.pth"
    path.write_bytes(zip_bytes(pkl, {}))
    with pytest.raises(DataFormatError, match="not a readable PyTorch checkpoint"):
        read_state_dict(path)
    np.testing.assert_array_equal(read_state_dict(_one_tensor(tmp_path, monkeypatch, "zip"))["w"], FOUR)

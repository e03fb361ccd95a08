"""Read PyTorch checkpoints of plain tensors without PyTorch and without a general unpickler.

A checkpoint is an untrusted file: Python's pickle runs whatever callable the file names, so
loading one with ``pickle.load`` (or ``torch.load`` without ``weights_only``) can run code.
:func:`read_state_dict` uses a restricted unpickler that knows only the handful of globals a
``state_dict`` of tensors needs (an ordered dict, the tensor rebuild helpers and the typed
storage classes) and refuses every other global with :class:`~analytics.errors.UnsafeFileError`
naming it, before anything is called.

Two container formats are understood:

- the zip format of ``torch.save`` since PyTorch 1.6 (``<root>/data.pkl`` plus one raw file per
  storage under ``<root>/data/``);
- the older "legacy" format (a run of pickles followed by the raw storages), in which the
  upstream ESPNetv2 weights are stored.

The result is a ``dict[str, numpy.ndarray]`` (float32 tensors stay float32; bfloat16 tensors are
widened to float32, since numpy has no bfloat16).
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from analytics.errors import DataFormatError, UnsafeFileError

__all__ = ["read_state_dict", "ALLOWED_GLOBALS"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
    "BFloat16Storage": np.dtype("<u2"),  # raw bits; widened to float32 when read
}


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for a ``torch.<X>Storage`` class: only its element type matters."""

    name: str
    dtype: np.dtype[Any]


@dataclass(frozen=True)
class _StorageRef:
    """A storage named by a persistent id; its bytes are read later."""

    key: str
    dtype: np.dtype[Any]
    numel: int
    view: tuple[str, int, int] | None = None  # legacy views: (root key, offset, size)
    bfloat16: bool = False


@dataclass(frozen=True)
class _TensorRef:
    """A tensor waiting for its storage bytes: offset, size and stride in elements."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_rest: Any) -> _TensorRef:
    if not isinstance(storage, _StorageRef):
        raise DataFormatError(f"checkpoint: a tensor refers to {type(storage).__name__}, not to a storage")
    try:
        return _TensorRef(storage, int(offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))
    except (TypeError, ValueError):
        raise DataFormatError(f"checkpoint: malformed tensor (offset={offset!r}, size={size!r}, stride={stride!r})") from None


def _rebuild_parameter(data: Any, *_rest: Any) -> Any:
    return data


_SAFE_CALLABLES: dict[tuple[str, str], Callable[..., Any]] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}

ALLOWED_GLOBALS: tuple[str, ...] = tuple(f"{m}.{n}" for m, n in _SAFE_CALLABLES) + tuple(
    f"torch.{n}" for n in _STORAGE_DTYPES
)
"""Every global a checkpoint may name; anything else is refused."""


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS` and storage persistent ids."""

    def __init__(self, file: BinaryIO, source: str) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_CALLABLES:
            return _SAFE_CALLABLES[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, _STORAGE_DTYPES[name])
        raise UnsafeFileError(
            f"{self.source}: refused to load global {module}.{name!s}; a tensor checkpoint only needs "
            f"{', '.join(ALLOWED_GLOBALS)}"
        )

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            kind = pid[0] if isinstance(pid, tuple) and pid else pid
            raise UnsafeFileError(f"{self.source}: refused persistent object {kind!r}; only tensor storages are allowed")
        if len(pid) < 5 or not isinstance(pid[1], _StorageType):
            raise DataFormatError(f"{self.source}: malformed storage reference {pid!r}")
        _, stype, key, _location, numel, *rest = pid
        view = rest[0] if rest and rest[0] is not None else None
        if view is not None:
            view = (str(view[0]), int(view[1]), int(view[2]))
        return _StorageRef(str(key), stype.dtype, int(numel), view, stype.name == "BFloat16Storage")


def _unpickle(fileobj: BinaryIO, source: str) -> Any:
    try:
        return _RestrictedUnpickler(fileobj, source).load()
    except (UnsafeFileError, DataFormatError):
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise DataFormatError(f"{source}: not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from None


def _materialise(obj: Any, storages: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise DataFormatError(f"{source}: expected a state_dict (a mapping of names to tensors), found {type(obj).__name__}")
    if "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    out: dict[str, np.ndarray] = {}
    for name, ref in obj.items():
        if not isinstance(ref, _TensorRef):
            continue  # bookkeeping values (epoch numbers, ...) are not weights
        out[str(name)] = _tensor_array(str(name), ref, storages, source)
    if not out:
        raise DataFormatError(f"{source}: the checkpoint holds no tensors")
    return out


def _tensor_array(name: str, ref: _TensorRef, storages: dict[str, np.ndarray], source: str) -> np.ndarray:
    sref = ref.storage
    base_key, base_offset = (sref.view[0], sref.view[1]) if sref.view else (sref.key, 0)
    if base_key not in storages:
        raise DataFormatError(f"{source}: tensor {name!r} refers to missing storage {base_key!r}")
    flat = storages[base_key]
    start = base_offset + ref.offset
    count = int(np.prod(ref.size)) if ref.size else 1
    span = 1 + sum((s - 1) * st for s, st in zip(ref.size, ref.stride)) if count else 0
    if start < 0 or start + span > flat.size:
        raise DataFormatError(f"{source}: tensor {name!r} of shape {ref.size} runs past the end of its storage")
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[start:], shape=ref.size, strides=tuple(st * item for st in ref.stride), writeable=False
    )
    if sref.bfloat16:
        return (view.astype(np.uint32) << 16).view(np.float32)
    return np.ascontiguousarray(view)


def _read_zip(path: Path, source: str) -> dict[str, np.ndarray]:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise DataFormatError(f"{source}: damaged zip checkpoint ({exc})") from None
    with zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise DataFormatError(f"{source}: a zip checkpoint needs exactly one data.pkl, found {len(pkl)}")
        root = pkl[0][: -len("data.pkl")]
        try:
            obj = _unpickle(io.BytesIO(zf.read(pkl[0])), source)
            refs = _collect_storage_refs(obj)
            storages: dict[str, np.ndarray] = {}
            for key, ref in refs.items():
                member = f"{root}data/{key}"
                if member not in names:
                    raise DataFormatError(f"{source}: storage {key!r} is missing from the archive")
                raw = zf.read(member)
                storages[key] = _storage_array(raw, ref.dtype, ref.numel, key, source)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DataFormatError(f"{source}: damaged zip checkpoint ({exc})") from None
    return _materialise(obj, storages, source)


def _collect_storage_refs(obj: Any) -> dict[str, _StorageRef]:
    refs: dict[str, _StorageRef] = {}
    values = obj.get("state_dict", obj).values() if isinstance(obj, dict) else []
    for value in values:
        if isinstance(value, _TensorRef):
            s = value.storage
            key = s.view[0] if s.view else s.key
            refs.setdefault(key, s)
    return refs


def _storage_array(raw: bytes, dtype: np.dtype[Any], numel: int, key: str, source: str) -> np.ndarray:
    need = numel * dtype.itemsize
    if len(raw) < need:
        raise DataFormatError(f"{source}: storage {key!r} has {len(raw)} bytes, expected {need} (truncated file?)")
    return np.frombuffer(raw[:need], dtype=dtype)


def _read_legacy(data: bytes, source: str) -> dict[str, np.ndarray]:
    f = io.BytesIO(data)
    magic = _unpickle(f, source)
    if magic != _LEGACY_MAGIC:
        raise DataFormatError(f"{source}: not a PyTorch checkpoint (neither a zip archive nor the legacy format)")
    protocol = _unpickle(f, source)
    if protocol != _LEGACY_PROTOCOL:
        raise DataFormatError(f"{source}: legacy checkpoint protocol {protocol!r} is not supported; expected {_LEGACY_PROTOCOL}")
    sys_info = _unpickle(f, source)
    if isinstance(sys_info, dict) and sys_info.get("little_endian") is False:
        raise DataFormatError(f"{source}: big-endian checkpoints are not supported")
    obj = _unpickle(f, source)
    keys = _unpickle(f, source)
    if not isinstance(keys, list):
        raise DataFormatError(f"{source}: malformed legacy checkpoint (storage key list is {type(keys).__name__})")
    refs = _collect_storage_refs(obj)
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        key = str(key)
        header = f.read(8)
        if len(header) < 8:
            raise DataFormatError(f"{source}: file ends before storage {key!r} (truncated file?)")
        (numel,) = struct.unpack("<q", header)
        ref = refs.get(key)
        dtype = ref.dtype if ref is not None else np.dtype("u1")
        if numel < 0:
            raise DataFormatError(f"{source}: storage {key!r} has a negative size {numel}")
        raw = f.read(numel * dtype.itemsize)
        storages[key] = _storage_array(raw, dtype, numel, key, source)
    return _materialise(obj, storages, source)


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Read a PyTorch checkpoint of tensors into ``{name: numpy array}`` without running its code.

    Raises :class:`~analytics.errors.UnsafeFileError` if the file names any global beyond
    :data:`ALLOWED_GLOBALS`, and :class:`~analytics.errors.DataFormatError` if it is not a
    PyTorch checkpoint, is truncated, or holds no tensors.

    >>> read_state_dict("no/such/file.pth")
    Traceback (most recent call last):
    ...
    analytics.errors.DataFormatError: checkpoint 'no/such/file.pth' does not exist
    """
    p = Path(path)
    source = f"checkpoint {p.name!r}"
    if not p.is_file():
        raise DataFormatError(f"checkpoint {str(path)!r} does not exist")
    if zipfile.is_zipfile(p):
        return _read_zip(p, source)
    data = p.read_bytes()
    if not data.startswith(b"\x80\x02"):
        raise DataFormatError(f"{source}: not a PyTorch checkpoint (neither a zip archive nor the legacy format)")
    return _read_legacy(data, source)

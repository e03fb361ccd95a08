"""Read PyTorch checkpoints of plain tensors without PyTorch and without a general unpickler.

A checkpoint is an untrusted file: Python's pickle runs whatever callable the file names, so
loading one with ``pickle.load`` (or ``torch.load`` without ``weights_only``) can run code.
:func:`read_state_dict` uses a restricted unpickler that knows only the handful of globals a
``state_dict`` of tensors needs (an ordered dict, the tensor rebuild helpers and the typed
storage classes) and refuses every other global with :class:`~analytics.errors.UnsafeFileError`
naming it, before anything is called.

Running no code is not enough: a file that names only allowed globals can still declare
impossible tensors. So, before anything is allocated or viewed:

- the pickle is scanned opcode by opcode first, so a length or memo index it declares cannot make
  the unpickler allocate more than the file holds;
- every tensor's shape, stride and offset are checked against the storage it names, in Python
  integers (no overflow): sizes, strides and offsets must be whole numbers of 0 or more, every
  element must lie inside the storage, and a tensor may not repeat stored elements (a zero or
  overlapping stride over a large shape);
- the bytes of the file, of the storages and of the tensors returned are each bounded by
  ``max_mb`` (``Settings.max_checkpoint_mb``, ``URBANLENS_MAX_CHECKPOINT_MB``);
- a storage in a zip archive is streamed: at most its declared size plus one byte is inflated,
  and an entry that holds more or less than declared is refused.

Any such file gets one :class:`~analytics.errors.DataFormatError` line naming the tensor (or the
storage) and the problem.

Two container formats are understood:

- the zip format of ``torch.save`` since PyTorch 1.6 (``<root>/data.pkl`` plus one raw file per
  storage under ``<root>/data/``);
- the older "legacy" format (a run of pickles followed by the raw storages), in which the
  upstream ESPNetv2 weights are stored.

The result is a ``dict[str, numpy.ndarray]`` of arrays that own their memory (float32 tensors
stay float32; bfloat16 tensors are widened to float32, since numpy has no bfloat16).
"""

from __future__ import annotations

import io
import lzma
import math
import pickle
import pickletools
import reprlib
import struct
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from analytics.errors import DataFormatError, InputError, UnsafeFileError

__all__ = ["read_state_dict", "ALLOWED_GLOBALS"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MB = 1 << 20
_CHUNK = 1 << 20  # bytes inflated at a time from a zip entry
_MAX_DIMS = 32  # numpy's smallest supported number of dimensions (32 in numpy 1.x, 64 in 2.x)
_MAX_MB = 1 << 30  # largest accepted max_mb (a petabyte): keeps every bound inside numpy's int64
_LIMIT_NAME = "URBANLENS_MAX_CHECKPOINT_MB"
_PUT_OPCODES = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_OPCODES = {op.code.encode("latin-1"): op for op in pickletools.opcodes}

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

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlevel = 3


def _short(value: Any) -> str:
    """A short, one-line repr of a value taken from the file (huge or deeply nested values included)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<{'-' if value < 0 else ''}{value.bit_length()}-bit integer>"
    try:
        return _REPR.repr(value)
    except (ValueError, RecursionError):  # an int too long for str(), nesting beyond the stack
        return f"<{type(value).__name__}>"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    """A whole number of 0 or more (a size, an offset, a stride)."""
    return _is_int(value) and value >= 0


@dataclass(frozen=True, slots=True, eq=False)
class _StorageType:
    """Stand-in for a ``torch.<X>Storage`` class: only its element type matters."""

    name: str
    dtype: np.dtype[Any]


@dataclass(frozen=True, slots=True, eq=False)
class _StorageRef:
    """A storage named by a persistent id: ``numel`` elements from ``start`` of root storage ``key``.

    ``problem`` says what is wrong with the reference; it is reported with the tensor that uses it.
    """

    key: str
    stype: _StorageType
    root_numel: int
    start: int
    numel: int
    problem: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class _TensorRef:
    """A tensor waiting for its storage bytes: offset, size and stride in elements."""

    storage: _StorageRef | None
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    problem: str | None = None


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_rest: Any) -> _TensorRef:
    """Record the fields of ``torch._utils._rebuild_tensor_v2``; values of the wrong type become a problem."""
    if not isinstance(storage, _StorageRef):
        return _TensorRef(None, 0, (), (), f"refers to a {type(storage).__name__}, not to a storage")
    if not _is_int(offset):
        return _TensorRef(None, 0, (), (), f"has a storage offset of {_short(offset)}; expected a whole number")
    for field, value in (("shape", size), ("stride", stride)):
        if not isinstance(value, (tuple, list)) or not all(_is_int(v) for v in value):
            return _TensorRef(None, 0, (), (), f"has a {field} of {_short(value)}; expected a tuple of whole numbers")
    if len(size) != len(stride):
        return _TensorRef(None, 0, (), (), f"has {len(size)} dimensions but {len(stride)} strides")
    if len(size) > _MAX_DIMS:
        return _TensorRef(None, 0, (), (), f"has {len(size)} dimensions; at most {_MAX_DIMS} are read")
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


def _rebuild_parameter(data: Any, *_rest: Any) -> Any:
    return data


class _Global:
    """An allowed callable as the unpickler hands it out: a pickle cannot set attributes on it."""

    __slots__ = ("_fn",)
    _fn: Callable[..., Any]

    def __init__(self, fn: Callable[..., Any]) -> None:
        object.__setattr__(self, "_fn", fn)

    def __call__(self, *args: Any) -> Any:
        return self._fn(*args)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{name} is read-only")


_SAFE_CALLABLES: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,  # a built-in type: its attributes cannot be set
    ("torch._utils", "_rebuild_tensor_v2"): _Global(_rebuild_tensor),
    ("torch._utils", "_rebuild_tensor"): _Global(_rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): _Global(_rebuild_parameter),
}
_STORAGE_TYPES = {name: _StorageType(name, dtype) for name, dtype in _STORAGE_DTYPES.items()}

ALLOWED_GLOBALS: tuple[str, ...] = tuple(f"{m}.{n}" for m, n in _SAFE_CALLABLES) + tuple(
    f"torch.{n}" for n in _STORAGE_DTYPES
)
"""Every global a checkpoint may name; anything else is refused."""


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS` and storage persistent ids.

    ``declared`` maps each root storage key to its type and element count as first declared.
    """

    def __init__(self, file: BinaryIO, source: str) -> None:
        super().__init__(file)
        self.source = source
        self.declared: dict[str, tuple[_StorageType, int]] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_CALLABLES:
            return _SAFE_CALLABLES[(module, name)]
        if module == "torch" and name in _STORAGE_TYPES:
            return _STORAGE_TYPES[name]
        if module == "torch" and isinstance(name, str) and name.endswith("Storage"):
            raise DataFormatError(
                f"{self.source}: storage type torch.{_short(name)[1:-1]} is not supported; "
                f"supported: {', '.join(_STORAGE_DTYPES)}"
            )
        raise UnsafeFileError(
            f"{self.source}: refused to load global {_short(module)[1:-1]}.{_short(name)[1:-1]}; "
            f"a tensor checkpoint only needs {', '.join(ALLOWED_GLOBALS)}"
        )

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            kind = pid[0] if isinstance(pid, tuple) and pid else pid
            raise UnsafeFileError(f"{self.source}: refused persistent object {_short(kind)}; only tensor storages are allowed")
        if len(pid) not in (5, 6) or not isinstance(pid[1], _StorageType) or not isinstance(pid[2], str):
            raise DataFormatError(
                f"{self.source}: malformed storage reference {_short(pid)}; "
                "expected ('storage', storage type, key, location, size[, view])"
            )
        return self._storage_ref(pid[1], pid[2], pid[4], pid[5] if len(pid) == 6 else None)

    def _storage_ref(self, stype: _StorageType, key: str, numel: Any, view: Any) -> _StorageRef:
        """torch's layout: ``numel`` is the root storage's size; a view is (view key, offset, size) into it."""
        name = f"storage {_short(key)}"
        if not _is_count(numel):
            return _StorageRef(key, stype, 0, 0, 0, f"{name} declares a size of {_short(numel)}; expected a whole number, 0 or more")
        first = self.declared.setdefault(key, (stype, numel))
        if first != (stype, numel):
            return _StorageRef(
                key, stype, 0, 0, 0,
                f"{name} is declared as {stype.name} of {numel} elements and elsewhere as {first[0].name} of {first[1]}",
            )
        if view is None:
            return _StorageRef(key, stype, numel, 0, numel)
        if not (isinstance(view, tuple) and len(view) == 3 and _is_count(view[1]) and _is_count(view[2])):
            return _StorageRef(key, stype, 0, 0, 0, f"{name} has a malformed view {_short(view)}; expected (key, offset, size)")
        if view[1] + view[2] > numel:
            return _StorageRef(
                key, stype, 0, 0, 0, f"{name} has a view of {view[2]} elements at {view[1]}, past its {numel} elements"
            )
        return _StorageRef(key, stype, numel, view[1], view[2])


def _opcodes(fileobj: BinaryIO) -> Iterator[tuple[str, Any]]:
    """(name, argument) of each opcode of one pickle, up to its STOP, building nothing.

    As :func:`pickletools.genops`, except that no escapes are decoded (decoding them can warn): a
    protocol-0 ``STRING`` (never written by PyTorch) is refused, and the module and name lines of
    ``GLOBAL`` and ``INST`` are read as raw lines.
    """
    while True:
        code = fileobj.read(1)
        op = _OPCODES.get(code)
        if op is None:
            raise ValueError("pickle exhausted before STOP" if not code else f"unknown opcode {code!r}")
        if op.name == "STRING":
            raise ValueError("protocol-0 STRING opcode")
        if op.arg is not None and op.arg.name.startswith("stringnl_noescape"):
            lines = [fileobj.readline() for _ in range(2 if op.arg.name.endswith("_pair") else 1)]
            if not all(line.endswith(b"\n") for line in lines):
                raise ValueError(f"no newline after the argument of {op.name}")
            yield op.name, lines
            continue
        yield op.name, None if op.arg is None else op.arg.reader(fileobj)
        if op.name == "STOP":
            return


def _prescan(fileobj: BinaryIO, source: str) -> None:
    """Walk one pickle's opcodes without building anything; refuse lengths past the end of the data
    and memo indices beyond the number of opcodes (the unpickler would allocate for them first)."""
    start = fileobj.tell()
    problem = None
    try:
        for count, (name, arg) in enumerate(_opcodes(fileobj), 1):
            if name in _PUT_OPCODES and (not isinstance(arg, int) or arg >= count):
                problem = f"memo index {_short(arg)} out of range"
                break
    except (ValueError, OverflowError, EOFError, struct.error) as exc:
        problem = f"{type(exc).__name__}: {_short(str(exc))[1:-1]}"
    if problem is not None:
        raise DataFormatError(f"{source}: not a readable PyTorch checkpoint ({problem})")
    fileobj.seek(start)


def _unpickle(fileobj: BinaryIO, source: str) -> tuple[Any, dict[str, tuple[_StorageType, int]]]:
    """One pickle from ``fileobj`` and the storages it declared."""
    _prescan(fileobj, source)
    unpickler = _RestrictedUnpickler(fileobj, source)
    try:
        return unpickler.load(), unpickler.declared
    except (UnsafeFileError, DataFormatError):
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, OverflowError) as exc:
        raise DataFormatError(f"{source}: not a readable PyTorch checkpoint ({type(exc).__name__}: {_short(str(exc))[1:-1]})") from None


def _limit_text(max_mb: int) -> str:
    return f"the limit of {max_mb} MB ({_LIMIT_NAME})"


def _state_tensors(obj: Any, source: str) -> dict[str, _TensorRef]:
    """The tensors of a state_dict (or of its ``"state_dict"`` entry), by name."""
    if not isinstance(obj, dict):
        raise DataFormatError(f"{source}: expected a state_dict (a mapping of names to tensors), found {type(obj).__name__}")
    inner = obj.get("state_dict")
    if isinstance(inner, dict):
        obj = inner
    tensors: dict[str, _TensorRef] = {}
    for name, ref in obj.items():
        if not isinstance(ref, _TensorRef):
            continue  # bookkeeping values (epoch numbers, ...) are not weights
        if not isinstance(name, str):
            raise DataFormatError(f"{source}: a tensor is named by a {type(name).__name__} {_short(name)}, not by a string")
        tensors[name] = ref
    if not tensors:
        raise DataFormatError(f"{source}: the checkpoint holds no tensors")
    return tensors


def _out_itemsize(storage: _StorageRef) -> int:
    return 4 if storage.stype.name == "BFloat16Storage" else storage.stype.dtype.itemsize


def _check_tensor(where: str, ref: _TensorRef, cap: int, max_mb: int) -> int:
    """Check one tensor against its storage; return the bytes of the array it becomes.

    Element ``i`` (a tuple of indices) lies at ``offset + sum(i[d] * stride[d])`` of the storage;
    with strides of 0 or more the last one lies at ``offset + sum((size[d] - 1) * stride[d])``,
    which must be below the storage's element count, and the tensor's elements
    ``prod(size)`` may not exceed the span ``last - offset + 1`` they are drawn from.
    """
    if ref.problem is not None or ref.storage is None:
        raise DataFormatError(f"{where} {ref.problem}")
    s = ref.storage
    if s.problem is not None:
        raise DataFormatError(f"{where}: {s.problem}")
    shape = _short(ref.size)
    for dim, (n, st) in enumerate(zip(ref.size, ref.stride)):
        if n < 0:
            raise DataFormatError(f"{where} has a negative size {n} in dimension {dim}; sizes must be 0 or more")
        if n > cap:
            raise DataFormatError(f"{where} has a size of {_short(n)} in dimension {dim}, more than {_limit_text(max_mb)}")
        if st < 0:
            raise DataFormatError(f"{where} has a negative stride {st} in dimension {dim}; strides must be 0 or more")
    if ref.offset < 0:
        raise DataFormatError(f"{where} has a negative storage offset {ref.offset}")
    count = math.prod(ref.size)
    nbytes = count * _out_itemsize(s)
    if nbytes > cap:
        raise DataFormatError(f"{where} of shape {shape} has {_short(count)} elements, more than {_limit_text(max_mb)}")
    if count == 0:
        if ref.offset > s.numel:
            raise DataFormatError(f"{where} starts at element {_short(ref.offset)}, past its storage of {s.numel} elements")
        return 0
    last = ref.offset + sum((n - 1) * st for n, st in zip(ref.size, ref.stride))
    if last >= s.numel:
        raise DataFormatError(
            f"{where} of shape {shape}, strides {_short(ref.stride)} and offset {_short(ref.offset)} reaches element "
            f"{_short(last)} of storage {_short(s.key)}, which holds {s.numel} elements"
        )
    span = last - ref.offset + 1
    if count > span:
        raise DataFormatError(
            f"{where} of shape {shape} repeats stored elements (strides {_short(ref.stride)}): {count} elements "
            f"from {span} stored; only tensors whose elements are all stored are read"
        )
    return nbytes


def _check_tensors(tensors: dict[str, _TensorRef], source: str, max_mb: int) -> dict[str, tuple[_StorageType, int]]:
    """Check every tensor and the totals against ``max_mb``; return the root storages they need."""
    cap = max_mb * _MB
    total = 0
    roots: dict[str, tuple[_StorageType, int]] = {}
    for name, ref in tensors.items():
        where = f"{source}: tensor {_short(name)}"
        total += _check_tensor(where, ref, cap, max_mb)
        if total > cap:
            raise DataFormatError(f"{where}: the tensors read so far take {total} bytes, more than {_limit_text(max_mb)}")
        assert ref.storage is not None  # checked by _check_tensor
        roots[ref.storage.key] = (ref.storage.stype, ref.storage.root_numel)
    stored = sum(stype.dtype.itemsize * numel for stype, numel in roots.values())
    if stored > cap:
        raise DataFormatError(f"{source}: the storages declare {stored} bytes, more than {_limit_text(max_mb)}")
    return roots


def _tensor_array(ref: _TensorRef, flat: np.ndarray) -> np.ndarray:
    """The tensor as an array of its own, copied out of its (already checked) root storage.

    A 0-d tensor (a scalar such as ``num_batches_tracked``) comes back with shape ``(1,)``.
    """
    s = ref.storage
    assert s is not None
    bfloat16 = s.stype.name == "BFloat16Storage"
    if math.prod(ref.size) == 0:
        return np.zeros(ref.size, np.float32 if bfloat16 else flat.dtype)
    item = flat.itemsize
    strides = tuple(st * item if n > 1 else 0 for n, st in zip(ref.size, ref.stride))
    view = np.lib.stride_tricks.as_strided(flat[s.start + ref.offset :], shape=ref.size, strides=strides, writeable=False)
    if bfloat16:
        return (np.array(view, np.uint32, ndmin=1) << 16).view(np.float32)
    return np.array(view, copy=True, order="C", ndmin=1)


def _arrays(tensors: dict[str, _TensorRef], storages: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: _tensor_array(ref, storages[ref.storage.key]) for name, ref in tensors.items() if ref.storage is not None}


_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, lzma.LZMAError, NotImplementedError, ValueError)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, expected: int, what: str, source: str) -> bytearray:
    """Exactly ``expected`` bytes of a zip entry, inflated a chunk at a time (never more than one extra byte)."""
    if info.file_size != expected:
        hint = " (truncated file?)" if info.file_size < expected else ""
        raise DataFormatError(f"{source}: {what} holds {info.file_size} bytes, expected {expected}{hint}")
    buf = bytearray(expected)
    got = 0
    try:
        with zf.open(info) as fh:
            while got < expected:
                chunk = fh.read(min(_CHUNK, expected - got))
                if not chunk:
                    break
                buf[got : got + len(chunk)] = chunk
                got += len(chunk)
            extra = fh.read(1) if got == expected else b""
    except (*_ZIP_ERRORS, RuntimeError) as exc:  # RuntimeError: an encrypted entry
        raise DataFormatError(f"{source}: damaged zip checkpoint: {what} cannot be read ({type(exc).__name__}: {exc})") from None
    if got < expected:
        raise DataFormatError(f"{source}: {what} holds {got} bytes, expected {expected} (truncated file?)")
    if extra:
        raise DataFormatError(f"{source}: {what} holds more than the {expected} bytes it declares")
    return buf


def _read_zip(path: Path, source: str, max_mb: int) -> dict[str, np.ndarray]:
    try:
        zf = zipfile.ZipFile(path)
    except _ZIP_ERRORS as exc:
        raise DataFormatError(f"{source}: damaged zip checkpoint ({type(exc).__name__}: {exc})") from None
    with zf:
        infos = {info.filename: info for info in zf.infolist()}
        pkl = [n for n in infos if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise DataFormatError(f"{source}: a zip checkpoint needs exactly one data.pkl, found {len(pkl)}")
        root = pkl[0][: -len("data.pkl")]
        order = infos.get(f"{root}byteorder")
        if order is not None and (order.file_size != 6 or _read_member(zf, order, 6, "byteorder", source) != b"little"):
            raise DataFormatError(f"{source}: only little-endian checkpoints are supported")
        if infos[pkl[0]].file_size > max_mb * _MB:
            raise DataFormatError(f"{source}: data.pkl holds {infos[pkl[0]].file_size} bytes, more than {_limit_text(max_mb)}")
        data = _read_member(zf, infos[pkl[0]], infos[pkl[0]].file_size, "data.pkl", source)
        obj, _declared = _unpickle(io.BytesIO(data), source)
        tensors = _state_tensors(obj, source)
        roots = _check_tensors(tensors, source, max_mb)
        storages: dict[str, np.ndarray] = {}
        for key, (stype, numel) in roots.items():
            info = infos.get(f"{root}data/{key}")
            if info is None:
                raise DataFormatError(f"{source}: storage {_short(key)} is missing from the archive")
            raw = _read_member(zf, info, numel * stype.dtype.itemsize, f"storage {_short(key)}", source)
            storages[key] = np.frombuffer(raw, dtype=stype.dtype)
    return _arrays(tensors, storages)


def _legacy_header(f: BinaryIO, source: str) -> None:
    """Check the magic number, protocol and system information pickles of the legacy format."""
    magic, _ = _unpickle(f, source)
    if not _is_int(magic) or magic != _LEGACY_MAGIC:
        raise DataFormatError(f"{source}: not a PyTorch checkpoint (neither a zip archive nor the legacy format)")
    protocol, _ = _unpickle(f, source)
    if not _is_int(protocol) or protocol != _LEGACY_PROTOCOL:
        raise DataFormatError(f"{source}: legacy checkpoint protocol {_short(protocol)} is not supported; expected {_LEGACY_PROTOCOL}")
    sys_info, _ = _unpickle(f, source)
    if isinstance(sys_info, dict) and sys_info.get("little_endian") is False:
        raise DataFormatError(f"{source}: big-endian checkpoints are not supported")


def _legacy_storages(
    data: bytes, pos: int, keys: list[str], declared: dict[str, tuple[_StorageType, int]], needed: set[str], source: str
) -> dict[str, np.ndarray]:
    """The needed storages, in file order: per key, an int64 element count and the raw elements."""
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        if key not in declared:
            raise DataFormatError(f"{source}: the file lists storage {_short(key)}, which no tensor declares")
        stype, numel = declared[key]
        if pos + 8 > len(data):
            raise DataFormatError(f"{source}: file ends before storage {_short(key)} (truncated file?)")
        (stored,) = struct.unpack_from("<q", data, pos)
        pos += 8
        if stored != numel:
            raise DataFormatError(f"{source}: storage {_short(key)} holds {stored} elements, declared {numel}")
        nbytes = numel * stype.dtype.itemsize
        if pos + nbytes > len(data):
            raise DataFormatError(
                f"{source}: storage {_short(key)} has {len(data) - pos} bytes, expected {nbytes} (truncated file?)"
            )
        if key in needed:
            storages[key] = np.frombuffer(data, dtype=stype.dtype, count=numel, offset=pos)
        pos += nbytes
    missing = sorted(needed - storages.keys())
    if missing:
        raise DataFormatError(f"{source}: storage {_short(missing[0])} is missing from the file")
    return storages


def _read_legacy(data: bytes, source: str, max_mb: int) -> dict[str, np.ndarray]:
    f = io.BytesIO(data)
    _legacy_header(f, source)
    obj, declared = _unpickle(f, source)
    keys, _ = _unpickle(f, source)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise DataFormatError(f"{source}: malformed legacy checkpoint (the storage key list is {_short(keys)})")
    if len(set(keys)) != len(keys):
        raise DataFormatError(f"{source}: malformed legacy checkpoint (a storage is listed twice)")
    tensors = _state_tensors(obj, source)
    roots = _check_tensors(tensors, source, max_mb)
    storages = _legacy_storages(data, f.tell(), keys, declared, set(roots), source)
    return _arrays(tensors, storages)


def read_state_dict(path: str | Path, max_mb: int = 1024) -> dict[str, np.ndarray]:
    """Read a PyTorch checkpoint of tensors into ``{name: numpy array}`` without running its code.

    ``max_mb`` bounds, in megabytes, the file, the storages it declares and the arrays returned
    (pass ``Settings.max_checkpoint_mb``; the default is the setting's).

    Raises :class:`~analytics.errors.UnsafeFileError` if the file names any global beyond
    :data:`ALLOWED_GLOBALS`, and :class:`~analytics.errors.DataFormatError` if it is not a
    PyTorch checkpoint, is truncated, holds no tensors, holds a tensor that does not fit its
    storage (see the module doc) or is larger than ``max_mb``.

    >>> read_state_dict("no/such/file.pth")
    Traceback (most recent call last):
    ...
    analytics.errors.DataFormatError: checkpoint 'no/such/file.pth' does not exist
    >>> read_state_dict("no/such/file.pth", max_mb=0)
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: max_mb=0: give a whole number of megabytes from 1 to 1073741824
    """
    if not _is_int(max_mb) or not 1 <= max_mb <= _MAX_MB:
        raise InputError(f"max_mb={max_mb!r}: give a whole number of megabytes from 1 to {_MAX_MB}")
    p = Path(path)
    source = f"checkpoint {p.name!r}"
    if not p.is_file():
        raise DataFormatError(f"checkpoint {str(path)!r} does not exist")
    try:
        size = p.stat().st_size
        if size > max_mb * _MB:
            raise DataFormatError(f"{source}: the file has {size} bytes, more than {_limit_text(max_mb)}")
        if zipfile.is_zipfile(p):
            return _read_zip(p, source, max_mb)
        data = p.read_bytes()
    except OSError as exc:
        raise DataFormatError(f"{source}: cannot be read ({exc.strerror or exc})") from None
    if not data.startswith(b"\x80\x02"):
        raise DataFormatError(f"{source}: not a PyTorch checkpoint (neither a zip archive nor the legacy format)")
    return _read_legacy(data, source, max_mb)

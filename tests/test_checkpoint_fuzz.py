"""Fuzzing the checkpoint reader: mutated valid checkpoints are refused cleanly or read correctly.

Every case starts from a valid hand-made checkpoint (zip and legacy layouts) and changes it: random
bytes of the pickle or of a storage, random bytes anywhere in the file, a truncation, or one field
of one tensor (shape, stride, offset, the declared storage size or key) set to a hostile value.
The reader may only return arrays equal to what the file states (checked against a plain-Python
oracle that indexes the storage element by element), or raise DataFormatError / UnsafeFileError.
The seed is fixed and the number of cases bounded, so a failure names a case that reproduces.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics.errors import DataFormatError, UnsafeFileError
from analytics.models.checkpoint import read_state_dict
from tests.checkpoints import FakeStorage, FakeTensor, fake_torch, legacy_bytes, pickle_bytes, zip_bytes

SEED = 20240611
CASES = 120  # per mutation kind and layout
MAX_MB = 1
LAYOUTS = ("zip", "legacy")

INTS = [-(2**63), -(2**31), -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 2**16, 2**31 - 1, 2**32, 2**62, 2**63 - 1, 2**63, 2**64 + 1, 10**30]
ODD = [None, 1.5, float("inf"), float("nan"), "3", b"3", True, (), (1,), [2, 2], {"a": 1}, ((1,),)]


@dataclass(frozen=True)
class Spec:
    """One tensor as the file states it: its storage's values (as stored) and the fields naming them."""

    name: str
    key: Any
    values: np.ndarray
    shape: Any
    stride: Any
    offset: Any = 0
    numel: Any = None  # the declared storage size; None: the stored values' count
    kind: str = "FloatStorage"


def base_specs() -> list[Spec]:
    """A small state_dict with the variety real ones have: weights, a shared storage, a strided view,
    an int64 scalar and an empty tensor."""
    shared = np.arange(12, dtype=np.float32) / 4
    return [
        Spec("conv.weight", "0", np.arange(24, dtype=np.float32) - 7.5, (2, 3, 2, 2), (12, 4, 2, 1)),
        Spec("bn.bias", "1", np.array([0.5, -1.5], np.float32), (2,), (1,)),
        Spec("head.weight", "2", shared, (3, 4), (4, 1)),
        Spec("head.weight_t", "2", shared, (4, 3), (1, 4)),  # a transposed view of the same storage
        Spec("head.tail", "2", shared, (2,), (3,), offset=5),
        Spec("bn.num_batches_tracked", "3", np.array([7], np.int64), (), (), kind="LongStorage"),
        Spec("empty", "4", np.zeros(0, np.float32), (0, 5), (5, 1)),
    ]


def build(specs: list[Spec], layout: str, pkl: bytes | None = None, storage_bytes: dict[Any, bytes] | None = None) -> bytes:
    """The file for ``specs`` (the fake torch modules must be installed); ``pkl`` and ``storage_bytes``
    replace the pickle or some storages' bytes as written."""
    storages: dict[Any, FakeStorage] = {}
    state: OrderedDict[str, FakeTensor] = OrderedDict()
    for s in specs:
        storage = storages.setdefault(s.key, FakeStorage(s.key, s.values, s.kind, s.numel))
        state[s.name] = FakeTensor(storage, s.shape, s.stride, s.offset)
    pkl = pickle_bytes(state) if pkl is None else pkl
    raw = {k: (storage_bytes or {}).get(k, st.data.tobytes()) for k, st in storages.items() if _hashable_str(k)}
    if layout == "zip":
        return zip_bytes(pkl, raw)
    return legacy_bytes(pkl, {k: (storages[k].data.size, b) for k, b in raw.items()})


def _hashable_str(key: Any) -> bool:
    return isinstance(key, str)


def as_written(specs: list[Spec]) -> list[Spec]:
    """Tensors naming one storage key share the storage the file holds: the first one's values,
    type and declared size (as :func:`build` writes them)."""
    first: dict[Any, Spec] = {}
    for s in specs:
        first.setdefault(s.key, s)
    return [replace(s, values=first[s.key].values, kind=first[s.key].kind, numel=first[s.key].numel) for s in specs]


def oracle(spec: Spec) -> np.ndarray | None:
    """What a correct reader returns for ``spec``, element by element in plain Python; None where
    the file states no readable tensor (any element outside the storage, a wrong field type, ...)."""
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (spec.offset, *_seq(spec.shape), *_seq(spec.stride)))
    if not ints or not isinstance(spec.shape, (tuple, list)) or not isinstance(spec.stride, (tuple, list)):
        return None
    declared = spec.values.size if spec.numel is None else spec.numel
    if declared != spec.values.size or len(spec.shape) != len(spec.stride) or len(spec.shape) > 32:
        return None
    if any(n < 0 for n in spec.shape) or any(st < 0 for st in spec.stride) or spec.offset < 0:
        return None
    if any(n > MAX_MB << 20 for n in spec.shape):
        return None  # a dimension larger than the limit
    if math.prod(spec.shape) == 0:
        return np.zeros(spec.shape, spec.values.dtype)
    if math.prod(spec.shape) > 10_000:
        return None  # never readable here: a storage holds at most 24 elements and elements may not repeat
    out = []
    for index in itertools.product(*(range(n) for n in spec.shape)):
        k = spec.offset + sum(i * st for i, st in zip(index, spec.stride))
        if not 0 <= k < spec.values.size:
            return None
        out.append(spec.values[k])
    return np.array(out, spec.values.dtype).reshape(spec.shape).reshape(-1 if not spec.shape else spec.shape)


def _seq(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else ()


def read_outcome(path: Path, data: bytes) -> dict[str, np.ndarray] | None:
    """The arrays read from ``data``, or None for a clean refusal; any other exception fails the test."""
    path.write_bytes(data)
    try:
        got = read_state_dict(path, max_mb=MAX_MB)
    except (DataFormatError, UnsafeFileError) as exc:
        assert "\n" not in str(exc)
        return None
    assert all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in got.items())
    assert sum(v.nbytes for v in got.values()) <= MAX_MB << 20
    return got


def assert_matches(got: dict[str, np.ndarray] | None, specs: list[Spec]) -> None:
    """A read (not a refusal) returns exactly what each tensor's oracle says, and the oracle agrees it is readable."""
    if got is None:
        return
    assert list(got) == [s.name for s in specs]
    for s in specs:
        want = oracle(s)
        assert want is not None, f"{s.name}: read although the file states no readable tensor ({s})"
        np.testing.assert_array_equal(got[s.name], want)
        assert got[s.name].shape == want.shape


def _run(cases: Callable[[random.Random], tuple[str, list[Spec], bytes, bool]], tmp_path: Path) -> int:
    """Run CASES cases; return how many were read (the rest were refused)."""
    rng = random.Random(SEED)
    path = tmp_path / "fuzz.pth"
    reads = 0
    for i in range(CASES):
        label, specs, data, check = cases(rng)
        try:
            got = read_outcome(path, data)
            if check:
                assert_matches(got, specs)
        except AssertionError as exc:
            raise AssertionError(f"case {i} ({label}, seed {SEED}): {exc}") from None
        except Exception as exc:  # anything but a clean refusal is a bug
            pytest.fail(f"case {i} ({label}, seed {SEED}): {type(exc).__name__} escaped: {exc}")
        reads += got is not None
    return reads


def _flip(data: bytes, rng: random.Random, start: int = 0, end: int | None = None) -> bytes:
    """``data`` with 1 to 4 random bytes in [start, end) replaced by random values."""
    out = bytearray(data)
    end = len(out) if end is None else end
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(start, end)] = rng.randrange(256)
    return bytes(out)


@pytest.fixture
def specs(monkeypatch: pytest.MonkeyPatch) -> list[Spec]:
    fake_torch(monkeypatch)
    return base_specs()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_base_checkpoints_read_exactly(specs: list[Spec], layout: str, tmp_path: Path) -> None:
    got = read_outcome(tmp_path / "ok.pth", build(specs, layout))
    assert got is not None
    assert_matches(got, specs)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_pickle_byte_flips(specs: list[Spec], layout: str, tmp_path: Path) -> None:
    pkl = _pickle_of(specs)

    def case(rng: random.Random) -> tuple[str, list[Spec], bytes, bool]:
        return "pickle flip", specs, build(specs, layout, pkl=_flip(pkl, rng, start=2)), False  # a read may name other tensors

    _run(case, tmp_path)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_storage_byte_flips(specs: list[Spec], layout: str, tmp_path: Path) -> None:
    def case(rng: random.Random) -> tuple[str, list[Spec], bytes, bool]:
        key = rng.choice(["0", "1", "2", "3"])
        spec = next(s for s in specs if s.key == key)
        raw = _flip(spec.values.tobytes(), rng)
        changed = [replace(s, values=np.frombuffer(raw, s.values.dtype)) if s.key == key else s for s in specs]
        return f"storage {key} flip", changed, build(specs, layout, storage_bytes={key: raw}), True

    assert _run(case, tmp_path) == CASES  # the container is intact: every case reads, with the new values


@pytest.mark.parametrize("layout", LAYOUTS)
def test_file_byte_flips(specs: list[Spec], layout: str, tmp_path: Path) -> None:
    data = build(specs, layout)

    def case(rng: random.Random) -> tuple[str, list[Spec], bytes, bool]:
        return "file flip", specs, _flip(data, rng), False

    _run(case, tmp_path)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_truncations(specs: list[Spec], layout: str, tmp_path: Path) -> None:
    data = build(specs, layout)

    def case(rng: random.Random) -> tuple[str, list[Spec], bytes, bool]:
        cut = rng.randrange(len(data))
        return f"truncated at {cut}", specs, data[:cut], True

    assert _run(case, tmp_path) == 0


def _hostile(rng: random.Random, small: bool = True) -> Any:
    pick = rng.random()
    if pick < 0.5:
        return rng.choice(INTS)
    if pick < 0.8 and small:
        return rng.randrange(0, 13)
    return rng.choice(ODD)


def _mutate_dims(value: Any, rng: random.Random) -> Any:
    """A shape or stride with one element changed, a dimension added or dropped, or replaced entirely."""
    pick = rng.random()
    items = list(value)
    if pick < 0.5 and items:
        items[rng.randrange(len(items))] = _hostile(rng)
        return tuple(items)
    if pick < 0.65:
        return (*items, _hostile(rng))
    if pick < 0.75:
        return tuple(items[:-1])
    if pick < 0.9:
        return tuple(_hostile(rng) for _ in range(rng.randint(0, 4)))
    return _hostile(rng, small=False)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_field_changes(specs: list[Spec], layout: str, tmp_path: Path) -> None:
    def case(rng: random.Random) -> tuple[str, list[Spec], bytes, bool]:
        i = rng.randrange(len(specs))
        field = rng.choice(["shape", "stride", "shape+stride", "offset", "numel", "key"])
        s = specs[i]
        if field == "shape":
            s = replace(s, shape=_mutate_dims(s.shape, rng))
        elif field == "stride":
            s = replace(s, stride=_mutate_dims(s.stride, rng))
        elif field == "shape+stride":
            s = replace(s, shape=_mutate_dims(s.shape, rng), stride=_mutate_dims(s.stride, rng))
        elif field == "offset":
            s = replace(s, offset=_hostile(rng))
        elif field == "numel":
            s = replace(s, numel=_hostile(rng))
        else:
            s = replace(s, key=rng.choice(["9", "0", "", "../x", 5, None, ("storage",)]), numel=s.values.size)
        changed = as_written([s if j == i else o for j, o in enumerate(specs)])
        try:
            data = build(changed, layout)
        except (TypeError, ValueError, OverflowError, AttributeError):  # the test writer cannot write it either
            data = build(specs, layout)
            changed = specs
        return f"{field} of {s.name} -> {s}", changed, data, True

    _run(case, tmp_path)


def _pickle_of(specs: list[Spec]) -> bytes:
    storages: dict[Any, FakeStorage] = {}
    state = OrderedDict(
        (s.name, FakeTensor(storages.setdefault(s.key, FakeStorage(s.key, s.values, s.kind, s.numel)), s.shape, s.stride, s.offset))
        for s in specs
    )
    return pickle_bytes(state)

"""Fuzz of the Parquet readers: mutated and truncated versions of a valid clip file (a cluster job's
landing) are either refused cleanly (:class:`InputError`, one line) or read correctly, never a crash.

Mutations (fixed seed, bounded count, a few seconds): random byte flips anywhere in the file, flips in
the footer only, truncations, a column swapped for another type (pyarrow), and footers claiming huge
row counts. Each is fed to ``import-parquet``'s reader and store (:func:`import_clips`) and to the frame
folder reader (:class:`ParquetStore`, then an indicator query). After all of them, the database holds
no negative, NaN or infinite number where a count or share belongs.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from analytics import indicators as ind
from analytics.errors import InputError
from analytics.selection import Selection
from analytics.store import Store
from analytics.store.parquet import CLIP_SCHEMA, ParquetStore, import_clips
from tests.helpers import store_with_cameras
from tests.hostile.support import claim_rows, clip_landing

SEED = 27
CASES_PER_KIND = 16
SWAP_TYPES = [pa.string(), pa.float64(), pa.int8(), pa.bool_(), pa.null(), pa.list_(pa.float64()), pa.timestamp("ns")]


def _flip(data: bytes, rng: random.Random, start: int = 0) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(start, len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _swap_column(table: pa.Table, rng: random.Random) -> pa.Table:
    """One column replaced by values of another type (cast where Arrow can, else made up)."""
    i = rng.randrange(table.num_columns)
    kind = rng.choice(SWAP_TYPES)
    try:
        values = pc.cast(table.column(i), kind, safe=False)
    except (pa.ArrowException, NotImplementedError):
        values = pa.array([None] * table.num_rows, kind) if rng.random() < 0.5 else pa.array(["x"] * table.num_rows)
    return table.set_column(i, table.field(i).name, values)


def _mutants(good: bytes, table: pa.Table, rng: random.Random) -> list[tuple[str, Callable[[Path], None]]]:
    """(name, write the mutant to a path) for every case."""
    footer_start = len(good) - 8 - int.from_bytes(good[-8:-4], "little")
    out: list[tuple[str, Callable[[Path], None]]] = []
    for k in range(CASES_PER_KIND):
        flipped, in_footer = _flip(good, rng), _flip(good, rng, footer_start)
        cut = good[: rng.randrange(len(good))]
        swapped = _swap_column(table, rng)
        rows = rng.choice([2**31, 10**9, 10**12, 2**62, 38, 36])
        out += [
            (f"flip-{k}", lambda p, d=flipped: p.write_bytes(d)),
            (f"footer-flip-{k}", lambda p, d=in_footer: p.write_bytes(d)),
            (f"truncate-{k}", lambda p, d=cut: p.write_bytes(d)),
            (f"swap-{k}", lambda p, t=swapped: pq.write_table(t, p)),
            (f"rows-{k}", lambda p, n=rows: (p.write_bytes(good), claim_rows(p, n))),
        ]
    return out


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, pa.Table]:
    folder = tmp_path_factory.mktemp("landing")
    path = clip_landing(folder / "pq")
    return path.relative_to(folder / "pq"), path.read_bytes(), pq.ParquetFile(path).read()


def test_mutated_landings_are_refused_cleanly_or_read_correctly(landing: tuple[Path, bytes, pa.Table], tmp_path: Path) -> None:
    rel, good, table = landing
    assert table.schema.equals(CLIP_SCHEMA.with_metadata(table.schema.metadata))
    db = tmp_path / "d.duckdb"
    store_with_cameras(str(db), [("cam-1", 4.0, 52.0)]).close()
    outcomes: dict[str, int] = {"refused": 0, "read": 0}
    rng = random.Random(SEED)
    for name, write in _mutants(good, table, rng):
        folder = tmp_path / name
        (folder / rel).parent.mkdir(parents=True)
        write(folder / rel)
        refused: list[str] = []
        with Store(db) as store:
            try:
                import_clips(store, folder, on_refused=lambda p, why, out=refused: out.append(why))
            except InputError as exc:
                refused.append(str(exc))
        outcomes["refused" if refused else "read"] += 1
        assert all("\n" not in why and len(why) < 600 for why in refused), (name, refused)
        try:
            with ParquetStore(folder) as source:
                ind.compute(source, Selection(min_frames=1), by="city", indicators=["green_view", "road_occupancy"])
        except InputError as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 600, (name, str(exc))
        shutil.rmtree(folder)
    assert outcomes["refused"] > 40 and outcomes["read"] > 0, outcomes  # the mutations reach both ends
    with Store(db) as store:
        bad = store.scalar(
            "SELECT count(*) FROM frames WHERE NOT (isfinite(t_s) AND t_s >= 0 AND valid_px >= 0 AND road_px >= 0 "
            "AND coalesce(distress_crack_px, 0) BETWEEN 0 AND 10000 AND coalesce(distress_pothole_px, 0) BETWEEN 0 AND 10000 "
            "AND n_person >= 0 AND n_vehicle >= 0 AND n_two_wheeler >= 0)"
        )
        negative = store.scalar("SELECT count(*) FROM frame_class_pixels WHERE pixels < 0")
    assert bad == 0 and negative == 0

"""Fuzz the readers of CVAT archives, label maps, manifests and zones: every mutated input is either
read correctly or refused with an UrbanLens error of one short line, never anything else.

Each fuzz test starts from a valid input, makes a fixed number of mutations with a fixed seed
(byte flips, truncations, type swaps, huge claimed sizes) and runs the reader on each. The memory
tests run the import in a child process under ``RLIMIT_AS`` (what ``ulimit -v`` sets): a zip member
that lies about its size and a 1 MB PNG of 18,500 x 18,500 pixels must be refused without the
gigabyte either would take.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics.errors import DataFormatError, UrbanLensError
from analytics.evaluation import archives
from analytics.evaluation.annotations import import_annotations, list_annotations, load_annotations
from analytics.evaluation.cvat import MAX_COLOURS, distinct_colours
from analytics.evaluation.imagesize import MAX_IMAGE_PIXELS
from analytics.evaluation.labelmaps import load_label_map
from analytics.evaluation.readers import MAX_CLASSES, read_cvat_mask
from analytics.footage.cluster import read_manifest
from analytics.geo import ZONE_LIMITS, parse_zones
from analytics.settings import load_settings
from analytics.untrusted import json_depth, load_json, quote_value
from tests.hostile.archives import cvat_files, deflated, huge_png, lying_zeros, png, write_raw_zip

REPO = Path(__file__).resolve().parents[2]
MAX_MESSAGE = 600
"""Longest refusal message accepted (user content in it is capped at about 80 characters a value)."""


def _refused_cleanly(call: Callable[[], object]) -> object | None:
    """Run ``call``: its result, or None when it raised an UrbanLens error of one short line."""
    try:
        return call()
    except UrbanLensError as exc:
        text = str(exc)
        assert "\n" not in text and len(text) <= MAX_MESSAGE, text[:2000]
        return None


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
    return buf.getvalue()


def _mutations(data: bytes, rng: random.Random, n: int) -> list[bytes]:
    """``n`` damaged copies: byte flips, truncations, spliced duplicates, runs of 0xFF."""
    out = []
    for i in range(n):
        b = bytearray(data)
        kind = i % 4
        if kind == 0:
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 1:
            b = b[: rng.randrange(len(b))]
        elif kind == 2:
            at = rng.randrange(len(b))
            b[at:at] = b[rng.randrange(len(b)) :][:64]
        else:
            at = rng.randrange(len(b))
            b[at : at + 4] = b"\xff\xff\xff\x7f"
        out.append(bytes(b))
    return out


def _import(path: Path) -> object:
    """What ``annotate import`` does: read the export, every image and mask, store the set."""
    return import_annotations(path, "cvat-mask", None, load_settings())


# -- CVAT zip ---------------------------------------------------------------------------------------


def test_cvat_zip_fuzz(tmp_path: Path) -> None:
    """Damaged CVAT exports: read in full (frames checked) or refused in one line."""
    good = _zip(cvat_files())
    rng = random.Random(27)
    read = 0
    for i, data in enumerate(_mutations(good, rng, 120)):
        path = tmp_path / f"m{i}.zip"
        path.write_bytes(data)
        result = _refused_cleanly(lambda p=path: _import(p))
        read += result is not None
    assert read < 120  # most damage is noticed (CRC, headers); what is read must have read in full


def test_cvat_member_fuzz(tmp_path: Path) -> None:
    """Valid zips whose members are damaged (labelmap.txt, masks, images, lists)."""
    rng = random.Random(2027)
    good = cvat_files()
    for i in range(80):
        files = dict(good)
        member = rng.choice(sorted(files))
        files[member] = _mutations(files[member], rng, 4)[i % 4]
        path = tmp_path / f"f{i}.zip"
        path.write_bytes(_zip(files))
        _refused_cleanly(lambda p=path: _import(p))


def test_lying_member_is_refused_and_never_produces_more_than_it_declares(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    files = cvat_files(n=1)
    entries = [deflated(k, v) for k, v in sorted(files.items()) if k != "SegmentationClass/f0.png"]
    entries.append(lying_zeros("SegmentationClass/f0.png", 64 << 20, 1000))  # 64 MB of zeros that claims 1,000 bytes
    path = write_raw_zip(tmp_path / "lying.zip", entries)
    produced: list[int] = []
    real_read = zipfile.ZipExtFile.read

    def counting(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        data = real_read(self, n)
        produced.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    with pytest.raises(DataFormatError, match="SegmentationClass/f0.png"):
        _import(path)
    assert sum(produced) <= 1001  # the declared 1,000 bytes (and one more, to notice a lie)


def test_member_over_the_limit_is_refused_by_what_it_declares(tmp_path: Path) -> None:
    files = cvat_files(n=1)
    entries = [deflated(k, v) for k, v in sorted(files.items())]
    entries.append(lying_zeros("JPEGImages/big.png", 1 << 20, archives.MAX_MEMBER_BYTES + 1))
    with pytest.raises(DataFormatError, match="over the"):
        read_cvat_mask(write_raw_zip(tmp_path / "big.zip", entries))


def test_too_many_members_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archives, "MAX_MEMBERS", 10)
    files = cvat_files(n=6)
    with pytest.raises(DataFormatError, match="at most 10 are read"):
        read_cvat_mask(write_raw_zip(tmp_path / "many.zip", [deflated(k, v) for k, v in files.items()]))


def test_huge_png_is_refused_from_its_header(tmp_path: Path) -> None:
    files = cvat_files(n=1)
    files["JPEGImages/f0.png"] = huge_png(18_500)
    assert len(files["JPEGImages/f0.png"]) < 1_100_000
    with pytest.raises(DataFormatError, match="18,500 x 18,500 pixels"):
        _import(write_raw_zip(tmp_path / "huge.zip", [deflated(k, v) for k, v in files.items()]))
    assert MAX_IMAGE_PIXELS < 18_500 * 18_500


def test_labelmap_with_more_labels_than_class_ids_is_refused(tmp_path: Path) -> None:
    files = cvat_files(n=1)
    lines = [f"c{i}:{i % 256},{i // 256},7::" for i in range(1_100)]
    files["labelmap.txt"] = ("background:0,0,0::\n" + "\n".join(lines)).encode()
    with pytest.raises(DataFormatError, match=f"more than {MAX_CLASSES} labels"):
        read_cvat_mask(write_raw_zip(tmp_path / "labels.zip", [deflated(k, v) for k, v in files.items()]))


def test_255_labels_are_read_and_colours_are_chosen_for_them(tmp_path: Path) -> None:
    files = cvat_files(n=1)
    lines = [f"c{i}:{i + 1},{i // 3},9::" for i in range(MAX_CLASSES)]
    files["labelmap.txt"] = ("background:0,0,0::\n" + "\n".join(lines)).encode()
    mask = np.zeros((8, 12, 3), np.uint8)
    mask[0, 0] = (9, 254 // 3, 255)  # BGR of the last label: class id 254
    files["SegmentationClass/f0.png"] = png(mask)
    gt = read_cvat_mask(write_raw_zip(tmp_path / "labels.zip", [deflated(k, v) for k, v in files.items()]))
    s = gt.samples[0]
    assert gt.decode_mask(s.mask.read(), s.mask.name)[0, 0] == 254
    assert len(set(distinct_colours(MAX_COLOURS))) == MAX_COLOURS  # the colour loop ends, with enough colours
    assert _import(tmp_path / "labels.zip") is not None


MEMORY_CHILD = textwrap.dedent("""
    import resource, sys
    from pathlib import Path
    from analytics.errors import DataFormatError
    from analytics.evaluation.annotations import import_annotations
    from analytics.settings import load_settings
    vm = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
    headroom = 400 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + headroom, vm + headroom))
    for path in sys.argv[1:]:
        try:
            import_annotations(Path(path), "cvat-mask", None, load_settings())
            print(path, "read")
        except DataFormatError as exc:
            print(path, "refused:", exc)
""")


def test_hostile_archives_are_refused_under_a_memory_limit(tmp_path: Path) -> None:
    """Under ``ulimit -v`` of 400 MB above what the interpreter holds: each file would take 1 GB."""
    files = cvat_files(n=1)
    lying = [deflated(k, v) for k, v in sorted(files.items()) if k != "SegmentationClass/f0.png"]
    lying.append(lying_zeros("SegmentationClass/f0.png", 1 << 30, 1000))  # 1 GB that claims 1,000 bytes
    huge = dict(files)
    huge["JPEGImages/f0.png"] = huge_png(18_500)
    paths = [write_raw_zip(tmp_path / "lying.zip", lying), write_raw_zip(tmp_path / "huge.zip", [deflated(k, v) for k, v in huge.items()])]
    run = subprocess.run([sys.executable, "-c", MEMORY_CHILD, *map(str, paths)], capture_output=True, text=True, timeout=120,
                         cwd=REPO, env={"URBANLENS_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert len(lines) == 2 and all("refused:" in line for line in lines), run.stdout
    assert "18,500 x 18,500" in lines[1]


# -- label maps and JSON ------------------------------------------------------------------------------

LABEL_MAP = {"road": "Road", "sidewalk": "Pavement", "car": "Car", "truck": "Car", "sky": "Sky", "background": None}

TYPE_SWAPS: list[Any] = [
    [], {}, 0, -1, 10**4000, 1e308, True, None, "", "x" * 10_000, [["road"]], {"a": {"b": "c"}}, "\u202e", "a\x00b",
]


def _label_map_variants(rng: random.Random) -> list[bytes]:
    good = json.dumps(LABEL_MAP).encode()
    out = _mutations(good, rng, 60)
    for value in TYPE_SWAPS:
        out.append(json.dumps({"road": value, "car": "Car"}).encode())
        out.append(json.dumps({"road": "Road", **({str(value)[:50]: "Car"} if value is not None else {})}).encode())
    out.append(json.dumps(TYPE_SWAPS).encode())
    out += [b"[" * 100_000 + b"]" * 100_000, b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, b'{"road": NaN}', b'{"road": Infinity}',
            b'{"road": ' + b"9" * 5000 + b"}", b'{"road": 1e999}', json.dumps({f"c{i}": "Road" for i in range(5000)}).encode(),
            b"\xff\xfe{}", b"", b"\x00" * 1000, b'"' + b"\\" * 3 + b'"']
    return out


def test_label_map_fuzz(tmp_path: Path) -> None:
    rng = random.Random(11)
    for i, data in enumerate(_label_map_variants(rng)):
        path = tmp_path / f"map{i}.json"
        path.write_bytes(data)
        lm = _refused_cleanly(lambda p=path: load_label_map(p))
        if lm is not None:
            assert all(isinstance(m, str) and isinstance(a, str) for m, a in lm.pairs)  # type: ignore[attr-defined]


def test_label_map_too_large_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b'{"road": "' + b"R" * (2 << 20) + b'"}')
    with pytest.raises(DataFormatError, match="at most 1,048,576 are read"):
        load_label_map(path)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b'{"a": "[[[[", "b": [1, {"c": []}]}', 4),  # brackets in strings do not count
        (b'["\\"[[", [[]]]', 3),  # nor after an escaped quote
        (b"[" * 300_000, 300_000),  # unclosed: still counted
        (b"", 0),
    ],
)
def test_json_depth(text: bytes, depth: int) -> None:
    assert json_depth(text) == depth


def test_deep_json_is_refused_without_recursion() -> None:
    with pytest.raises(DataFormatError, match="too deeply"):
        load_json(b"[" * 1_000_000 + b"]" * 1_000_000, "x")
    assert quote_value("\x00" * 300_000).endswith("(300,000 characters)")
    assert len(quote_value("\x00" * 300_000)) < 110


# -- manifests ----------------------------------------------------------------------------------------

CLIP_MANIFEST = b"path,camera_id,start\n/data/a.mp4,cam-1,2026-01-05T08:00:00\n/data/b.mp4,cam-2,\n"


def test_clip_manifest_fuzz(tmp_path: Path) -> None:
    rng = random.Random(5)
    variants = _mutations(CLIP_MANIFEST, rng, 60) + [
        bytes(rng.randrange(256) for _ in range(300_000)),  # binary
        b"\x00\x01" * 150_000 + b",x\n",  # a binary header
        b"path,camera_id\n" + b"a" * 300_000 + b",cam\n",
        b"path,camera_id,start\na,cam," + b"9" * 10_000 + b"\n",
        b"path,camera_id\n\"unterminated,cam\n",
        b"", b"\xef\xbb\xbf", b"path\n",
    ]
    for i, data in enumerate(variants):
        path = tmp_path / f"m{i}.csv"
        path.write_bytes(data)
        tasks = _refused_cleanly(lambda p=path: read_manifest(p))
        if tasks is not None:
            assert all(t.path and t.camera_id for t in tasks)  # type: ignore[attr-defined]


def test_binary_manifest_error_is_short(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(b"\x01\x02" * 131_148 + b",x\n")  # a header of 262,296 characters
    with pytest.raises(UrbanLensError) as caught:
        read_manifest(path)
    assert len(str(caught.value)) < 300 and "262,296 characters" in str(caught.value)


def test_stored_manifest_fuzz(tmp_path: Path) -> None:
    """Damaged ``manifest.json`` files of stored annotation sets: loaded, or refused in one line;
    ``annotate list`` leaves out what it cannot read."""
    export = tmp_path / "task.zip"
    export.write_bytes(_zip(cvat_files()))
    stored = _import(export)
    manifest_path = stored.folder / "manifest.json"  # type: ignore[attr-defined]
    good = manifest_path.read_bytes()
    rng = random.Random(9)
    variants = _mutations(good, rng, 40) + [b"[]", b"1", b'{"classes": 5}', b'{"frames": [1]}', b"[" * 10_000,
                                            bytes(range(256)) * 1000]
    for data in variants:
        manifest_path.write_bytes(data)
        _refused_cleanly(lambda: load_annotations(stored.id, load_settings()))  # type: ignore[attr-defined]
        assert isinstance(list_annotations(load_settings()), list)


# -- zones JSON -------------------------------------------------------------------------------------

ZONES = [{"name": "north sidewalk", "role": "sidewalk", "polygon": [[0, 0], [100, 0], [100, 50], [0, 50]]},
         {"name": "lane", "role": "lane", "polygon": [[10, 60], [200, 60], [200, 120]]}]


def _zone_variants(rng: random.Random) -> list[bytes]:
    out = _mutations(json.dumps(ZONES).encode(), rng, 60)
    for value in TYPE_SWAPS:
        for key in ("name", "role", "polygon"):
            out.append(json.dumps([{**ZONES[0], key: value}]).encode())
        out.append(json.dumps([{**ZONES[0], "polygon": [[0, 0], [value, 1], [2, 2]]}]).encode())
    out += [b'[{"name": "a", "role": "lane", "polygon": [[0, 0], [NaN, 0], [1, 1]]}]',
            b'[{"name": "a", "role": "lane", "polygon": [[0, 0], [1e308, 0], [1, 1]]}]',
            b'[{"name": "a", "role": "lane", "polygon": [[0, 0], [' + b"9" * 5000 + b', 0], [1, 1]]}]',
            json.dumps([{"name": f"z{i}", "role": "lane", "polygon": [[0, 0], [1, 0], [1, 1]]} for i in range(1000)]).encode(),
            json.dumps([{"name": "a", "role": "lane", "polygon": [[i % 7, i % 5] for i in range(20_000)]}]).encode(),
            json.dumps({"zones": {"zones": ZONES}}).encode(), b"[" * 50_000, b"\xff" * 100]
    return out


def test_zones_fuzz() -> None:
    rng = random.Random(3)
    limit = ZONE_LIMITS["coordinate"]
    for data in _zone_variants(rng):
        zones = _refused_cleanly(lambda d=data: parse_zones(d))
        if zones is not None:
            for poly in zones["polygon_json"]:  # type: ignore[index]
                pts = np.asarray(json.loads(poly), np.float64)
                assert pts.ndim == 2 and pts.shape[1] == 2 and len(pts) >= 3
                assert np.isfinite(pts).all() and (np.abs(pts) <= limit).all()

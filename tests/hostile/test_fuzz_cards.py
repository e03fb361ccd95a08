"""Model cards a person hands to ``models add --card``: a hostile one ends in one clean refusal.

A card is TOML, JSON or YAML; the reader checks its size and nesting before parsing, refuses YAML
anchors and aliases (an alias-expanded card could stand for billions of nodes), and the fuzz test
below feeds it mutated and truncated versions of a valid card in each format, accepting only a
card or an UrbanLens error.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from analytics.cards import MAX_CARD_BYTES, MAX_CARD_DEPTH, ModelCard, card_from_dict, load_card
from analytics.errors import DataFormatError, UrbanLensError

REPO = Path(__file__).resolve().parents[2]
VALID = REPO / "analytics" / "models" / "cards" / "espnetv2-s1.toml"


def _valid_text(fmt: str) -> bytes:
    """The built-in card in ``fmt`` (toml as shipped; json and yaml from its parsed content)."""
    import tomllib

    if fmt == "toml":
        return VALID.read_bytes()
    data = tomllib.loads(VALID.read_text(encoding="utf-8"))
    return (json.dumps(data) if fmt == "json" else yaml.safe_dump(data)).encode()


@pytest.mark.parametrize("fmt", ["toml", "json", "yaml"])
def test_a_valid_card_reads_in_every_format(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"card.{fmt}"
    path.write_bytes(_valid_text(fmt))
    card = load_card(path)
    assert isinstance(card, ModelCard) and card.name == "espnetv2-s1" and card.input_width == 768


@pytest.mark.parametrize(("fmt", "text", "message"), [
    # arrays nested 100,000 deep: Python's parsers would recurse until RecursionError
    ("json", b"[" * 100_000 + b"]" * 100_000, "too deeply"),
    ("toml", b"a = " + b"[" * 100_000 + b"]" * 100_000, "too deeply"),
    ("yaml", b"a: " + b"[" * 100_000 + b"]" * 100_000, "too deeply"),
    # block mappings nested by indentation only, no brackets at all
    ("yaml", "".join(f"{' ' * i}k{i}:\n" for i in range(MAX_CARD_DEPTH + 5)).encode() + b" " * 30 + b"v", "too deeply"),
    # "billion laughs": nine levels of ten aliases each
    ("yaml", b'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
             + b"".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n".encode() for i in range(8)),
     "anchors or aliases"),
    # not a card at all
    ("json", b"[1, 2, 3]", "table of keys"),
    ("yaml", b"\x00\xff\xfe", "cannot be parsed|table of keys"),
])
def test_hostile_cards_are_refused_in_one_line(tmp_path: Path, fmt: str, text: bytes, message: str) -> None:
    path = tmp_path / f"card.{fmt}"
    path.write_bytes(text)
    with pytest.raises(UrbanLensError, match=message) as caught:
        load_card(path)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400


def test_an_oversized_card_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "card.toml"
    with path.open("wb") as f:
        f.truncate(MAX_CARD_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(DataFormatError, match="at most 1,048,576 are read"):
        load_card(path)


def _mutants(raw: bytes, rng: random.Random, n: int) -> list[bytes]:
    """Byte flips, truncations, duplicated and deleted spans of ``raw``."""
    out = []
    for _ in range(n):
        b = bytearray(raw)
        kind = rng.randrange(4)
        if kind == 0:
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 1:
            del b[rng.randrange(len(b)):]
        elif kind == 2:
            at = rng.randrange(len(b))
            b[at:at] = b[at:at + rng.randint(1, 200)] * rng.randint(1, 50)
        else:
            at = rng.randrange(len(b))
            del b[at:at + rng.randint(1, 100)]
        out.append(bytes(b))
    return out


@pytest.mark.parametrize("fmt", ["toml", "json", "yaml"])
def test_mutated_cards_read_or_are_refused_cleanly(tmp_path: Path, fmt: str) -> None:
    rng = random.Random(27)
    read = refused = 0
    for i, text in enumerate(_mutants(_valid_text(fmt), rng, 120)):
        path = tmp_path / f"m{i}.{fmt}"
        path.write_bytes(text)
        try:
            card = load_card(path)
        except UrbanLensError as exc:
            assert "\n" not in str(exc), f"mutant {i}: a message of several lines"
            refused += 1
        else:
            assert isinstance(card, ModelCard) and card.input_height > 0 and card.input_width > 0
            read += 1
    assert refused > 0 and read + refused == 120


@pytest.mark.parametrize("value", [None, 1, "x", [1], {"name": {"a": 1}}, {"name": "m", "input_height": "tall"},
                                   {"name": "m", "input_height": float("nan")}, {"name": "m", "classes": [[]] * 3}])
def test_odd_card_contents_are_refused(value: object) -> None:
    with pytest.raises(UrbanLensError):
        card_from_dict(value)  # type: ignore[arg-type]

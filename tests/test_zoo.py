"""Model zoo: built-in cards, fetching (mirror, --source, HTTP), atomic installs, bring-your-own models."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from analytics.cards import ModelCard
from analytics.checksums import sha256_file
from analytics.errors import ChecksumError, InputError, ModelError
from analytics.models import zoo
from analytics.models.architectures import ARCHITECTURES, Architecture
from analytics.models.fetch import download, fetch_file
from analytics.models.zoo import add_model, builtin_cards, install, list_models, parse_size, resolve
from analytics.settings import load_settings
from analytics.taxonomy import CITYSCAPES

S1_FILE = "espnetv2_s_1.0_city_1024x512.pth"
S1_SHA = "0918c833fed889e32901ce739b1784fdd2b79f95a9aea199a469ca3394dd7a14"
S2_SHA = "a72d59699801c7ce8e8b89a53af9097eaaa60dc12180ecde86fd700ba1222fe8"

# ---------------------------------------------------------------- a small HTTP server on 127.0.0.1


@dataclass
class Served:
    """What the test server sends: ``mode`` is ok | truncate (half the bytes, then hang up) | norange."""

    payload: bytes
    mode: str = "ok"
    ranges: list[str | None] = field(default_factory=list)
    url: str = ""


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if not self.path.endswith(".pth"):
                self.send_error(404)
                return
            data = served.payload
            rng = self.headers.get("Range")
            served.ranges.append(rng)
            start = int(rng.split("=")[1].split("-")[0]) if rng and served.mode != "norange" else 0
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            body = data[start:]
            if served.mode == "truncate":
                body = body[: len(body) // 2]
                served.mode = "ok"  # the next request completes
                self.close_connection = True
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def server(shared_dir: Path) -> Iterator[Served]:
    served = Served((shared_dir / "models" / "espnetv2" / S1_FILE).read_bytes())
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{httpd.server_address[1]}/{S1_FILE}"
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


# ---------------------------------------------------------------- cards


def test_builtin_cards() -> None:
    cards = builtin_cards()
    assert set(cards) == {"espnetv2-s1", "espnetv2-s2"}
    s2 = cards["espnetv2-s2"]
    assert s2.sha256 == S2_SHA and cards["espnetv2-s1"].sha256 == S1_SHA
    assert s2.license == "MIT" and "Sachin Mehta" in s2.attribution
    assert s2.source_url is not None and s2.source_url.endswith("espnetv2_s_2.0_city_1024x512.pth")
    assert s2.class_set.class_names == CITYSCAPES.class_names and s2.class_set.groups == CITYSCAPES.groups
    assert s2.class_set.group_of(19) == "void"
    assert s2.input_size == (384, 768) and s2.mean == (0.485, 0.456, 0.406) and s2.channel_order == "RGB"
    assert load_settings().default_model == "espnetv2-s2"


# ---------------------------------------------------------------- fetching


def test_download_with_progress(server: Served, tmp_path: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    path = download(server.url, tmp_path / S1_FILE, S1_SHA, progress=lambda d, t: calls.append((d, t)))
    assert sha256_file(path) == S1_SHA
    assert calls[-1] == (len(server.payload), len(server.payload))
    assert not (tmp_path / f"{S1_FILE}.part").exists()


def test_wrong_sha_leaves_nothing(server: Served, tmp_path: Path) -> None:
    with pytest.raises(ChecksumError, match=f"expected {'0' * 64}"):
        download(server.url, tmp_path / S1_FILE, "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_resumes(server: Served, tmp_path: Path) -> None:
    server.mode = "truncate"
    dest = tmp_path / S1_FILE
    with pytest.raises(ModelError, match="truncated"):
        download(server.url, dest, S1_SHA)
    part = tmp_path / f"{S1_FILE}.part"
    assert not dest.exists() and 0 < part.stat().st_size < len(server.payload)  # never looks complete
    download(server.url, dest, S1_SHA)  # the second try asks for the rest only
    assert server.ranges[-1] == f"bytes={len(server.payload) // 2}-"
    assert sha256_file(dest) == S1_SHA and not part.exists()


def test_server_without_range_restarts(server: Served, tmp_path: Path) -> None:
    (tmp_path / f"{S1_FILE}.part").write_bytes(b"stale bytes")
    server.mode = "norange"
    assert sha256_file(download(server.url, tmp_path / S1_FILE, S1_SHA)) == S1_SHA


def test_unreachable_server(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot download"):
        download("http://127.0.0.1:9/none.pth", tmp_path / "none.pth", S1_SHA, timeout=2)


@pytest.mark.parametrize(
    ("kind", "error", "message"),
    [
        ("file", None, None),  # --source FILE
        ("dir", None, None),  # --source DIR holding the file by its upstream name
        ("empty-dir", InputError, "no file"),  # a folder without it
        ("wrong-file", ChecksumError, "SHA-256 is"),  # another file
    ],
)
def test_fetch_from_source(model_mirror: Path, tmp_path: Path, kind: str, error: type[Exception] | None, message: str | None) -> None:
    source = {
        "file": model_mirror / S1_FILE,
        "dir": model_mirror,
        "empty-dir": tmp_path,
        "wrong-file": model_mirror / "LICENSE",
    }[kind]
    if error is None:
        assert fetch_file(S1_FILE, None, S1_SHA, tmp_path / "dl", source=source) == model_mirror / S1_FILE
    else:
        with pytest.raises(error, match=message):
            fetch_file(S1_FILE, None, S1_SHA, tmp_path / "dl", source=source)


def test_mirror_without_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="has no file"):
        fetch_file(S1_FILE, "http://unused", S1_SHA, tmp_path, mirror=tmp_path)


# ---------------------------------------------------------------- install, resolve, list


def test_install_from_mirror(model_mirror: Path) -> None:
    settings = load_settings()
    with pytest.raises(ModelError, match="urbanlens models install espnetv2-s1"):
        resolve("espnetv2-s1", settings)
    model = install("espnetv2-s1", settings)
    assert model.onnx_path == settings.model_dir / "espnetv2-s1" / "model.onnx"
    assert model.weights_sha256 == sha256_file(model.onnx_path) and model.size_bytes == model.onnx_path.stat().st_size
    card = json.loads((model.onnx_path.parent / "card.json").read_text())
    assert (card["input_height"], card["input_width"]) == (384, 768)
    again = resolve("espnetv2-s1", settings)
    assert again.weights_sha256 == model.weights_sha256 and again.card == model.card
    rows = {r.name: r for r in list_models(settings)}
    assert rows["espnetv2-s1"].installed and not rows["espnetv2-s2"].installed
    assert rows["espnetv2-s1"].size_bytes == model.size_bytes
    assert not settings.download_dir.exists()  # the mirror is read in place


def test_install_over_http_at_another_size(server: Served) -> None:
    settings = load_settings()
    model = install("espnetv2-s1", settings, size=(512, 1024), source=server.url, road_model="none")
    assert model.card.input_size == (512, 1024)
    graph_input = onnx.load(str(model.onnx_path)).graph.input[0]
    assert [d.dim_value for d in graph_input.type.tensor_type.shape.dim][2:] == [512, 1024]
    assert sha256_file(settings.download_dir / S1_FILE) == S1_SHA


def test_failed_install_leaves_nothing_behind(model_mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    first = install("espnetv2-s1", settings, road_model="none")  # the segmenter alone: only its folder is looked at

    def disk_full(self: ModelCard) -> str:
        raise OSError("No space left on device")

    monkeypatch.setattr(ModelCard, "to_json", disk_full)
    with pytest.raises(OSError, match="No space"):
        install("espnetv2-s1", settings, size=(512, 1024))
    assert [p.name for p in settings.model_dir.iterdir()] == ["espnetv2-s1"]  # no temporary folder left
    kept = resolve("espnetv2-s1", settings)
    assert kept.weights_sha256 == first.weights_sha256 and kept.card.input_size == (384, 768)


@pytest.mark.parametrize(
    ("name", "size", "error", "message"),
    [
        ("espnetv2-s9", None, InputError, "unknown model 'espnetv2-s9'"),
        ("espnetv2-s1", (360, 640), InputError, "multiples of 16"),
    ],
)
def test_install_refusals(model_mirror: Path, name: str, size: tuple[int, int] | None, error: type[Exception], message: str) -> None:
    settings = load_settings()
    with pytest.raises(error, match=message):
        install(name, settings, size=size)
    assert not settings.model_dir.exists() or list(settings.model_dir.iterdir()) == []


def test_install_wrong_source_file(model_mirror: Path) -> None:
    settings = load_settings()
    with pytest.raises(ChecksumError):
        install("espnetv2-s2", settings, source=model_mirror / S1_FILE)
    assert not settings.model_dir.exists() or list(settings.model_dir.iterdir()) == []


# ---------------------------------------------------------------- the architecture registry


def test_every_builtin_architecture_is_registered() -> None:
    for card in builtin_cards().values():
        arch = ARCHITECTURES[str(card.architecture)]
        builder = arch.module()
        assert callable(builder.check_input_size) and callable(builder.build_from_card), arch.builder


def _tiny_builder() -> types.ModuleType:
    """A builder module for a made-up architecture: one 1x1 convolution from RGB to the card's classes."""
    module = types.ModuleType("tiny_builder")

    def check_input_size(height: int, width: int) -> tuple[int, int]:
        if height % 8 or width % 8:
            raise InputError(f"input size {height}x{width}: multiples of 8")
        return height, width

    def build_from_card(state_dict: dict[str, np.ndarray], card: ModelCard, height: int, width: int) -> onnx.ModelProto:
        w = helper.make_tensor("w", TensorProto.FLOAT, [card.num_classes, 3, 1, 1], state_dict["w"].ravel().tolist())
        graph = helper.make_graph(
            [helper.make_node("Conv", ["input", "w"], ["logits"])], "tiny",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, height, width])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", card.num_classes, height, width])],
            initializer=[w],
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)

    module.check_input_size = check_input_size  # type: ignore[attr-defined]
    module.build_from_card = build_from_card  # type: ignore[attr-defined]
    return module


def test_a_registered_architecture_installs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding an architecture is its builder module plus one ARCHITECTURES entry; a card naming it installs."""
    monkeypatch.setitem(sys.modules, "tiny_builder", _tiny_builder())
    monkeypatch.setitem(ARCHITECTURES, "tiny", Architecture("tiny", "tiny_builder", read_weights=lambda p, max_mb: dict(np.load(p))))
    card = dataclasses.replace(builtin_cards()["espnetv2-s1"], name="tiny-seg", architecture="tiny", sha256=None,
                               params={"weights_file": "tiny.npz"})
    monkeypatch.setattr(zoo, "builtin_cards", lambda: {"tiny-seg": card})
    np.savez(tmp_path / "tiny.npz", w=np.ones((20, 3, 1, 1), np.float32))
    settings = load_settings()
    with pytest.raises(InputError, match="multiples of 8"):  # the builder's own size rule
        install("tiny-seg", settings, size=(100, 100), source=tmp_path, road_model="none")
    model = install("tiny-seg", settings, size=(64, 128), source=tmp_path, road_model="none")
    assert model.card.input_size == (64, 128) and model.card.architecture == "tiny"
    assert resolve("tiny-seg", settings).weights_sha256 == sha256_file(model.onnx_path)


def test_unregistered_architecture_is_refused(model_mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    card = dataclasses.replace(builtin_cards()["espnetv2-s1"], architecture="unet")
    monkeypatch.setattr(zoo, "builtin_cards", lambda: {card.name: card})
    settings = load_settings()
    with pytest.raises(ModelError, match="cannot build architecture 'unet'; expected one of 'espnetv2'"):
        install(card.name, settings)
    assert not settings.model_dir.exists() or list(settings.model_dir.iterdir()) == []


@pytest.mark.parametrize(("text", "expected"), [("384x768", (384, 768)), ("512X1024", (512, 1024)), ("384 x 768", (384, 768))])
def test_parse_size(text: str, expected: tuple[int, int]) -> None:
    assert parse_size(text) == expected


# ---------------------------------------------------------------- bring your own model


def _card_file(tmp_path: Path, name: str = "my-model", height: int = 384, width: int = 768, classes: int = 20) -> Path:
    lines = [f'name = "{name}"', f"input_height = {height}", f"input_width = {width}", 'license = "MIT"', "", "[class_set]"]
    if classes == 20:
        lines.append('name = "cityscapes"')
    else:
        lines.append('name = "mine"')
        items = ", ".join(f'{{ name = "c{i}", group = "road" }}' for i in range(classes))
        lines.append(f"classes = [{items}]")
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _classifier(path: Path) -> Path:
    """A tiny ONNX image classifier: (1, 3, 384, 768) -> (1, 1000)."""
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("MatMul", ["f", "w"], ["y"]),
    ]
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 1000], np.zeros(3000, np.float32).tolist())
    graph = helper.make_graph(nodes, "cls", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 384, 768])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1000])], initializer=[w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def test_add_own_model(espnetv2_onnx: dict[str, Path], tmp_path: Path) -> None:
    settings = load_settings()
    model = add_model(espnetv2_onnx["1.0"], _card_file(tmp_path), settings)
    assert model.onnx_path == settings.model_dir / "my-model" / "model.onnx"
    assert resolve("my-model", settings).card.name == "my-model"
    rows = {r.name: r for r in list_models(settings)}
    assert rows["my-model"].installed and not rows["my-model"].builtin


@pytest.mark.parametrize(
    ("card_kwargs", "onnx_kind", "message"),
    [
        ({"classes": 19}, "espnetv2", r"output shape .* is not \(N, 19, h, w\)"),  # class count disagrees
        ({"height": 512, "width": 1024}, "espnetv2", r"input shape .* does not match the card's \(N, 3, 512, 1024\)"),
        ({}, "classifier", r"output shape \[1, 1000\] is not \(N, 20, h, w\)"),  # not a segmentation model
        ({}, "text", "is not an ONNX model"),  # not ONNX at all
    ],
)
def test_add_refuses_mismatches(espnetv2_onnx: dict[str, Path], tmp_path: Path, card_kwargs: dict[str, int], onnx_kind: str,
                                message: str) -> None:
    settings = load_settings()
    if onnx_kind == "espnetv2":
        onnx_path = espnetv2_onnx["1.0"]
    elif onnx_kind == "classifier":
        onnx_path = _classifier(tmp_path / "cls.onnx")
    else:
        onnx_path = tmp_path / "notes.onnx"
        onnx_path.write_text("not a model")
    with pytest.raises(ModelError, match=message):
        add_model(onnx_path, _card_file(tmp_path, **card_kwargs), settings)
    assert not settings.model_dir.exists() or list(settings.model_dir.iterdir()) == []


def test_add_refuses_builtin_names(espnetv2_onnx: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'espnetv2-s2' is a built-in model"):
        add_model(espnetv2_onnx["2.0"], _card_file(tmp_path, name="espnetv2-s2"), load_settings())

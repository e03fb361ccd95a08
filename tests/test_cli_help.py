"""Every command's ``--help`` reads as plain text: no source markup, no ``<bool>`` on flags."""

from __future__ import annotations

import re

import typer.main
from typer.testing import CliRunner

from analytics.cli import app

MARKUP = re.compile(r":(func|class|meth|data|attr|mod|obj|exc):`|``|<bool>")


def _command_paths() -> list[list[str]]:
    """Every command and group of the app as the words that reach it (the root is [])."""
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command: object, words: list[str]) -> None:
        paths.append(words)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*words, name])

    walk(root, [])
    return paths


def test_every_help_page_is_free_of_markup_and_bool_labels(tmp_path, monkeypatch):
    monkeypatch.setenv("URBANLENS_HOME", str(tmp_path))
    runner = CliRunner()
    paths = _command_paths()
    assert len(paths) > 20 and ["ingest"] in paths and ["models", "install"] in paths
    shown = {}
    for words in paths:
        result = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, (words, result.output)
        shown[" ".join(words)] = MARKUP.findall(result.output)
    assert {k: v for k, v in shown.items() if v} == {}


def test_help_keeps_the_text_of_what_it_cleans(tmp_path, monkeypatch):
    monkeypatch.setenv("URBANLENS_HOME", str(tmp_path))
    out = CliRunner().invoke(app, ["indicators", "--help"], env={"COLUMNS": "200"}).output
    assert "'urbanlens indicators --by district'" in out

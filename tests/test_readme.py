"""The README's shell commands run as written, so the README cannot drift from the code.

Which blocks run: every fenced ```` ```bash ```` block under the README headings named in
:data:`SECTIONS` (a ``## `` heading and everything up to the next ``## ``), in the order they
appear; ``SECTIONS = None`` (the setting here) takes the whole README. A block whose fence is preceded (on
the line before, blank lines allowed) by ``<!-- readme-test: skip -->`` is left out: for
commands that never return (a server) or that change the machine (installers).

How they run: each block in its own ``bash -euo pipefail`` (any failing command fails the test,
naming the block and its line), one after another in the same working folder, so a block must
not rely on ``cd`` or variables set by an earlier one, only on the files it left. The working
folder is a temporary folder holding a link to each top-level entry of the repository (``data/``,
``scripts/``, ``.venv``, ...), so the commands see the repository root as a reader's shell does
while the files they write (databases, reports, downloads) land in the temporary folder. The
environment: ``URBANLENS_HOME`` a fresh temporary folder, ``URBANLENS_MODEL_MIRROR`` and
``URBANLENS_SAMPLES_MIRROR`` pointing at ``../shared`` (nothing is downloaded), the test's own
virtual environment first on ``PATH`` (so ``urbanlens`` is this checkout's). Skipped where
``../shared`` is not beside the repository.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

SECTIONS: tuple[str, ...] | None = None
"""README ``## `` headings whose bash blocks run (a heading matches when it starts with the name)."""

SKIP_MARK = "<!-- readme-test: skip -->"
BLOCK_TIMEOUT_S = 300


@dataclass(frozen=True)
class Block:
    """A fenced bash block: the line of its opening fence (1-based), its section and its text."""

    line: int
    section: str
    text: str


_FENCE = re.compile(r"^(`{3,})\s*(\w*)\s*$")


def bash_blocks(markdown: str, sections: tuple[str, ...] | None = SECTIONS) -> list[Block]:
    """The runnable bash blocks of ``markdown`` under ``sections`` (all for ``None``), in order."""
    blocks: list[Block] = []
    section, fence, lang, start, body, skip_next = "", "", "", 0, [], False
    for number, line in enumerate(markdown.splitlines(), start=1):
        if fence:
            if line.strip() == fence:
                wanted = sections is None or any(section.startswith(s) for s in sections)
                if lang == "bash" and wanted and not skip_next:
                    blocks.append(Block(start, section, "\n".join(body)))
                fence, skip_next = "", False
            else:
                body.append(line)
            continue
        match = _FENCE.match(line.strip())
        if match:
            fence, lang, start, body = match.group(1), match.group(2).lower(), number, []
        elif line.startswith("## "):
            section, skip_next = line[3:].strip(), False
        elif line.strip() == SKIP_MARK:
            skip_next = True
        elif line.strip():
            skip_next = False
    return blocks


def test_bash_blocks_are_found_by_section_and_mark() -> None:
    text = "\n".join([
        "## Intro", "```bash", "echo intro", "```",
        "## Walkthrough of things", "Some prose.", "", "```bash", "echo one", "echo two", "```",
        "```text", "not a command", "```",
        SKIP_MARK, "", "```bash", "sleep 1000", "```",
        "```bash", "echo three", "```",
        "## Layout", "```bash", "echo layout", "```",
    ])
    got = bash_blocks(text, ("Walkthrough",))
    assert [b.text for b in got] == ["echo one\necho two", "echo three"]  # skipped, non-bash and other sections left out
    assert [b.line for b in got] == [8, 20] and got[0].section == "Walkthrough of things"
    assert [b.text for b in bash_blocks(text, None)] == ["echo intro", "echo one\necho two", "echo three", "echo layout"]


def test_readme_has_a_walkthrough() -> None:
    blocks = bash_blocks(README.read_text(encoding="utf-8"))
    assert blocks, f"no runnable bash blocks under {SECTIONS} in README.md"


def _workdir(tmp: Path) -> Path:
    """A folder that looks like the repository root: a link to each top-level entry of it."""
    work = tmp / "work"
    work.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in (".git", "tests"):
            (work / entry.name).symlink_to(entry)
    return work


@pytest.mark.slow
def test_readme_blocks_run(shared_dir: Path, tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "urbanlens").is_file():
        pytest.skip(f"no urbanlens command beside {sys.executable}; install the project (pip install -e .) first")
    blocks = bash_blocks(README.read_text(encoding="utf-8"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("URBANLENS_")}
    env.update(
        URBANLENS_HOME=str(tmp_path / "urbanlens-home"),
        URBANLENS_MODEL_MIRROR=str(shared_dir / "models"),
        URBANLENS_SAMPLES_MIRROR=str(shared_dir / "samples"),
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        COLUMNS="100",
    )
    work = _workdir(tmp_path)
    for block in blocks:
        t0 = time.perf_counter()
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block.text], cwd=work, env=env, capture_output=True, text=True,
            timeout=BLOCK_TIMEOUT_S, check=False,
        )
        assert done.returncode == 0, (
            f"README.md line {block.line} ({block.section}) exited {done.returncode} after {time.perf_counter() - t0:.1f} s:\n"
            f"{block.text}\n--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
        )

"""Fetch upstream weight files, verified by SHA-256.

Where a file comes from, first match wins:

1. ``source`` (the ``--source`` option): a file, a folder holding the file by its upstream name,
   or an ``http(s)://`` / ``file://`` address;
2. the ``URBANLENS_MODEL_MIRROR`` folder (``Settings.model_mirror``) and its subfolders, by the
   upstream file name (:func:`find_in_mirror`: a flat folder or one subfolder per model family);
3. the upstream address in the model card.

Local files are read in place and only verified. Downloads go to ``<dest_dir>/<name>.part``
first, resume from there when the server honours ``Range``, and are renamed to their final name
only after the SHA-256 matches, so a partial or corrupt download never looks complete. A file
that fails the check is deleted and :class:`~analytics.errors.ChecksumError` names both hashes.
"""

from __future__ import annotations

import http.client
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from analytics.checksums import sha256_file, verify_sha256
from analytics.errors import ChecksumError, InputError, ModelError

__all__ = ["MAX_MIRROR_ENTRIES", "Progress", "download", "fetch_file", "find_in_mirror"]

Progress = Callable[[int, int | None], None]
"""Called with (bytes so far, total bytes or None when unknown)."""

_CHUNK = 1 << 16
_TIMEOUT_S = 60.0
_MODEL_HINT = "point URBANLENS_MODEL_MIRROR or --source at a copy of the file"
MAX_MIRROR_ENTRIES = 100_000
"""Most folder entries looked at when searching the mirror's subfolders (a mirror holds a few dozen files)."""


def _is_url(text: str) -> bool:
    return urllib.parse.urlparse(text).scheme in ("http", "https", "file")


def _promote(part: Path, dest: Path, sha256: str | None, origin: str) -> Path:
    """Verify a finished ``.part`` file and rename it into place; a bad one is deleted, never installed."""
    try:
        verify_sha256(part, sha256, origin)
    except ChecksumError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


def download(
    url: str, dest: Path, sha256: str | None = None, progress: Progress | None = None, timeout: float = _TIMEOUT_S,
    hint: str = _MODEL_HINT,
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part`` (resumed when possible); verify; rename.

    Raises :class:`~analytics.errors.ModelError` when the server cannot be reached (its message
    ends with ``hint``: where else the file can come from) or the
    transfer stops short (the ``.part`` file is kept so the next try resumes), and
    :class:`~analytics.errors.ChecksumError` when the bytes do not have the pinned SHA-256
    (the ``.part`` file is deleted).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "urbanlens"})
    if have and not url.startswith("file:"):
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status = getattr(resp, "status", 200) or 200
            resumed = have > 0 and status == 206
            if not resumed:
                have = 0
            length = resp.headers.get("Content-Length")
            total = have + int(length) if length is not None and length.isdigit() else None
            done = have
            with open(part, "ab" if resumed else "wb") as out:
                if progress:
                    progress(done, total)
                for block in iter(lambda: resp.read(_CHUNK), b""):
                    out.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the .part file is already complete (or longer than the file)
            done, total = have, have
        else:
            raise ModelError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except http.client.IncompleteRead:
        done = part.stat().st_size if part.exists() else 0
        raise ModelError(f"download of {url} stopped at {done} bytes (truncated); run the command again to resume") from None
    except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelError(
            f"cannot download {url}: {reason}. Run the command again to resume, or {hint}"
        ) from None
    if total is not None and done < total:
        raise ModelError(
            f"download of {url} stopped at {done} of {total} bytes (truncated); run the command again to resume"
        )
    return _promote(part, dest, sha256, f"download of {url}")


def fetch_file(
    filename: str,
    url: str | None,
    sha256: str | None,
    dest_dir: Path,
    source: str | Path | None = None,
    mirror: Path | None = None,
    progress: Progress | None = None,
    hint: str = _MODEL_HINT,
) -> Path:
    """A verified local copy of the upstream file ``filename`` (see the module doc for the order).

    Returns the path of the file: in place for a local ``source`` or the mirror, under
    ``dest_dir`` for a download (an already downloaded, verified file is reused). ``hint`` ends
    the message of a download that cannot reach its server (see :func:`download`).
    """
    if not filename or "/" in filename or "\\" in filename or filename in (".", ".."):
        raise InputError(f"weight file name {filename!r} must be a plain file name")
    if source is not None:
        text = str(source)
        if _is_url(text):
            return _fetch_url(text, filename, sha256, dest_dir, progress, hint)
        p = Path(text).expanduser()
        if p.is_dir():
            p = p / filename
        if not p.is_file():
            raise InputError(f"--source {text!r}: no file {p.name!r} there; give a file, a folder holding {filename!r}, or a URL")
        return verify_sha256(p, sha256, f"--source file {str(p)!r}")
    if mirror is not None:
        return find_in_mirror(Path(mirror), filename, sha256)
    if not url:
        raise ModelError(f"no address to download {filename!r} from; give --source FILE|DIR|URL")
    return _fetch_url(url, filename, sha256, dest_dir, progress, hint)


def _mirror_candidates(mirror: Path, filename: str) -> list[Path]:
    """Files named ``filename`` in ``mirror`` and its subfolders: the top-level one first, then by path.

    Hidden folders are skipped and symbolic links to folders are not followed; at most
    :data:`MAX_MIRROR_ENTRIES` entries are looked at.
    """
    found: list[Path] = []
    seen = 0
    for root, dirs, files in os.walk(mirror):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        seen += len(dirs) + len(files)
        if filename in files and (Path(root) / filename).is_file():
            found.append(Path(root) / filename)
        if seen > MAX_MIRROR_ENTRIES:
            break
    return found


def find_in_mirror(mirror: Path, filename: str, sha256: str | None) -> Path:
    """The verified file ``filename`` from the mirror folder ``mirror`` or one of its subfolders.

    Of several files with that name the first (top level, then by path) whose SHA-256 is the
    pinned one is taken; when none is, :class:`~analytics.errors.ChecksumError` names the first
    one's hash. :class:`~analytics.errors.ModelError` when the mirror holds no such file.
    """
    if not mirror.is_dir():
        raise ModelError(f"URBANLENS_MODEL_MIRROR={str(mirror)!r} is not a folder")
    candidates = _mirror_candidates(mirror, filename)
    if not candidates:
        raise ModelError(f"URBANLENS_MODEL_MIRROR={str(mirror)!r} has no file {filename!r} (subfolders searched)")
    if sha256 is not None and len(candidates) > 1:
        match = next((p for p in candidates if sha256_file(p) == sha256), None)
        if match is not None:
            return match
    return verify_sha256(candidates[0], sha256, f"mirror file {str(candidates[0])!r}")


def _fetch_url(
    url: str, filename: str, sha256: str | None, dest_dir: Path, progress: Progress | None, hint: str = _MODEL_HINT
) -> Path:
    dest = dest_dir / filename
    if dest.is_file():
        try:
            return verify_sha256(dest, sha256, f"cached file {str(dest)!r}")
        except ChecksumError:
            dest.unlink()
    if url.startswith("file:"):
        local = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
        if not local.is_file():
            raise InputError(f"--source {url!r}: no such file")
        dest_dir.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        shutil.copyfile(local, part)
        return _promote(part, dest, sha256, f"file {str(local)!r}")
    return download(url, dest, sha256, progress, hint=hint)

"""Downloading and unpacking data sets safely: checksums, atomic files, safe extraction.

The rules, so that nothing half-done ever passes for complete:

- A download streams into ``<file>.part`` and is renamed to its final name only after its
  size and sha256 match. A failed check deletes the ``.part`` file; an interrupted download
  leaves only the ``.part`` file, which the next call resumes where the server allows it.
- Where the publisher states no checksum, the first complete download records its sha256 in
  ``checksums.json`` beside the data (trust on first use); every later download or re-use
  of that file is checked against it.
- Archives are unpacked into a temporary folder that is renamed when extraction finished;
  members that would land outside it (absolute paths, ``..``, links, devices) are refused
  before anything is written.
- Offline or unreachable: one :class:`DownloadError` that names the data set, the URL, and
  where to put the file by hand (:func:`fetch` then verifies and uses it).

The cache folder is ``data_dir`` if given, else the ``COLORLAB_DATA`` environment variable,
else a per-user cache (``~/.cache/colorlab`` on Linux, ``~/Library/Caches/colorlab`` on macOS,
``%LOCALAPPDATA%\\colorlab`` on Windows).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import pathlib
import sys
import time
import urllib.error
import urllib.request
from typing import Sequence

from colorlab.data.archives import archive_kind, archive_problem
from colorlab.data.errors import ChecksumError, DownloadError, UnsafeArchiveError
from colorlab.files import (
    check_regular_file,
    open_for_append,
    write_text_atomic,
)

__all__ = [
    "DATA_ENV",
    "ChecksumError",
    "DownloadError",
    "UnsafeArchiveError",
    "data_home",
    "download",
    "forget",
    "sha256_of",
]

#: Environment variable naming the data cache folder.
DATA_ENV = "COLORLAB_DATA"
_BLOCK = 1 << 20
#: Seconds one read may wait for the server.
_TIMEOUT = 60
#: A download slower than _MIN_RATE bytes a second over _RATE_WINDOW seconds is stopped
#: (and resumed next time): the overall bound on a trickling server.
_MIN_RATE = 1024
_RATE_WINDOW = 60.0


def data_home(data_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """The data cache folder (created): ``data_dir``, ``$COLORLAB_DATA`` or the user cache."""
    if data_dir is not None:
        path = pathlib.Path(data_dir)
    elif os.environ.get(DATA_ENV):
        path = pathlib.Path(os.environ[DATA_ENV])
    elif sys.platform == "win32":
        path = pathlib.Path(os.environ.get("LOCALAPPDATA", pathlib.Path.home())) / "colorlab"
    elif sys.platform == "darwin":
        path = pathlib.Path.home() / "Library" / "Caches" / "colorlab"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
        path = pathlib.Path(base) / "colorlab"
    path = path.expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


# === Trust on first use =========================================================================


def _ledger_path(folder: pathlib.Path) -> pathlib.Path:
    return folder / "checksums.json"


def _ledger(folder: pathlib.Path) -> dict[str, str]:
    """The recorded checksums (untrusted JSON: anything but {name: hex} is ignored)."""
    try:
        ledger = json.loads(_ledger_path(folder).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(ledger, dict):
        return {}
    return {k: v for k, v in ledger.items() if isinstance(k, str) and isinstance(v, str)}


def _recorded(folder: pathlib.Path, filename: str) -> str | None:
    return _ledger(folder).get(filename)


def _record(folder: pathlib.Path, filename: str, sha256: str | None) -> None:
    """Records (or, with None, forgets) the sha256 of ``filename``."""
    ledger = _ledger(folder)
    if sha256 is None:
        if filename not in ledger:
            return
        del ledger[filename]
    else:
        ledger[filename] = sha256
    write_text_atomic(_ledger_path(folder), json.dumps(ledger, indent=1, sort_keys=True))


def forget(folder: str | os.PathLike, filename: str) -> bool:
    """Forgets a download: deletes ``folder/filename`` (and its partial download) and its
    recorded sha256, so the next :func:`download` fetches and records it afresh. For a file
    whose publisher changed it, or a first download that was wrong.

    Returns:
        True if anything was there to forget.
    """
    folder = pathlib.Path(folder)
    _check_filename(filename)
    found = _recorded(folder, filename) is not None
    partial = folder / (filename + ".part")
    for path in (folder / filename, partial, _validator_path(partial)):
        if os.path.lexists(path):
            path.unlink()
            found = True
    _record(folder, filename, None)
    return found


# === Download ====================================================================================


def download(
    urls: str | Sequence[str],
    folder: str | os.PathLike,
    filename: str,
    *,
    sha256: str | None = None,
    size: int | None = None,
    dataset: str = "",
    progress: bool = True,
    what: str | None = None,
) -> pathlib.Path:
    """Downloads a file into ``folder`` unless a verified copy is already there.

    A download is complete only when that can be proven: its size matches the published
    size or the server's Content-Length, or, for archives, the file reads to its end (a
    gzip trailer, a tar end-of-archive block, a zip central directory) and starts with its
    kind's magic bytes. Only a proven download is renamed to ``filename``, and only a
    proven one's sha256 is recorded on first use. A web page served in place of the file
    is refused.

    Args:
        urls: The URL, or the URL and its mirrors (tried in order).
        folder: Destination folder (created).
        filename: Final file name (a plain name, no folders).
        sha256: Published checksum; None: trust on first use (recorded in checksums.json).
        size: Published size in bytes, checked when given.
        dataset: Data set name for error messages.
        progress: Show a progress bar.
        what: What the file is, for messages (default "data set NAME", or the file name).

    Returns:
        Path of the verified file.

    Raises:
        DownloadError: no URL worked (the message says where to put the file by hand).
        ChecksumError: the file (downloaded or placed by hand) fails its check, or is an
            incomplete or corrupt archive; a download that fails is deleted.
    """
    _check_filename(filename)
    urls = [urls] if isinstance(urls, str) else list(urls)
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    expected = sha256 or _recorded(folder, filename)
    recorded = sha256 is None and expected is not None
    label = what or (f"data set {dataset!r}" if dataset else filename)

    if os.path.lexists(target):  # complete downloads only ever get this name
        check_regular_file(target, "download")
        _verify(target, expected, size, label, delete=False, recorded=recorded)
        if expected is None:
            _check_complete(target, filename, label, length_proven=size is not None,
                            delete=False)
            _record(folder, filename, sha256_of(target))
        return target

    partial = folder / (filename + ".part")
    errors = []
    for url in urls:
        try:
            length_proven = _stream(url, partial, size, progress, label,
                                    checked=expected is not None)
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:
            errors.append(f"{url}: {getattr(error, 'reason', error)}")
            continue
        _verify(partial, expected, size, label, delete=True, recorded=recorded)
        if expected is None:  # a published or recorded sha256 proves completeness itself
            _check_complete(partial, filename, label, length_proven=length_proven,
                            delete=True)
        os.replace(partial, target)
        _validator_path(partial).unlink(missing_ok=True)
        if expected is None:
            _record(folder, filename, sha256_of(target))
        return target
    kept = (f"a partial download is kept as {partial.name} and resumed next time"
            if partial.is_file() else "nothing was kept")
    raise DownloadError(
        f"Could not download {label}: " + "; ".join(errors) + ". "
        f"If this machine is offline, download {urls[0]} elsewhere and place it at {target} "
        f"(it will be verified); {kept}."
    )


def _validator_path(partial: pathlib.Path) -> pathlib.Path:
    """Beside a partial download: the server's ETag or Last-Modified of its first bytes."""
    return partial.with_name(partial.name + ".validator")


def _check_filename(filename: str) -> None:
    """Refuses a file name with folders in it (``../x``, ``/etc/x``, ``a\\b``)."""
    name = str(filename)
    if (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
            or os.path.basename(name) != name):
        raise ValueError(f"download() takes a plain file name, not a path: {filename!r}.")


def _stream(url: str, partial: pathlib.Path, size: int | None, progress: bool,
            label: str, checked: bool = False) -> bool:
    """Appends the rest of ``url`` to ``partial`` (resuming with an HTTP Range request).

    Reading stops with an error when the server sends more than the declared length (its
    Content-Length, or the published ``size``), or slower than ``_MIN_RATE`` bytes a second
    over any ``_RATE_WINDOW`` seconds (a trickling server would otherwise hold the download
    forever; the partial file is kept and resumed next time).

    A partial file is resumed only where a splice would be caught: when a checksum is
    known (``checked``), or with ``If-Range`` and the validator (ETag or Last-Modified) the
    server gave for its first bytes, so a file changed on the server starts afresh.

    Returns:
        True if the length is proven: the file's size equals a declared length.
    """
    have = partial.stat().st_size if partial.is_file() and not partial.is_symlink() else 0
    if size is not None and have > size:
        have = 0
    if have and size is not None and have == size:
        return True  # all there already (a run was stopped while checking it)
    validator_file = _validator_path(partial)
    validator = None
    if validator_file.is_file() and not validator_file.is_symlink():
        validator = validator_file.read_text(encoding="utf-8", errors="replace")[:512].strip()
    if have and not checked and not validator:
        have = 0  # nothing would tell a spliced file: start afresh
    request = urllib.request.Request(url, headers={"User-Agent": "colorlab"})
    if have:
        request.add_header("Range", f"bytes={have}-")
        if validator:
            request.add_header("If-Range", validator)
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # nothing after our bytes: check them as they are
            return False
        raise
    with response:
        status = getattr(response, "status", 200)
        if have and status != 206:  # the server ignored the range (or the file changed)
            have = 0
        if not have:
            validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
            if validator:
                write_text_atomic(validator_file, validator)
            else:
                validator_file.unlink(missing_ok=True)
        content_type = (response.headers.get("Content-Type") or "").lower()
        if "text/html" in content_type and not partial.name.lower().endswith(
                (".html.part", ".htm.part")):
            raise ValueError("the server answered with a web page (text/html), not the file")
        length = response.headers.get("Content-Length")
        declared = have + int(length) if length is not None and length.isdigit() else None
        limit = size if size is not None else declared  # a different declared size fails
        # the size check after the download, as a wrong file does
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=limit, initial=have, unit="B", unit_scale=True, desc=label,
                       disable=None)
        written = have
        window_start, window_bytes = time.monotonic(), 0
        try:
            with open_for_append(partial, fresh=not have) as out:
                while True:
                    block = response.read1(_BLOCK) if hasattr(response, "read1") \
                        else response.read(_BLOCK)
                    if not block:
                        break
                    written += len(block)
                    if limit is not None and written > limit:
                        out.close()
                        partial.unlink()
                        raise ValueError(f"the server sent more than its declared {limit:,} "
                                         "bytes; the download was deleted")
                    out.write(block)
                    if bar is not None:
                        bar.update(len(block))
                    window_bytes += len(block)
                    elapsed = time.monotonic() - window_start
                    if elapsed >= _RATE_WINDOW:
                        if window_bytes < _MIN_RATE * elapsed:
                            raise ValueError(
                                f"the server sent only {window_bytes:,} bytes in the last "
                                f"{elapsed:.0f} s (slower than {_MIN_RATE:,} bytes/s); "
                                "the partial download is kept and resumed next time"
                            )
                        window_start, window_bytes = time.monotonic(), 0
        finally:
            if bar is not None:
                bar.close()
    got = partial.stat().st_size
    if declared is not None and got < declared:
        raise ValueError(f"connection closed after {got:,} of {declared:,} bytes")
    return limit is not None and got == limit


def _verify(
    path: pathlib.Path, sha256: str | None, size: int | None, label: str, delete: bool,
    recorded: bool = False,
) -> None:
    problem = None
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        problem = f"{actual_size:,} bytes instead of {size:,}"
    elif sha256 is not None:
        actual = sha256_of(path)
        if actual != sha256.lower():
            problem = f"sha256 {actual} instead of {sha256}"
    if problem is None:
        return
    _fail(path, label, problem, delete, recorded=recorded)


def _fail(path: pathlib.Path, label: str, problem: str, delete: bool,
          recorded: bool = False) -> None:
    if delete:
        path.unlink()
    advice = ("The download was deleted; try again." if delete else
              "Delete the file and fetch again, or replace it with a good copy.")
    if recorded:
        advice += (" The expected sha256 was recorded on an earlier first download; if the "
                   "publisher changed the file, 'colorlab data forget' the data set.")
    raise ChecksumError(f"{path} ({label}) failed its check: {problem}. {advice}")


# === Completeness ================================================================================


def _check_complete(path: pathlib.Path, filename: str, label: str, *, length_proven: bool,
                    delete: bool) -> None:
    """Proves a file complete, or raises :class:`ChecksumError` (deleting it if ``delete``).

    An archive must start with its kind's magic bytes and read to its end; any other file
    is complete only when its length was proven, and must not be a web page."""
    kind = archive_kind(filename)
    if kind is None:
        with open(path, "rb") as f:
            head = f.read(512).lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html")) and not filename.lower().endswith(
                (".html", ".htm")):
            _fail(path, label, "it is a web page (an error page?), not the file", delete)
        if not length_proven:
            _fail(path, label, "no size was published or declared by the server, so a "
                  "complete download cannot be told from a cut one", delete)
        return
    problem = archive_problem(path, kind)
    if problem:
        _fail(path, label, f"an incomplete or corrupt {kind} archive ({problem})", delete)

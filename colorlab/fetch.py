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
import json
import os
import pathlib
import shutil
import stat
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from typing import Any, Sequence

__all__ = [
    "DATA_ENV",
    "ChecksumError",
    "DownloadError",
    "UnsafeArchiveError",
    "data_home",
    "download",
    "extract",
    "sha256_of",
]

#: Environment variable naming the data cache folder.
DATA_ENV = "COLORLAB_DATA"
_BLOCK = 1 << 20
_TIMEOUT = 60


class DownloadError(RuntimeError):
    """A file could not be downloaded (offline, unreachable, HTTP error)."""


class ChecksumError(RuntimeError):
    """A file's size or sha256 differs from the published or recorded one."""


class UnsafeArchiveError(RuntimeError):
    """An archive member would be written outside the target folder, or is a link or device."""


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


def _recorded(folder: pathlib.Path, filename: str) -> str | None:
    try:
        return json.loads(_ledger_path(folder).read_text()).get(filename)
    except (OSError, ValueError):
        return None


def _record(folder: pathlib.Path, filename: str, sha256: str) -> None:
    path = _ledger_path(folder)
    try:
        ledger = json.loads(path.read_text())
    except (OSError, ValueError):
        ledger = {}
    ledger[filename] = sha256
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(ledger, indent=1, sort_keys=True))
    os.replace(tmp, path)


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
) -> pathlib.Path:
    """Downloads a file into ``folder`` unless a verified copy is already there.

    Args:
        urls: The URL, or the URL and its mirrors (tried in order).
        folder: Destination folder (created).
        filename: Final file name.
        sha256: Published checksum; None: trust on first use (recorded in checksums.json).
        size: Published size in bytes, checked when given.
        dataset: Data set name for error messages.
        progress: Show a progress bar.

    Returns:
        Path of the verified file.

    Raises:
        DownloadError: no URL worked (the message says where to put the file by hand).
        ChecksumError: the file (downloaded or placed by hand) fails its check; a download
            that fails is deleted.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    expected = sha256 or _recorded(folder, filename)
    label = f"{dataset!r}" if dataset else filename

    if target.exists():  # complete downloads only ever get this name
        _verify(target, expected, size, label, delete=False)
        if expected is None:
            _record(folder, filename, sha256_of(target))
        return target

    partial = folder / (filename + ".part")
    errors = []
    for url in urls:
        try:
            _stream(url, partial, size, progress, label)
        except (urllib.error.URLError, OSError, ValueError) as error:
            errors.append(f"{url}: {getattr(error, 'reason', error)}")
            continue
        _verify(partial, expected, size, label, delete=True)
        os.replace(partial, target)
        if expected is None:
            _record(folder, filename, sha256_of(target))
        return target
    raise DownloadError(
        f"Could not download data set {label}: " + "; ".join(errors) + ". "
        f"If this machine is offline, download {urls[0]} elsewhere and place it at {target} "
        "(it will be verified); a partial download is kept as "
        f"{partial.name} and resumed next time."
    )


def _stream(url: str, partial: pathlib.Path, size: int | None, progress: bool, label: str) -> None:
    """Appends the rest of ``url`` to ``partial`` (resuming with an HTTP Range request)."""
    have = partial.stat().st_size if partial.exists() else 0
    if size is not None and have > size:
        partial.unlink()
        have = 0
    request = urllib.request.Request(url, headers={"User-Agent": "colorlab"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
        status = getattr(response, "status", 200)
        if have and status != 206:  # the server ignored the range: start again
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else size
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=label)
        try:
            with open(partial, "ab" if have else "wb") as out:
                for block in iter(lambda: response.read(_BLOCK), b""):
                    out.write(block)
                    if bar is not None:
                        bar.update(len(block))
        finally:
            if bar is not None:
                bar.close()
    if length is not None and partial.stat().st_size != total:
        raise ValueError(f"connection closed after {partial.stat().st_size} of {total} bytes")


def _verify(
    path: pathlib.Path, sha256: str | None, size: int | None, label: str, delete: bool
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
    if delete:
        path.unlink()
    raise ChecksumError(
        f"{path.name} of data set {label} failed its check: {problem}. "
        + ("The download was deleted; try again." if delete else
           "Delete the file and fetch again, or replace it with a good copy.")
    )


# === Extraction ====================================================================================


def extract(archive: str | os.PathLike, destination: str | os.PathLike) -> pathlib.Path:
    """Unpacks a .tar, .tar.gz/.tgz or .zip archive into ``destination``, all or nothing.

    Members are checked before anything is written: an absolute path, a ``..`` component, a
    symbolic or hard link, or a device raises :class:`UnsafeArchiveError`. Unpacking happens
    in ``<destination>.partial`` and is renamed to ``destination`` at the end, so a folder
    with the final name is always complete.

    Returns:
        ``destination``.
    """
    archive = pathlib.Path(archive)
    destination = pathlib.Path(destination)
    if destination.exists():
        return destination
    staging = destination.with_name(destination.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _check_member(info.filename, archive)
                    mode = (info.external_attr >> 16) & 0o170000
                    if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                        raise UnsafeArchiveError(
                            f"{archive.name}: member {info.filename!r} is a link or device; "
                            "refusing to extract."
                        )
                zf.extractall(staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for member in members:
                    _check_member(member.name, archive)
                    if not (member.isfile() or member.isdir()):
                        raise UnsafeArchiveError(
                            f"{archive.name}: member {member.name!r} is a link or device; "
                            "refusing to extract."
                        )
                kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tf.extractall(staging, members=members, **kwargs)
        else:
            raise ValueError(f"{archive} is neither a tar nor a zip archive.")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.replace(staging, destination)
    return destination


def _check_member(name: str, archive: pathlib.Path) -> None:
    path = pathlib.PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise UnsafeArchiveError(
            f"{archive.name}: member {name!r} would be written outside the target folder; "
            "refusing to extract."
        )


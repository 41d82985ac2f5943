"""Archives: proving a download complete, and unpacking it safely.

A download is complete only when it can be proven so (:mod:`colorlab.data.download`); for an
archive, :func:`archive_problem` reads it to its end (gzip trailer, tar headers and end
block, zip central directory). :func:`extract` unpacks into a private staging folder and
renames it into place, refusing paths outside the destination, links and devices, archive
bombs (more than ``_MAX_EXPANSION`` times the archive's size) and more than
``_MAX_MEMBERS`` members.
"""

from __future__ import annotations

import gzip
import io
import os
import pathlib
import shutil
import stat
import tarfile
import zipfile
import zlib
from typing import Any

from colorlab.data.errors import ChecksumError, UnsafeArchiveError
from colorlab.files import make_private_folder, remove_stale_temporaries

__all__ = ["archive_kind", "archive_problem", "extract"]

_BLOCK = 1 << 20
#: An archive may unpack to at most this many times its own size (plus _EXPANSION_FLOOR
#: bytes): a 1 MB archive that would fill a disk is refused before anything is written.
_MAX_EXPANSION = 10
_EXPANSION_FLOOR = 100 << 20
#: Members one archive may hold.
_MAX_MEMBERS = 2_000_000
#: A staging folder of an extraction this old (seconds) was left by a killed process.
_STALE_STAGING = 6 * 3600


# === Completeness ================================================================================

#: The archive kinds whose end can be checked, by file-name suffix.
_ARCHIVE_KINDS = ((".tar.gz", "tar.gz"), (".tgz", "tar.gz"), (".tar", "tar"), (".zip", "zip"))


def archive_kind(filename: str) -> str | None:
    """"tar.gz", "tar" or "zip" from a file name's suffix; None for other files."""
    lower = filename.lower()
    return next((kind for suffix, kind in _ARCHIVE_KINDS if lower.endswith(suffix)), None)


def archive_problem(path: str | os.PathLike, kind: str) -> str:
    """Why ``path`` is not a complete archive of ``kind`` ("" if it is).

    tar.gz: gzip magic bytes, and the gzip stream reads to its trailer (CRC and length
    checked); tar (also inside the gzip): every header's checksum is right, every member's
    data is there, and an end-of-archive block follows; zip: the local-file magic bytes
    and a readable central directory (which a zip stores at its very end).
    """
    path = pathlib.Path(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if kind == "zip":
        if magic[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
            return "it does not start like a zip file"
        try:
            with zipfile.ZipFile(path) as zf:
                zf.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as error:
            return f"no readable central directory: {error}"
        return ""
    if kind == "tar.gz":
        if magic[:2] != b"\x1f\x8b":
            return "it does not start like a gzip file"
        try:
            with gzip.open(path, "rb") as stream:
                problem = _tar_problem(stream)
                while stream.read(_BLOCK):  # to the gzip trailer: CRC and length
                    pass
        except (EOFError, OSError, zlib.error) as error:
            return f"the gzip stream is cut or damaged: {error}"
        return problem
    with open(path, "rb") as stream:
        return _tar_problem(stream)


def _tar_problem(stream: Any) -> str:
    """Walks a tar stream's headers: "" if every member is whole and the end block follows."""
    members = 0
    while True:
        header = _read_exactly(stream, 512)
        if len(header) < 512:
            return (f"it ends after {members} members without the end-of-archive block"
                    if members else "it is empty or not a tar archive")
        if header == bytes(512):
            return "" if members else "it holds no members (all zeros?)"
        stored = header[148:156].replace(b"\0", b" ").strip()
        try:
            checksum = int(stored, 8)
            size = _tar_size(header[124:136])
        except ValueError:
            return f"header {members + 1} is not a tar header"
        unsigned = sum(header[:148]) + 8 * 32 + sum(header[156:])
        signed = unsigned - 256 * sum(1 for b in header[:148] + header[156:] if b > 127)
        if checksum not in (unsigned, signed):  # old tars summed signed bytes
            return f"header {members + 1} has a wrong checksum"
        data = -(-size // 512) * 512
        if _skip(stream, data) < data:
            return f"member {members + 1} is cut short"
        members += 1


def _tar_size(field: bytes) -> int:
    if field[0] & 0x80:  # GNU base-256 for large files
        return int.from_bytes(field[1:], "big")
    text = field.replace(b"\0", b" ").strip()
    return int(text, 8) if text else 0


def _read_exactly(stream: Any, count: int) -> bytes:
    chunks, left = [], count
    while left:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _skip(stream: Any, count: int) -> int:
    if isinstance(stream, io.BufferedReader):  # a plain file: seek, do not read
        start = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(min(start + count, end))
        return min(count, end - start)
    skipped = 0
    while skipped < count:
        chunk = stream.read(min(_BLOCK, count - skipped))
        if not chunk:
            break
        skipped += len(chunk)
    return skipped


# === Extraction ================================================================================


def extract(archive: str | os.PathLike, destination: str | os.PathLike) -> pathlib.Path:
    """Unpacks a .tar, .tar.gz/.tgz or .zip archive into ``destination``, all or nothing.

    Members are checked before anything is written: an absolute path, a ``..`` component, a
    symbolic or hard link, or a device raises :class:`UnsafeArchiveError`, and so do more
    than ``_MAX_MEMBERS`` members or a total size above ``_MAX_EXPANSION`` times the
    archive's (an archive bomb) or above the free disk space. Unpacking happens in a
    private temporary folder that is renamed to ``destination`` at the end, so a folder with
    the final name is always complete.

    Returns:
        ``destination``.

    Raises:
        UnsafeArchiveError: as above.
        ChecksumError: the archive is corrupt or cut short (one clear message).
    """
    archive = pathlib.Path(archive)
    destination = pathlib.Path(destination)
    if destination.exists():
        return destination
    remove_stale_temporaries(destination, older_than=_STALE_STAGING)  # of killed runs
    staging = make_private_folder(destination)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                for info in infos:
                    _check_member(info.filename, archive)
                    mode = (info.external_attr >> 16) & 0o170000
                    if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                        raise UnsafeArchiveError(
                            f"{archive.name}: member {info.filename!r} is a link or device; "
                            "refusing to extract."
                        )
                _check_expansion(archive, staging, [i.file_size for i in infos])
                zf.extractall(staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = []
                for member in tf:  # counted as read: a huge listing stops at the cap
                    members.append(member)
                    if len(members) > _MAX_MEMBERS:
                        _check_expansion(archive, staging, [0] * len(members))
                    _check_member(member.name, archive)
                    if not (member.isfile() or member.isdir()):
                        raise UnsafeArchiveError(
                            f"{archive.name}: member {member.name!r} is a link or device; "
                            "refusing to extract."
                        )
                _check_expansion(archive, staging, [m.size for m in members])
                kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tf.extractall(staging, members=members, **kwargs)
        else:
            raise ChecksumError(f"{archive} is neither a tar nor a zip archive (corrupt?); "
                                "delete it and fetch again.")
    except (EOFError, zlib.error, tarfile.ReadError, zipfile.BadZipFile) as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ChecksumError(
            f"{archive.name} is corrupt or cut short ({type(error).__name__}: {error})."
        ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.replace(staging, destination)
    return destination


def _check_expansion(archive: pathlib.Path, staging: pathlib.Path, sizes: list[int]) -> None:
    """Refuses an archive bomb (too many members, or too many bytes) before writing."""
    if len(sizes) > _MAX_MEMBERS:
        raise UnsafeArchiveError(f"{archive.name} holds {len(sizes):,} members, more than "
                                 f"{_MAX_MEMBERS:,}; refusing to extract.")
    total, own = sum(sizes), archive.stat().st_size
    allowed = _MAX_EXPANSION * own + _EXPANSION_FLOOR
    if total > allowed:
        raise UnsafeArchiveError(
            f"{archive.name} ({own:,} bytes) would unpack to {total:,} bytes, more than "
            f"{_MAX_EXPANSION} times its size: refusing to extract (an archive bomb?)."
        )
    free = shutil.disk_usage(staging).free
    if total > free:
        raise UnsafeArchiveError(
            f"{archive.name} unpacks to {total:,} bytes but the disk has {free:,} free; "
            "free some space (or set COLORLAB_DATA to a larger disk) and fetch again."
        )


def _check_member(name: str, archive: pathlib.Path) -> None:
    path = pathlib.PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise UnsafeArchiveError(
            f"{archive.name}: member {name!r} would be written outside the target folder; "
            "refusing to extract."
        )


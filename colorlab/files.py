"""Safe file handling: read regular files only, write atomically through private temporaries.

The rules every colorlab module follows, so that nothing is lost, nothing hangs and nothing
half-written passes for complete:

- **Read regular files only.** A FIFO, a socket or a device named like a photo would block
  a reader forever (or read garbage); :func:`is_regular_file` and :func:`check_regular_file`
  keep them out. A symbolic link to a regular file counts as the file.
- **Write through a private temporary file, then rename.** :func:`atomic_path` creates the
  temporary file exclusively (``O_CREAT | O_EXCL``, a random name, in the target's folder,
  as ``tempfile.mkstemp`` does), so a symbolic link planted at a predictable temporary name
  can never redirect the write; the final name appears only when the file is complete.
- **Append without following links.** :func:`open_for_append` (resumable downloads) refuses
  to follow a symbolic link at the partial file's name: the link is removed and the
  download starts afresh.
- **Mark output folders.** :func:`mark_output_folder` leaves a small marker file in folders
  colorlab writes results into (colorized photos, training runs); :func:`is_output_folder`
  lets photo listings skip them, so results are never read back as inputs.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import stat
import tempfile
from typing import Iterator

__all__ = [
    "OUTPUT_MARKER",
    "atomic_path",
    "check_regular_file",
    "is_output_folder",
    "is_regular_file",
    "mark_output_folder",
    "open_for_append",
    "write_bytes_atomic",
    "write_text_atomic",
]

#: The file that marks a folder as colorlab's output (see :func:`mark_output_folder`).
OUTPUT_MARKER = ".colorlab-output"


def is_regular_file(path: str | os.PathLike) -> bool:
    """True if ``path`` is a regular file (or a link to one); False for folders, FIFOs,
    sockets, devices, broken links and missing paths. Never opens the file."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def check_regular_file(path: str | os.PathLike, what: str = "file") -> pathlib.Path:
    """``path`` as a Path if it is a regular file.

    Raises:
        FileNotFoundError: nothing is there.
        ValueError: something is there, but not a regular file (a folder, a FIFO, a device).
    """
    path = pathlib.Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"No {what} at {path}.") from None
    except OSError as error:
        raise ValueError(f"Cannot read {what} {path}: {error.strerror}.") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else (
            "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "not a regular file")
        raise ValueError(f"{path} is {kind}; colorlab reads a {what} from regular files only.")
    return path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[pathlib.Path]:
    """A private temporary path beside ``target``; renamed to ``target`` on success.

    The temporary file is created exclusively with a random name (``.NAME.XXXXXXXX.partial``
    plus ``suffix``, e.g. ``".keras"`` for writers that insist on their suffix), so nothing
    planted in the folder can redirect the write. If the block raises, the temporary file
    is deleted and ``target`` is left as it was.

    Example:
        >>> with atomic_path("out/x.png") as tmp:
        ...     image.save(tmp, format="PNG")
    """
    target = pathlib.Path(target)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial" + suffix,
                                    dir=target.parent)
    os.close(handle)
    tmp = pathlib.Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a private temporary file (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Writes UTF-8 ``text`` to ``path`` through a private temporary file."""
    write_bytes_atomic(path, text.encode("utf-8"))


def open_for_append(path: str | os.PathLike, fresh: bool = False):
    """Opens a partial file for appending (or truncating, with ``fresh``) without ever
    following a symbolic link or writing into a non-regular file at ``path``.

    Anything at ``path`` that is not a plain regular file (a link, a FIFO, a folder) is
    removed first, and the file is then created exclusively, so the write stays in the
    folder.

    Returns:
        A binary file object positioned at the end.
    """
    path = pathlib.Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None and (fresh or not stat.S_ISREG(info.st_mode)):
        if stat.S_ISDIR(info.st_mode):
            raise ValueError(f"{path} is a folder; remove it to download.")
        path.unlink()
        info = None
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    if info is None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow, 0o644)
    else:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | nofollow)
    return os.fdopen(fd, "ab")


def mark_output_folder(folder: str | os.PathLike, what: str) -> None:
    """Marks ``folder`` (created) as holding colorlab's results, so that listings of photos
    (:func:`colorlab.images.list_images`) skip it: results are never read back as inputs,
    and a run folder inside a data folder never adds its sample figures to the data."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / OUTPUT_MARKER
    if not is_regular_file(marker):
        write_text_atomic(marker, f"colorlab {what}: photo listings skip this folder.\n")


def is_output_folder(folder: str | os.PathLike) -> bool:
    """True if ``folder`` holds colorlab's results (see :func:`mark_output_folder`)."""
    return os.path.lexists(os.path.join(folder, OUTPUT_MARKER))

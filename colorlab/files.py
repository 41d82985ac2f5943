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

The folders colorlab fills with results are marked next door, in :mod:`colorlab.data.photos`
(:func:`~colorlab.data.photos.mark_output_folder`), which lists photos and skips them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pathlib
import shutil
import stat
import tempfile
import time
from typing import Iterator

__all__ = [
    "atomic_path",
    "check_regular_file",
    "file_identity",
    "is_regular_file",
    "make_private_folder",
    "open_for_append",
    "printable",
    "remove_stale_temporaries",
    "same_file",
    "write_text_atomic",
]

def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The process's umask, read once: files written through temporaries get the permissions
#: an ordinary ``open()`` would have given them (mkstemp alone makes them owner-only).
_UMASK = _umask()


def printable(path: str | os.PathLike) -> str:
    """A path as text any terminal can print: bytes of a file name that is not valid UTF-8
    become backslash escapes instead of an encoding error."""
    return os.fspath(path).encode("utf-8", "backslashreplace").decode("utf-8")


def file_identity(path: str | os.PathLike) -> tuple[int, int]:
    """What makes two existing paths the same file or folder: (device, inode). Links, other
    spellings, and names that differ only in case on a case-insensitive disk all match.

    Raises:
        OSError: nothing is at ``path``.
    """
    info = os.stat(path)
    return info.st_dev, info.st_ino


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True if ``a`` and ``b`` are the same file or folder (:func:`file_identity`); False if
    either is missing."""
    try:
        return file_identity(a) == file_identity(b)
    except (OSError, ValueError):
        return False

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
        >>> import tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_path(folder / "x.txt") as tmp:
        ...     _ = tmp.write_text("complete")  # a crash here leaves no x.txt at all
        >>> (folder / "x.txt").read_text()
        'complete'
    """
    target = pathlib.Path(target)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial" + suffix,
                                    dir=target.parent)
    os.close(handle)
    tmp = pathlib.Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # as open() would have made it, not owner-only
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def make_private_folder(target: str | os.PathLike) -> pathlib.Path:
    """A new, empty temporary folder beside ``target`` (``.NAME.XXXXXXXX.partial``), created
    exclusively; rename it to ``target`` when it is complete. Its permissions are those of an
    ordinary new folder."""
    target = pathlib.Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial",
                                           dir=target.parent))
    os.chmod(folder, 0o777 & ~_UMASK)
    return folder


def remove_stale_temporaries(target: str | os.PathLike, older_than: float = 0.0) -> int:
    """Deletes temporary files or folders of ``target`` that a killed process left behind
    (``.NAME.*.partial*`` beside it, made by :func:`atomic_path` or
    :func:`make_private_folder`), if older than ``older_than`` seconds.

    Call it where no other process can be writing ``target`` (under a run's lock), or with
    an age that no live writer reaches.

    Returns:
        How many were deleted.
    """
    target = pathlib.Path(target)
    removed = 0
    now = time.time()
    for path in target.parent.glob(f".{glob.escape(target.name)}.*.partial*"):
        try:
            if now - os.lstat(path).st_mtime < older_than:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed += 1
        except OSError:
            continue
    return removed


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Writes UTF-8 ``text`` to ``path`` through a private temporary file."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(text.encode("utf-8"))


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


"""The run folder's mechanics: a lock while a run trains, the checked resume state, and
saving a model so that a kill never leaves a broken file.

A run folder::

    runs/demo/
      config.yaml          the TrainConfig, to rerun or resume
      state.json           the last checkpoint's step and epoch (and its sha256)
      checkpoints/last.keras   model + optimiser state, rewritten every few steps
      model.keras          the trained model, written at the end
      history.csv          loss and metrics per epoch (appended across resumes)
      logs/                TensorBoard
      samples/epoch_003.png    colorizations of the same held-out photos after each epoch
      lock                 held while a process trains here
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import socket
import sys
import time
from typing import Any

from colorlab import _startup  # noqa: F401, I001  (first: TensorFlow's start-up, quiet)

import keras

from colorlab.data.download import sha256_of
from colorlab.files import atomic_path, check_regular_file

__all__ = ["RunInUse", "RunLock", "TrainingDiverged", "resume_state", "save_atomic"]


def save_atomic(model: keras.Model, path: pathlib.Path) -> None:
    """Saves through a private temporary file: a kill mid-save never leaves a broken file."""
    with atomic_path(path, suffix=".keras") as partial:
        model.save(partial)


class RunInUse(RuntimeError):
    """Another process is training in the same run folder."""


class RunLock:
    """An exclusive lock on a run folder while a run trains in it (``run_dir/lock``).

    The operating system holds the lock (``flock``; ``msvcrt.locking`` on Windows) and
    frees it when the process ends in any way, so a lock left by a killed run is
    recognised as stale and simply taken over. The file names the holder for the message.
    """

    def __init__(self, run_dir: pathlib.Path) -> None:
        self.path = run_dir / "lock"
        self.fd: int | None = None

    def __enter__(self) -> "RunLock":
        if self.path.is_symlink():
            self.path.unlink()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            _lock_file(fd)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES,
                                   getattr(errno, "EDEADLOCK", errno.EAGAIN)):
                # A file system without locks (some network disks): train unlocked, and say so.
                print(f"warning: cannot lock {self.path} ({error.strerror}); make sure no "
                      "other run trains in this folder at the same time.", file=sys.stderr)
                self.fd = fd
                return self
            try:
                holder = os.read(fd, 512).decode("utf-8", "replace").strip() or "unknown"
            except OSError:  # Windows locks are mandatory: the holder's bytes are locked
                holder = "its process holds the lock"
            os.close(fd)
            raise RunInUse(
                f"{self.path.parent} is in use by another training run ({holder}); wait for "
                "it to finish, or train into another folder."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, (f"pid {os.getpid()} on {socket.gethostname()}, started "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}").encode())
        self.fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
            self.fd = None


def _lock_file(fd: int) -> None:
    """Takes an exclusive, non-blocking lock on an open file; OSError if another holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def resume_state(run_dir: pathlib.Path) -> dict:
    """state.json, checked as untrusted input, and tied to the checkpoint it describes.

    Returns:
        The state (``step`` and, when it recorded one, the epoch's ``history`` row) of the
        checkpoint in ``checkpoints/last.keras``.

    Raises:
        ValueError: state.json is missing or damaged, or the checkpoint is not the one this
            run saved (copied from another run).
    """
    path = run_dir / "state.json"
    fix = "delete the folder's checkpoints/ and state.json to start the run afresh"
    try:
        state = json.loads(check_regular_file(path, "run state").read_text(encoding="utf-8"),
                           parse_constant=_refuse_constant)
    except FileNotFoundError:
        raise ValueError(f"{run_dir} holds a checkpoint but no state.json, so it cannot be "
                         f"told apart from another run's; {fix}.") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is damaged ({error}); {fix}.") from None

    def valid(entry: Any) -> bool:
        step = entry.get("step") if isinstance(entry, dict) else None
        return (isinstance(step, int) and not isinstance(step, bool) and 0 <= step <= 10**9
                and isinstance(entry.get("checkpoint_sha256", ""), str))

    if not valid(state):
        raise ValueError(f"{path} is damaged (it must hold a step from 0 to 10^9); {fix}.")
    if "checkpoint_sha256" not in state:  # written by colorlab 0.1.0: nothing to tie
        return {"step": state["step"]}
    digest = sha256_of(run_dir / "checkpoints" / "last.keras")
    for entry in (state, state.get("previous")):
        if valid(entry) and entry.get("checkpoint_sha256") == digest:
            history = entry.get("history")
            return {"step": entry["step"], "epoch": entry.get("epoch"),
                    "checkpoint_sha256": digest, "best_loss": entry.get("best_loss"),
                    "history": history if isinstance(history, dict) else None}
    raise ValueError(
        f"{run_dir / 'checkpoints' / 'last.keras'} is not the checkpoint this run saved (its "
        f"sha256 differs from the one in state.json: copied from another run?); {fix}, or put "
        "the run's own checkpoint back."
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


class TrainingDiverged(RuntimeError):
    """The training loss or a weight became NaN or infinite; the last good checkpoint was
    kept."""



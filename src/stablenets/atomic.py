"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file the library writes (checkpoints, metrics, reports, figures) goes to a
temporary file ``.<name>.<random>.tmp`` in the target's folder, is flushed and fsynced,
and is then renamed over the target with ``os.replace``. A write that fails (an exception,
Ctrl-C) removes its temporary file. A process killed outright (``kill -9``, power loss)
can leave one behind: the target is intact, and a training run removes such files at its
next start (:func:`stablenets.training.rundir.clean_stale_tmp`).

A write that cannot be done (read-only folder, full disk, no permission) is one
:class:`WriteError` naming the path and the reason, whatever layer failed (the OS, torch's
zip writer, safetensors).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

__all__ = ["atomic_write", "write_bytes_atomic", "write_text_atomic", "check_writable", "WriteError", "TMP_SUFFIX"]

TMP_SUFFIX = ".tmp"
_FULL = 1 << 20  # bytes free below which a failed write is put down to a full disk


class WriteError(OSError):
    """A file could not be written; the message names the path and why."""


def _why(directory: Path, err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    try:
        if shutil.disk_usage(directory).free < _FULL:
            return "no space left on the device"
    except OSError:
        pass
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    except OSError as err:
        raise WriteError(f"cannot write {path}: {_why(path.parent, err)}") from None
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except Exception as err:
        why = _why(path.parent, err)
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) or why == "no space left on the device":
            raise WriteError(f"cannot write {path}: {why}") from None
        raise
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def check_writable(directory: str | os.PathLike, what: str, consequence: str) -> Path:
    """Make ``directory`` and write and remove a probe file in it, before any work is done.

    A failure is one :class:`WriteError`: "cannot write <what> into <directory>: <why>; <consequence>".
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".write-probe-{os.getpid()}{TMP_SUFFIX}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise WriteError(f"cannot write {what} into {directory}: {_why(directory, err)}; {consequence}") from None
    return directory

"""File helpers shared by the loaders: checksums, clear errors, atomic writes.

Every loader reports problems through the three exceptions defined here, so a
user sees one message that says what is wrong and what to do:

- ``FileNotFoundError`` (via :func:`missing_layout`): the expected layout, the
  path searched, and the command that downloads the data.
- :class:`ChecksumError`: an official file whose md5 differs from the published
  one; the message names ``verify=False`` / ``--no-verify`` for copies known to
  differ (such as a CIFAR-10 rebuilt from JPEG).
- :class:`CorruptFileError`: a truncated or malformed file.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


class DataError(ValueError):
    """A data file exists but cannot be used as it is."""


class ChecksumError(DataError):
    """A file's md5 differs from the published checksum."""


class CorruptFileError(DataError):
    """A file is truncated or does not have the documented format."""


def md5sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def check_md5(path: Path, expected: str | None, *, data: bytes | None = None, what: str = "") -> None:
    """Raise :class:`ChecksumError` unless the md5 of ``path`` (or of ``data``) is ``expected``."""
    if expected is None:
        return
    got = hashlib.md5(data).hexdigest() if data is not None else md5sum(path)
    if got != expected:
        raise ChecksumError(
            f"{path}{' (' + what + ')' if what else ''}: md5 {got} differs from the official {expected}. "
            "The file is damaged or not the official one: download it again "
            "(`stablenets data download NAME --root DIR`), or, for a copy known to differ "
            "(e.g. CIFAR-10 rebuilt from JPEG), load it with verify=False / --no-verify."
        )


def missing_layout(name: str, path: Path, layout: str) -> FileNotFoundError:
    """The one error every loader raises when its files are absent."""
    return FileNotFoundError(
        f"{name}: expected the layout\n    {layout}\nunder {path}, but it is not there. "
        f"Download it with `stablenets data download {name} --root {path}` "
        "(or pass root=... / set STABLENETS_DATA to the folder that holds it)."
    )


def resolve_root(root: str | os.PathLike | None, name: str) -> Path:
    """``root`` if given, else $STABLENETS_DATA; a clear error when neither is set."""
    if root is None:
        env = os.environ.get("STABLENETS_DATA")
        if not env:
            raise FileNotFoundError(
                f"{name}: no data root given. Pass root=DIR (CLI: --root DIR) or set STABLENETS_DATA; "
                f"get the files with `stablenets data download {name} --root DIR`."
            )
        root = env
    return Path(root).expanduser()



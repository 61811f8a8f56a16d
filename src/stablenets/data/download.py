"""Fetch the official archives, verify their md5 sums, and unpack them into the standard layout.

``download(name, root, base_url=None)``: each archive of :data:`stablenets.data.sources.ARCHIVES`
is fetched with urllib (from ``base_url`` instead of the official host when given — a
mirror, a ``file://`` folder, or a local server), written to a temporary file and moved
into place only after its md5 matches. A file already present with the right md5 is not
fetched again. Tar archives are unpacked into ``root`` with tarfile's "data" filter (no
absolute paths, links or devices); the MNIST .gz files and the AG-NEWS CSVs are stored as
they are under ``root/MNIST/raw`` and ``root/ag_news_csv``.
"""
from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from stablenets.data._files import ChecksumError, md5sum
from stablenets.data.info import check_name
from stablenets.data.sources import ARCHIVES, Archive


def _fetch(url: str, dest: Path, md5: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                with urllib.request.urlopen(url, timeout=60) as r:
                    shutil.copyfileobj(r, f, 1 << 20)
            except (urllib.error.URLError, OSError) as e:
                raise ConnectionError(
                    f"could not fetch {url} ({e}). Offline? Put {dest.name} (md5 {md5}) into {dest.parent} by "
                    "hand, or pass base_url= (CLI: --base-url) pointing at a mirror.") from None
        got = md5sum(tmp)
        if got != md5:
            raise ChecksumError(f"{url}: downloaded file has md5 {got}, expected {md5}; the download is "
                                "incomplete or not the official file. Try again or use another mirror.")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _extract(archive: Archive, path: Path, root: Path) -> None:
    if archive.extract == "tar":
        with tarfile.open(path) as tar:
            tar.extractall(root, filter="data")
    else:
        target = root / archive.extract.removeprefix("copy_to:") / archive.filename
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.resolve() != path.resolve():
            os.replace(path, target)


def download(name: str, root: str | os.PathLike, base_url: str | None = None) -> Path:
    """Download data set ``name`` into ``root`` in its standard layout and return ``root``."""
    check_name(name)
    if name not in ARCHIVES:
        raise ValueError(f"{name!r} has nothing to download (it is generated, packaged, or your own folder); "
                         f"downloadable: {', '.join(ARCHIVES)}")
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    for a in ARCHIVES[name]:
        stored = root / a.filename if a.extract == "tar" else root / a.extract.removeprefix("copy_to:") / a.filename
        if not (stored.is_file() and md5sum(stored) == a.md5):
            _fetch((base_url or a.base_url).rstrip("/") + "/" + a.filename, stored, a.md5)
        _extract(a, stored, root)
    return root

"""Download fetches, verifies and unpacks into the standard layout; never touches the network."""
from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import io
import shutil
import tarfile
import threading

import pytest

from stablenets.data import ChecksumError, download, load
from stablenets.data import sources
from stablenets.commands.data import register
from stablenets.data.sources import Archive


@pytest.fixture
def mnist_mirror(shared_data, tmp_path, monkeypatch):
    """A folder holding ../shared/data's MNIST .gz files, registered with their own md5s."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archives = []
    for a in sources.ARCHIVES["mnist"]:
        shutil.copy(shared_data / "MNIST" / "raw" / a.filename, mirror / a.filename)
        md5 = hashlib.md5((mirror / a.filename).read_bytes()).hexdigest()
        archives.append(Archive(a.filename, md5, a.base_url, a.extract))
    monkeypatch.setitem(sources.ARCHIVES, "mnist", tuple(archives))
    return mirror


def test_download_from_file_url_then_load_verified(mnist_mirror, tmp_path):
    root = tmp_path / "data"
    download("mnist", root, base_url=mnist_mirror.as_uri())
    x, y = load("mnist", root, split="test")  # verifies the official md5 of the uncompressed files
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)


def test_download_from_local_http_server_via_cli(mnist_mirror, tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mnist_mirror))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        parser = argparse.ArgumentParser()
        register(parser.add_subparsers(dest="command"))
        root = tmp_path / "data"
        args = parser.parse_args(["data", "download", "mnist", "--root", str(root),
                                  "--base-url", f"http://127.0.0.1:{server.server_address[1]}/"])
        assert args.func(args) == 0
    finally:
        server.shutdown()
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == sorted(
        a.filename for a in sources.ARCHIVES["mnist"])


def test_checksum_mismatch_leaves_nothing(mnist_mirror, tmp_path, monkeypatch):
    bad = tuple(Archive(a.filename, "0" * 32, a.base_url, a.extract) for a in sources.ARCHIVES["mnist"])
    monkeypatch.setitem(sources.ARCHIVES, "mnist", bad)
    root = tmp_path / "data"
    with pytest.raises(ChecksumError, match="expected 0000"):
        download("mnist", root, base_url=mnist_mirror.as_uri())
    assert not any(p.is_file() for p in root.rglob("*"))


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("member,ok", [("cifar-10-batches-py/readme.html", True), ("../escaped.txt", False)])
def test_tar_unpacked_into_root_and_nowhere_else(tmp_path, monkeypatch, member, ok):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    blob = _tar({member: b"hello"})
    (mirror / "cifar-10-python.tar.gz").write_bytes(blob)
    monkeypatch.setitem(sources.ARCHIVES, "cifar10", (
        Archive("cifar-10-python.tar.gz", hashlib.md5(blob).hexdigest(), "https://unused.invalid/", "tar"),))
    root = tmp_path / "data"
    if ok:
        download("cifar10", root, base_url=mirror.as_uri())
        assert (root / member).read_bytes() == b"hello"
    else:
        with pytest.raises(tarfile.TarError):
            download("cifar10", root, base_url=mirror.as_uri())
        assert not (tmp_path / "escaped.txt").exists()


def test_offline_error_and_nothing_to_download(tmp_path):
    with pytest.raises(ConnectionError, match="Offline"):
        download("ag_news", tmp_path, base_url=(tmp_path / "absent").as_uri())
    with pytest.raises(ValueError, match="nothing to download"):
        download("moons", tmp_path)

"""``stablenets data ...``: list, describe and download data sets.

    stablenets data list
    stablenets data info cifar10
    stablenets data download mnist --root DIR [--base-url URL]

The package's command line calls :func:`register` with its subparsers.
"""
from __future__ import annotations

import argparse
import dataclasses
import os

from stablenets.data.download import download
from stablenets.data.info import dataset_info, list_datasets
from stablenets.data.sources import ARCHIVES


def _list(args) -> int:
    for name in list_datasets():
        info = dataset_info(name)
        print(f"{name:15s} {info.kind:6s} classes={info.num_classes}"
              f"{'  (downloadable)' if name in ARCHIVES else ''}")
    return 0


def _info(args) -> int:
    for key, value in dataclasses.asdict(dataset_info(args.name)).items():
        print(f"{key}: {value}")
    return 0


def _download(args) -> int:
    root = args.root or os.environ.get("STABLENETS_DATA")
    if not root:
        raise SystemExit("stablenets data download: give --root DIR or set STABLENETS_DATA")
    print(download(args.name, root, base_url=args.base_url))
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``data`` command (with list / info / download) to ``subparsers``."""
    p = subparsers.add_parser("data", help="list, describe and download data sets",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="data_command", required=True)
    sub.add_parser("list", help="the supported data sets").set_defaults(func=_list)
    info = sub.add_parser("info", help="classes, channels, size, mean/std of a data set")
    info.add_argument("name", choices=list_datasets())
    info.set_defaults(func=_info)
    dl = sub.add_parser("download", help="fetch the official archives, verify md5, unpack")
    dl.add_argument("name", choices=list(ARCHIVES))
    dl.add_argument("--root", help="target folder (default $STABLENETS_DATA)")
    dl.add_argument("--base-url", help="fetch from this mirror / file:// folder instead of the official host")
    dl.set_defaults(func=_download)
    return p

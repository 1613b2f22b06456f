"""``neurosim data``: list, fetch and describe data sets."""

from __future__ import annotations

import argparse
import json
from typing import Any

from neurosim.data import fetch, info, list_datasets


def register(subparsers) -> None:
    """Add ``data`` with its ``list`` / ``fetch`` / ``info`` subcommands."""
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = subparsers.add_parser(
        "data", help="list, fetch and describe data sets", formatter_class=fmt,
        description="Data sets are verified against published checksums and cached; a "
        "directory you name is only read. See neurosim.data.files.",
    )  # fmt: skip
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    names = list(list_datasets())
    dir_help = (
        "directory to search first, read-only to neurosim (fetched files go to the cache); "
        "None: $NEUROSIM_DATA, else only the cache"
    )

    actions.add_parser("list", help="list the data sets", formatter_class=fmt).set_defaults(
        func=run_list
    )
    p_fetch = actions.add_parser(
        "fetch", help="download and verify a data set", formatter_class=fmt
    )
    p_fetch.add_argument("name", choices=names, help="data set")
    p_fetch.add_argument("--data-dir", default=None, help=dir_help)
    p_fetch.set_defaults(func=run_fetch)

    p_info = actions.add_parser(
        "info",
        help="sizes, class counts, checksums, location (a query: changes nothing)",
        formatter_class=fmt,
    )
    p_info.add_argument("name", choices=names, help="data set")
    p_info.add_argument("--data-dir", default=None, help=dir_help)
    p_info.add_argument("--json", action="store_true", help="print the info as JSON")
    p_info.set_defaults(func=run_info)


def run_list(args: argparse.Namespace) -> int:
    for name, description in list_datasets().items():
        print(f"{name:16s} {description}")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    paths = fetch(args.name, args.data_dir)
    if not paths:
        print(f"{args.name}: synthetic, generated on demand; nothing to fetch.")
    for path in paths:
        print(f"ok  {path}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    details = info(args.name, args.data_dir)
    if args.json:
        print(json.dumps(details, indent=1, default=str))
    else:
        print(format_info(details))
    return 0


def format_info(details: dict[str, Any]) -> str:
    """Human-readable rendering of :func:`neurosim.data.info`."""
    lines = [f"{details['name']}: {details['description']}"]
    shown = {"name", "description", "checksums", "verified", "origin"}
    for key, value in details.items():
        if key in shown:
            continue
        if key.endswith("class_counts"):
            value = " ".join(f"{k}:{n}" for k, n in enumerate(value)) + f"  (sum {sum(value)})"
        lines.append(f"  {key:20s} {value}")
    checksums = details.get("checksums") or {}
    verified = details.get("verified") or {}
    if checksums:
        lines.append("  sha256:")
        for filename, digest in checksums.items():
            lines.append(f"    {filename:26s} {digest}  [{verified.get(filename)}]")
    return "\n".join(lines)

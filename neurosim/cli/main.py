"""The ``neurosim`` command: one subcommand per module in :data:`SUBCOMMANDS`.

Each module ``neurosim/cli/<name>.py`` exposes ``register(subparsers)``, which adds
its parser and sets ``func`` (called with the parsed arguments, returning an exit
code or None); a subcommand that sets ``passes_unknown_options=True`` receives the
options it does not know in ``args.script_args`` instead of an error. Modules are
imported one by one and tolerantly: a missing or broken module is listed in ``--help``
as unavailable with the reason, and the others work.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from neurosim.data.types import DataError

SUBCOMMANDS = ("data", "train", "simulate", "bench", "sweep", "compare")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("neurosim")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "unknown"


def _register_unavailable(subparsers, name: str, reason: str) -> None:
    parser = subparsers.add_parser(name, help=f"(unavailable: {reason})", add_help=False)

    def run(args: argparse.Namespace) -> int:
        print(f"neurosim {name}: unavailable: {reason}", file=sys.stderr)
        return 2

    parser.set_defaults(func=run, unavailable=True)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="neurosim",
        description="Simulator for biologically plausible learning (DFC and relatives).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"neurosim {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module_name = f"neurosim.cli.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                _register_unavailable(subparsers, name, f"import failed: {err}")
            continue  # not written yet: leave it out of --help
        except Exception as err:  # noqa: BLE001 - keep the other subcommands usable
            _register_unavailable(subparsers, name, f"import failed: {type(err).__name__}: {err}")
            continue
        register = getattr(module, "register", None)
        if register is None:
            _register_unavailable(subparsers, name, f"{module_name} has no register()")
            continue
        register(subparsers)
    return parser


def _format_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    """neurosim's own warnings as one line for command-line users (others unchanged)."""
    if category.__module__.startswith("neurosim"):
        return f"neurosim: warning ({category.__name__}): {message}\n"
    return _default_format(message, category, filename, lineno, line)


_default_format = warnings.formatwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    previous, warnings.formatwarning = warnings.formatwarning, _format_warning
    try:
        return _main(argv)
    finally:
        warnings.formatwarning = previous


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "passes_unknown_options", False):
        args.script_args, extra = extra, []  # e.g. neurosim bench NAME --threads 1
    if extra and not getattr(args, "unavailable", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        code = func(args)
    except DataError as err:
        print(f"neurosim {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())

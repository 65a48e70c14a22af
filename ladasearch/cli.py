"""The ``ladasearch`` command line: one sub-command per verb, user errors as one line."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ladasearch.errors import LadaError

__all__ = ["main"]

# Each module has ``register(subparsers)``, which adds its sub-command(s) and sets ``func``.
COMMAND_MODULES = (
    "ladasearch.commands.budget",
    "ladasearch.commands.compress",
    "ladasearch.commands.search",
    "ladasearch.commands.browse",
    "ladasearch.commands.export",
    "ladasearch.commands.bench",
    "ladasearch.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (all sub-commands)."""
    parser = argparse.ArgumentParser(
        prog="ladasearch",
        description="Search LadaBERT compression ratios (P_embd, P_svd, P_weight) under a size budget.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; a :class:`LadaError` becomes one line on stderr and its exit code."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LadaError as exc:
        print(f"ladasearch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ladasearch: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

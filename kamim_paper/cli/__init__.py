"""The ``kamim`` command. Each sub-command lives in its own module exposing ``register(subparsers)``,
which adds its parser and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an
exit code)."""
from __future__ import annotations

import argparse
import importlib
import sys

# Modules of this package that define sub-commands, in the order `kamim --help` lists them.
SUBCOMMAND_MODULES = ("weights_demo", "reproduce", "train", "inspect_checkpoint", "rehearsal_data")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kamim", description="Keypoint Aware Masked Image Modelling: "
                                     "reproduce the paper, train, probe and analyse.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(f"{__name__}.{module_name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    # Bad input is reported as one line that says what to fix, not as a traceback (KAMIM_DEBUG=1 re-raises);
    # exit codes: kamim_paper.cli.errors.
    from kamim_paper.cli.errors import run_reporting_errors

    return run_reporting_errors(args.command, lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())

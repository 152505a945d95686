"""The ``kamim`` command. Each sub-command lives in its own module exposing ``register(subparsers)``,
which adds its parser and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an
exit code).

Building the parser imports no torch (nor numpy, cv2, matplotlib, ...): ``kamim --help`` answers at once.
A module imports what its command needs inside ``func``; help text that needs the library (e.g. the configuration
keys of ``kamim pretrain --help``) is given as a callable epilog, evaluated only when that help is printed
(:class:`CommandParser`). tests/paper/test_cli_startup.py checks this.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Modules of this package that define sub-commands, in the order `kamim --help` lists them.
SUBCOMMAND_MODULES = ("weights_demo", "reproduce", "train", "inspect_checkpoint", "rehearsal_data")


class CommandParser(argparse.ArgumentParser):
    """A sub-command's parser whose ``epilog`` may be a callable returning the text, called when help is printed."""

    def format_help(self) -> str:
        if callable(self.epilog):
            self.epilog = self.epilog()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kamim", description="Keypoint Aware Masked Image Modelling: "
                                     "reproduce the paper, train, probe and analyse.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
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

"""What every `python -m llmmem` command shares: a one-line-error parser, the Hub flags, the token, and the
guard that turns an llmmem error into one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import os
import sys

from .errors import LlmmemError

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        self.exit(EXIT_USAGE, f"llmmem: {message}: see {self.prog} --help\n")


def add_hub_flags(parser: argparse.ArgumentParser) -> None:
    hub = parser.add_argument_group("Hugging Face Hub")
    hub.add_argument("--offline", action="store_true", help="never reach the Hub: answer from the bundled catalog")
    hub.add_argument("--token", default=None, help="access token for gated/private models (default: $HF_TOKEN)")
    hub.add_argument("--revision", default=None, help="branch, tag or commit on the Hub (or write org/name@rev)")


def hf_token(given: str | None) -> str | None:
    """The token given on the command line, else $HF_TOKEN (the CLI only: the library never reads it)."""
    return given or os.environ.get("HF_TOKEN") or None


def token_from(args: argparse.Namespace) -> str | None:
    return hf_token(args.token)


def guarded(run) -> int:
    try:
        text = run()
    except LlmmemError as exc:
        print(f"llmmem: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    print(text)
    return 0

"""The argument parser of every ``sciflow`` command: argparse, with errors a person can act on.

argparse answers a mistyped flag by printing the whole usage (for ``sciflow run``, forty
options) and "unrecognized arguments". ``SuggestingParser`` instead names the nearest option
of the command that was typed, as git does::

    sciflow run: error: unknown option --cors; did you mean --cores?
    (see 'sciflow run --help')

Exit status 2 (bad usage), as argparse. Subparsers inherit the class, so one use at the top
level covers every command.
"""
from __future__ import annotations

import argparse
import difflib
import sys
from typing import Any, NoReturn, Sequence


def nearest_option(word: str, options: Sequence[str]) -> str | None:
    """The option ``word`` was most probably meant to be (``--cors`` → ``--cores``)."""
    name = word.split("=", 1)[0]
    longs = [o for o in options if o.startswith("--")]
    pool = longs if name.startswith("--") else list(options)
    match = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not match and not name.startswith("--") and name.startswith("-") and len(name) > 2:
        # ``-cores``: a long option typed with one dash
        match = difflib.get_close_matches("-" + name, longs, n=1, cutoff=0.6)
    return match[0] if match else None


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return [s for action in parser._actions for s in action.option_strings]


class SuggestingParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line plus a pointer to ``--help``,
    and whose unknown options come with the nearest known one (see the module docstring)."""

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: Any = None) -> argparse.Namespace:
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            self._unknown(extras, ns)
        return ns

    def _command_parser(self, ns: argparse.Namespace) -> "argparse.ArgumentParser":
        """The subcommand's parser when one was chosen (``sciflow run …``), else this one."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = getattr(ns, action.dest, None) if action.dest != argparse.SUPPRESS else None
                if chosen in action.choices:
                    return action.choices[chosen]
        return self

    def _unknown(self, extras: list[str], ns: argparse.Namespace) -> NoReturn:
        parser = self._command_parser(ns)
        word = next((e for e in extras if e.startswith("-") and e != "-"), None)
        if word is None:
            parser.error(f"unexpected argument{'s' if len(extras) > 1 else ''}: {' '.join(extras)}")
        guess = nearest_option(word, option_strings(parser))
        parser.error(f"unknown option {word.split('=', 1)[0]}"
                     + (f"; did you mean {guess}?" if guess else ""))

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n(see '{self.prog} --help')\n")
        sys.exit(2)

"""Snakemake's shell-command formatting, and the ``shell()`` callable offered to ``run:`` blocks.

``format_shell("wc -l {input} > {output:q}", namespace)`` behaves as ``snakemake.utils.format``:
lists (and ``NamedList``s) are joined by spaces, ``:q`` shell-quotes (each item of a list on
its own), ``:u`` never quotes, ``{wildcards}`` alone gives ``name=value,...`` and ``{{ }}``
escape braces. An unknown name is the *workflow's* fault, so it becomes a ``RuleError`` at the
rule's position, naming the missing key (and suggesting ``wildcards.x`` when that exists).

``shell`` formats with the caller's locals and globals (as Snakemake's ``shell`` does with
``sys._getframe``) and runs the result with ``bash`` under ``set -euo pipefail``.
"""
from __future__ import annotations

import contextvars
import os
import shlex
import string
import subprocess
import sys
from typing import IO, Any, Mapping

from sciflow.errors import JobFailedError, RuleError
from sciflow.model import SourceLoc, Wildcards

STRICT_MODE = "set -euo pipefail; "


class _ElementFormatter(string.Formatter):
    """Formats one element; a trailing ``q`` in the spec quotes it, ``u`` never quotes."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec.endswith("u"):
            format_spec, quote = format_spec[:-1], False
        else:
            quote = format_spec.endswith("q")
            if quote:
                format_spec = format_spec[:-1]
        text = super().format_field(value, format_spec)
        return shlex.quote(text) if quote and text != "" else text


class _SequenceFormatter(string.Formatter):
    """Joins sequences by a space, each element formatted (and quoted) on its own."""

    def __init__(self) -> None:
        self.element = _ElementFormatter()

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Wildcards) or _is_snakemake_wildcards(value):
            return ",".join(f"{k}={v}" for k, v in sorted(value.items(), key=lambda kv: kv[0]))
        if isinstance(value, (list, tuple, set, frozenset)):
            return " ".join(self.element.format_field(v, format_spec) for v in value)
        return self.element.format_field(value, format_spec)


def _is_snakemake_wildcards(value: Any) -> bool:
    return type(value).__name__ == "Wildcards" and hasattr(value, "items")


_FORMATTER = _SequenceFormatter()


def format_shell(cmd: str, namespace: Mapping[str, Any], loc: SourceLoc | None = None,
                 rule: str | None = None) -> str:
    """Format ``cmd`` as Snakemake formats a ``shell:`` command, from ``namespace``.

    Raises ``RuleError`` (at ``loc``) when a name, attribute or index does not exist."""
    try:
        return _FORMATTER.vformat(cmd, (), namespace)
    except (KeyError, AttributeError, IndexError) as exc:
        raise _unknown_name_error(cmd, namespace, exc, loc, rule) from None
    except (ValueError, TypeError) as exc:  # a stray single brace, a bad format spec
        where = f" of rule {rule!r}" if rule else ""
        raise RuleError(f"cannot format the shell command{where}: {exc}", loc,
                        hint="Braces not meant as placeholders must be doubled, e.g. "
                             "awk '{{print $1}}'.") from None


def _unknown_name_error(cmd: str, namespace: Mapping[str, Any], exc: Exception,
                        loc: SourceLoc | None, rule: str | None) -> RuleError:
    key = exc.args[0] if exc.args else str(exc)
    if isinstance(exc, AttributeError):
        key = str(exc)
        # NamedList says: no item named 'x' (names: ...); keep just the name where we can
        if "'" in key:
            key = key.split("'")[1]
    where = f"in the shell command of rule {rule!r}" if rule else "in the shell command"
    wildcards = namespace.get("wildcards")
    hint = ("Braces not meant as placeholders must be doubled, e.g. awk '{{print $1}}'.")
    if isinstance(key, str) and wildcards is not None and hasattr(wildcards, "keys") \
            and key in list(wildcards.keys()):
        hint = f"Did you mean 'wildcards.{key}'?"
    kind = "index" if isinstance(exc, IndexError) else "name"
    message = f"unknown {kind} {key!r} {where}: {cmd.strip()}"
    if isinstance(exc, IndexError):
        message = f"index out of range {where} ({exc}): {cmd.strip()}"
    return RuleError(message, loc, hint=hint)


# --------------------------------------------------------------------------- shell() for run:
# Where ``shell()`` sends a command's output while a job runs (set by the runner on workers).
output_target: contextvars.ContextVar[IO[bytes] | None] = contextvars.ContextVar(
    "sciflow_shell_output", default=None)
# The commands a job's ``shell()`` calls ran, in order (set by the runner: provenance records
# them as ``sf:shellCommand``).
commands_run: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "sciflow_shell_commands", default=None)


class ShellCommandError(JobFailedError, subprocess.CalledProcessError):
    """A ``shell()`` command exited non-zero; also a ``CalledProcessError`` as in Snakemake."""

    def __init__(self, returncode: int, cmd: str, output: bytes | None = None) -> None:
        message = f"shell command exited with status {returncode}: {cmd}"
        Exception.__init__(self, message)  # (both bases' __init__ chain into each other)
        self.message, self.loc, self.hint, self._source_line = message, None, None, None
        self.rule, self.wildcards, self.log_tail = None, {}, None
        self.returncode = returncode
        self.cmd = cmd
        self.output = output
        self.stderr = None

    def __str__(self) -> str:
        return self.message


class Shell:
    """The ``shell`` of Snakefiles: ``shell("cmd {input}")``, ``shell.prefix("...")``,
    ``shell.suffix("...")``, ``shell.executable("/bin/bash")``; ``read=True`` returns stdout."""

    def __init__(self) -> None:
        self._prefix = ""
        self._suffix = ""
        self._executable = "bash"

    def prefix(self, text: str) -> None:
        self._prefix = text

    def suffix(self, text: str) -> None:
        self._suffix = text

    def executable(self, path: str | None) -> None:
        self._executable = path or "bash"

    def wrap(self, cmd: str) -> str:
        """``cmd`` with the strict mode and the user's prefix/suffix, ready for ``bash -c``."""
        return f"{STRICT_MODE}{self._prefix}{cmd}{self._suffix}"

    def __call__(self, cmd: str, *args: Any, read: bool = False, iterable: bool = False,
                 bench_record: Any = None, **kwargs: Any) -> Any:
        frame = sys._getframe(1)
        namespace = dict(frame.f_globals)
        namespace.update(frame.f_locals)
        namespace.update(kwargs)
        rule = namespace.get("rule")
        command = format_shell(cmd, namespace, rule=rule if isinstance(rule, str) else None)
        target = output_target.get()
        ran = commands_run.get()
        if ran is not None:
            ran.append(command)
        stdout: Any = subprocess.PIPE if (read or iterable) else target
        proc = subprocess.run([self._executable, "-c", self.wrap(command)], stdout=stdout,
                              stderr=target, stdin=subprocess.DEVNULL, cwd=os.getcwd())
        if proc.returncode != 0:
            raise ShellCommandError(proc.returncode, command, proc.stdout)
        if iterable:
            return iter(proc.stdout.decode().splitlines())
        if read:
            return proc.stdout.decode()
        return None


shell = Shell()

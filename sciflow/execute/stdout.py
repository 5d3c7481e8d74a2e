"""Where a ``run:`` block's output goes on a worker: its job's log, not the worker's terminal.

A worker runs several ``run:`` jobs at once, in threads of one process, and ``sys.stdout`` is
per process: swapping it per job would mix the jobs up. Instead ``sys.stdout``/``sys.stderr``
are replaced once by a stream that looks up the log of the job running in the current context
(a ``ContextVar``); ``shell()`` inside the block sends its command's output to the same log
(``sciflow.execute.shell`` reads its own context variable, set here too).
"""
from __future__ import annotations

import contextlib
import contextvars
import io
import sys
import threading
from typing import Any, Iterator

from sciflow.execute.shell import output_target


class RoutedStream(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr`` in a worker: writes from a thread running a
    ``run:`` block go to that job's log, everything else to the original stream."""

    target: contextvars.ContextVar[Any] = contextvars.ContextVar("sciflow_py_output",
                                                                 default=None)

    def __init__(self, original: Any) -> None:
        self.original = original

    def write(self, text: str) -> int:
        out = self.target.get()
        return (out or self.original).write(text)

    def flush(self) -> None:
        out = self.target.get()
        (out or self.original).flush()

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:  # fileno(), encoding, isatty()...
        return getattr(self.original, name)


_ROUTING_LOCK = threading.Lock()


@contextlib.contextmanager
def capture_python_output(raw: io.RawIOBase) -> Iterator[None]:
    """``print()`` in a ``run:`` block goes to the job's log (``raw``), not the worker's
    terminal."""
    with _ROUTING_LOCK:
        if not isinstance(sys.stdout, RoutedStream):
            sys.stdout = RoutedStream(sys.stdout)
        if not isinstance(sys.stderr, RoutedStream):
            sys.stderr = RoutedStream(sys.stderr)
    text = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)  # type: ignore[arg-type]
    token = RoutedStream.target.set(text)
    try:
        yield
    finally:
        RoutedStream.target.reset(token)
        text.flush()
        text.detach()


@contextlib.contextmanager
def job_output(raw: io.RawIOBase) -> Iterator[None]:
    """Everything a ``run:`` block writes, by ``print()`` or through ``shell()``, goes to
    ``raw`` (the job's log) while the block runs in this context."""
    with capture_python_output(raw):
        token = output_target.set(raw)  # type: ignore[arg-type]
        try:
            yield
        finally:
            output_target.reset(token)

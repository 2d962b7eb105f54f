"""Diagnostics from the core without importing `logging` (it costs start-up time).

The CLI connects a sink (render.err) once per invocation; with no sink,
messages go nowhere. `info` is shown only with -v; `notice` unless -q (a wait
before a retry, a host that is not CustomerGauge's); `warning` always.
"""

from __future__ import annotations

from collections.abc import Callable

_sink: Callable[[str], None] | None = None
_verbose = False
_quiet = False
_said: set[str] = set()


def connect(sink: Callable[[str], None] | None, *, verbose: bool = False, quiet: bool = False) -> None:
    global _sink, _verbose, _quiet
    _sink, _verbose, _quiet = sink, verbose, quiet
    _said.clear()


def info(message: str, *args: object) -> None:
    if _verbose and _sink is not None:
        _sink(message % args if args else message)


def notice(message: str, *args: object, once: bool = False) -> None:
    """A line a script can do without (hidden by -q); with `once`, said at most once per run."""
    text = message % args if args else message
    if once and text in _said:
        return
    _said.add(text)
    if not _quiet and _sink is not None:
        _sink(text)


def warning(message: str, *args: object) -> None:
    if _sink is not None:
        _sink(message % args if args else message)

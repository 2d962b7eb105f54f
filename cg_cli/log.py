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


def connect(sink: Callable[[str], None] | None, *, verbose: bool = False, quiet: bool = False) -> None:
    global _sink, _verbose, _quiet
    _sink, _verbose, _quiet = sink, verbose, quiet


def info(message: str, *args: object) -> None:
    if _verbose and _sink is not None:
        _sink(message % args if args else message)


def notice(message: str, *args: object) -> None:
    if not _quiet and _sink is not None:
        _sink(message % args if args else message)


def warning(message: str, *args: object) -> None:
    if _sink is not None:
        _sink(message % args if args else message)

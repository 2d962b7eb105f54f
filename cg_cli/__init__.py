"""cg: push records into CustomerGauge through its PUT Records API."""

import os
import sys

__version__ = "0.3.0"


def _interrupted_quietly(kind: type[BaseException], value: BaseException, traceback: object) -> None:
    """Ctrl-C that lands while `cg` itself is still being imported prints one line, not a traceback."""
    if issubclass(kind, KeyboardInterrupt):
        sys.stderr.write("interrupted\n")
    else:
        _previous_hook(kind, value, traceback)  # type: ignore[arg-type]


def _interrupted_in_a_callback(unraisable: "sys.UnraisableHookArgs") -> None:
    """Ctrl-C inside a callback Python cannot raise from (an import lock's cleanup) still interrupts."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        os.write(2, b"interrupted\n")
        os._exit(130)
    _previous_unraisable_hook(unraisable)


_previous_hook = sys.excepthook
_previous_unraisable_hook = sys.unraisablehook
if sys.excepthook is sys.__excepthook__:
    sys.excepthook = _interrupted_quietly
if sys.unraisablehook is sys.__unraisablehook__:
    sys.unraisablehook = _interrupted_in_a_callback

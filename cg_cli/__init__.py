"""cg: push records into CustomerGauge through its PUT Records API."""

import sys

__version__ = "0.1.0"


def _interrupted_quietly(kind: type[BaseException], value: BaseException, traceback: object) -> None:
    """Ctrl-C that lands while `cg` itself is still being imported prints one line, not a traceback."""
    if issubclass(kind, KeyboardInterrupt):
        sys.stderr.write("interrupted\n")
    else:
        _previous_hook(kind, value, traceback)  # type: ignore[arg-type]


_previous_hook = sys.excepthook
if sys.excepthook is sys.__excepthook__:
    sys.excepthook = _interrupted_quietly

"""A shell on a pseudo-terminal for tests: keys typed as a user types them, each line's arguments read back.

Each line ends by running `printargs` (defined in the shell's setup), which appends its argument count and
arguments, NUL-separated, to a log: what the shell made of the line, whatever characters the arguments hold.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

READY = b"READY"
DONE = b"DONE"
# `printargs` in each shell's language; the quotes inside READY/DONE keep the echoed command from matching.
# Ctrl-A goes to the start of the whole line, even when a completion put a newline (in quotes) in it.
PRINTARGS = "printargs() {{ printf '%s\\0' \"$#\" \"$@\" >> {log}; echo DO''NE; }}; "
SETUP = {
    "bash": PRINTARGS,
    "zsh": "bindkey -e; start() {{ CURSOR=0 }}; zle -N start; bindkey '^A' start; " + PRINTARGS,
    "fish": "bind \\ca beginning-of-buffer; "
    "function printargs; printf '%s\\0' (count $argv) $argv >> {log}; echo DO''NE; end; ",
}


def _take_the_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """One interactive shell; `line` types keys and returns the arguments `printargs` received (None: it never ran)."""

    def __init__(self, argv: list[str], shell: str, setup: str, env: dict[str, str], cwd: Path) -> None:
        self.log = cwd.parent / f"printargs-{os.getpid()}-{id(self)}.log"
        self.screen = b""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))
        self.process = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_take_the_terminal,  # job control (fish insists) needs a controlling terminal
        )
        os.close(slave)
        self.master, self.shell = master, shell
        self._type(SETUP[shell].format(log=self.log) + setup + "; echo RE''ADY\r")
        if not self._wait_for(READY, 1, timeout=30):
            raise AssertionError(f"{shell} never got ready: {self.screen!r}")

    def line(self, keys: str, timeout: float = 30) -> list[str] | None:
        before = self.screen.count(DONE)
        self._type(keys)
        if not self._wait_for(DONE, before + 1, timeout):
            self._recover()
            return None
        fields = self.log.read_bytes().decode().split("\0")[:-1]
        self.log.unlink()
        return fields[1 : 1 + int(fields[0])]

    def _recover(self) -> None:
        """Interrupt a line left open (an unterminated quote); the shell drops what was typed ahead, so wait."""
        ready = self.screen.count(READY + b"\r")
        self._type("\x03")
        time.sleep(0.5)
        self._type("echo RE''ADY\r")
        self._wait_for(READY, ready + 1, timeout=10)

    def close(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        os.close(self.master)

    def _type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def _wait_for(self, marker: bytes, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.screen.count(marker + b"\r") < count and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:
                    break
        return self.screen.count(marker + b"\r") >= count

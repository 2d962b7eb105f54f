"""Which encoding an export is read in, and the checks that keep values from turning into mojibake.

Rules, in order:
1. A byte order mark decides: UTF-8, UTF-16 or UTF-32, whatever `--encoding` says (the
   pre-flight line names the `--encoding` it ignored). A failed file cg wrote in UTF-8
   with a BOM so re-imports with the options of the run that wrote it.
2. Without a BOM, `--encoding NAME`, else UTF-8. UTF-16 and UTF-32 without a BOM have no
   known byte order: exit 2, naming the `-le`/`-be` codec the first bytes suggest. So does
   a file that looks like BOM-less UTF-16 when no `--encoding` is given.
3. A legacy `--encoding` (cp1252, latin-1, any codec but UTF-8/16/32) on bytes that are
   valid multi-byte UTF-8 would send `Ã«` for `ë`: a file is refused before anything is
   sent, naming a sample; on stdin (which cannot be read twice) each such row fails.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cg_cli.errors import UsageError

_BOMS = (  # longest first: a UTF-32-LE BOM starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NAMES = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32"}
_NEEDS_BOM = ("utf-16", "utf-32")  # Python's codecs of these names refuse a stream without one
_SCAN_CHUNK = 1 << 16


@dataclass(frozen=True)
class Encoding:
    codec: str  # what the file is decoded with
    bom: bool = False  # the file starts with a byte order mark
    note: str = ""  # for the pre-flight line: the --encoding a BOM overrode
    legacy: bool = False  # a codec other than UTF-8/16/32: values are checked for mojibake

    @property
    def name(self) -> str:
        return _NAMES.get(self.codec, self.codec)

    @property
    def for_writing(self) -> str:
        """The codec a file of these rows is written in to read back the same (a UTF-8 BOM is kept)."""
        if self.codec == "utf-8-sig":
            return "utf-8-sig" if self.bom else "utf-8"
        return self.codec


def choose_encoding(binary: Any, given: str | None, source: str) -> Encoding:
    """The encoding of the stream `binary` (peeked, never consumed), by the rules above."""
    head: bytes = binary.peek(4)[:4] if hasattr(binary, "peek") else b""
    from_bom = next((codec for bom, codec in _BOMS if head.startswith(bom)), None)
    codec = _lookup(given) if given else None
    if from_bom is not None:
        family = {"utf-8-sig": ("utf-8",)}.get(from_bom, (from_bom, f"{from_bom}-le", f"{from_bom}-be"))
        ignored = codec is not None and codec not in family and codec != from_bom
        note = f"a byte order mark says {_NAMES[from_bom]}; --encoding {given} ignored" if ignored else ""
        return Encoding(from_bom, bom=True, note=note)
    if codec in _NEEDS_BOM or (codec is None and _looks_like_utf16(head)):
        guess = _byte_order(head, codec or "utf-16")
        raise UsageError(
            f"{source} has no byte order mark, so the byte order of its {_NAMES.get(codec or 'utf-16')} is unknown",
            hint=f"pass --encoding {guess} (its first bytes suggest it; Excel and Windows write -le)",
        )
    if codec is None or codec in ("utf-8", "utf-8-sig"):
        return Encoding("utf-8-sig")
    # ASCII needs no check: a byte above 127 is a decoding error already.
    return Encoding(codec, legacy=codec != "ascii" and not codec.startswith(("utf-16", "utf-32")))


def _lookup(given: str) -> str:
    try:
        return codecs.lookup(given).name
    except LookupError:
        raise UsageError(f"unknown encoding {given!r}", hint="for example cp1252, latin-1 or utf-16") from None


def _looks_like_utf16(head: bytes) -> bool:
    """'A\\0c\\0' or '\\0A\\0c': text in UTF-16 without its BOM (a NUL is never in a CSV header)."""
    return len(head) >= 4 and ((head[1] == head[3] == 0) != (head[0] == head[2] == 0))


def _byte_order(head: bytes, codec: str) -> str:
    big = len(head) >= 2 and head[0] == 0 and head[1] != 0
    return f"{codec}-{'be' if big else 'le'}"


def refuse_utf8_read_as_legacy(path: Path, encoding: Encoding) -> None:
    """A file under a legacy --encoding that is valid UTF-8 with at least one multi-byte character:
    exit 2 before anything is sent, naming the first such character and what would be sent instead."""
    if not encoding.legacy:
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, sample = 1, None
    with path.open("rb") as stream:
        while chunk := stream.read(_SCAN_CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError:
                return  # not UTF-8: the legacy encoding is what the file needs
            if sample is None and not text.isascii():
                index = next(i for i, char in enumerate(text) if not char.isascii())
                sample = (text[index], lines + text[:index].count("\n"))
            lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return
    if sample is not None:
        char, line = sample
        raise UsageError(
            f"{path} is UTF-8, not {encoding.codec}: {garbled(char, encoding.codec)} (line {line}); nothing was sent",
            hint="drop --encoding (UTF-8 is the default)",
        )


def mojibake(text: str, codec: str) -> str | None:
    """`text`, decoded with a legacy codec, is really UTF-8: what would be sent for what, else None."""
    if text.isascii():
        return None
    try:
        meant = text.encode(codec).decode("utf-8")
    except UnicodeError:
        return None
    char = next(c for c in meant if not c.isascii())
    return f"{garbled(char, codec)}: the input looks like UTF-8, not {codec}"


def garbled(char: str, codec: str) -> str:
    """What a legacy codec makes of a character's UTF-8 bytes: `'Ã«' would be sent for 'ë'`."""
    return f"{char.encode('utf-8').decode(codec, 'replace')!r} would be sent for {char!r}"

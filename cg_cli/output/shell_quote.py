"""Shell words for completion: a candidate quoted for the place bash inserts it, and a bash line read back.

Mapping names come from files a cloned repository may carry, so a candidate is data whatever characters it
holds. bash inserts a reply as typed text, after the quote the user may have opened, so each reply is quoted
for that place (`quote_for_bash`); zsh and fish quote what they insert themselves. `bash_words` reads the
line typed so far as bash will. Display strings (`visible`) never carry a control character to the terminal.
"""

from __future__ import annotations

import re
import string
from enum import Enum

# Never special to bash anywhere in a word: no expansion, globbing, quoting or word splitting starts with them.
SAFE = frozenset(string.ascii_letters + string.digits + "_-.,/+@%")


class Quote(Enum):
    """Where readline inserts a reply: in no quote, or just after an opening ', " or $'."""

    NONE = ""
    SINGLE = "'"
    DOUBLE = '"'
    ANSI = "$'"


def readline_quote(line: str) -> Quote:
    """The quote open at the end of `line`, scanned as readline scans it to find the word to complete.

    readline knows ' and " only, and lets a backslash escape the next character outside single quotes. A '
    right after an unescaped, unquoted $ opens bash's $'…', where backslashes are escapes again.
    """
    quote = ""
    ansi = escaped = dollar = False
    for char in line:
        if escaped:
            escaped = dollar = False
        elif char == "\\" and quote != "'":
            escaped, dollar = True, False
        elif quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote, ansi, dollar = char, char == "'" and dollar, False
        else:
            dollar = char == "$"
    if ansi and quote == "'":
        return Quote.ANSI
    return Quote(quote)


def quote_for_bash(value: str, where: Quote, encoding: str = "utf-8") -> str:
    """`value` as text to insert where readline inserts it; bash reads the result back as `value`, running nothing.

    Outside quotes every character but SAFE ones is backslashed. After an opening quote the text stays inside
    it, but for the few characters that cannot (each leaves and re-enters the quote). Characters that are not
    printable go as $'\\xHH' (their bytes), so a reply is one line and draws nothing on the terminal; so do
    non-ASCII characters when `encoding` is not UTF-8 (a shell in such a locale could read a byte of one as
    a backslash). readline closes the user's quote after a single match, unless the reply already ends with
    that quote character: then the reply closes it itself.
    """
    quote_one = {Quote.NONE: _bare, Quote.SINGLE: _in_single, Quote.DOUBLE: _in_double, Quote.ANSI: _in_ansi}[where]
    raw_non_ascii = encoding.replace("_", "-").lower() in ("utf-8", "utf8")
    text = "".join(quote_one(char, _encoded(char, encoding, raw_non_ascii)) for char in value)
    closing = where.value[-1:]
    if not closing:
        return text or "''"
    return text + closing if text.endswith(closing) or not text else text


def _encoded(char: str, encoding: str, raw_non_ascii: bool) -> str | None:
    """None when `char` may go as it is, else its bytes as \\xHH escapes."""
    if char.isprintable() and (char.isascii() or raw_non_ascii):
        return None
    return "".join(f"\\x{byte:02x}" for byte in char.encode(encoding))


def _bare(char: str, escaped: str | None) -> str:
    if escaped is not None:
        return f"$'{escaped}'"
    if char in SAFE or not char.isascii():
        return char
    return "\\" + char  # every other printable ASCII character, space included, is literal after a backslash


def _in_single(char: str, escaped: str | None) -> str:
    if char == "'" or escaped is not None:
        return "'" + _bare(char, escaped) + "'"  # close, the character on its own, reopen
    return char  # nothing else is special inside '…' (history expansion too stops at a single quote)


def _in_double(char: str, escaped: str | None) -> str:
    if char == "!" or escaped is not None:
        return '"' + _bare(char, escaped) + '"'  # "\!" would keep its backslash; history expansion needs it outside
    if char in '\\$`"':
        return "\\" + char
    return char


def _in_ansi(char: str, escaped: str | None) -> str:
    if escaped is not None:
        return escaped
    return "\\" + char if char in "\\'" else char


# bash's $'…' escapes; \x, \u, \U, octal and \c are read by ANSI_ESCAPE.
ANSI_SIMPLE = {"a": 7, "b": 8, "e": 27, "E": 27, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, "'": 39, '"': 34}
ANSI_ESCAPE = re.compile(
    r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{1,4})|U([0-9a-fA-F]{1,8})|c(.)|(.))", re.S
)


def bash_words(line: str, encoding: str = "utf-8") -> tuple[list[str], str]:
    """The words of `line` as bash reads them, quotes removed and nothing expanded: (the complete words, the
    word being typed at the end, "" after a blank). An unclosed quote at the end counts as closed."""
    words: list[str] = []
    word: bytearray | None = None  # None between words: '' is a word, a blank is not
    index = 0
    while index < len(line):
        char = line[index]
        if char in " \t\n":
            if word is not None:
                words.append(word.decode(encoding, "surrogateescape"))
            word, index = None, index + 1
            continue
        word = word if word is not None else bytearray()
        part, index = _quoted_part(line, index, encoding)
        word += part.encode(encoding, "surrogateescape") if isinstance(part, str) else part
    return words, word.decode(encoding, "surrogateescape") if word is not None else ""


def _quoted_part(line: str, index: int, encoding: str) -> tuple[str | bytes, int]:
    """One unit of a word starting at `index` (a character, an escape, a quoted string) and where it ends."""
    char = line[index]
    if char == "\\":
        return line[index + 1 : index + 2].replace("\n", ""), index + 2  # backslash-newline joins lines
    if char == "'":
        end = _closing(line, index + 1, "'")
        return line[index + 1 : end], end + 1
    if line.startswith("$'", index):
        return _ansi(line, index + 2, encoding)
    if char == '"' or line.startswith('$"', index):
        return _double(line, index + (2 if char == "$" else 1))
    return char, index + 1


def _closing(line: str, start: int, quote: str) -> int:
    end = line.find(quote, start)
    return len(line) if end < 0 else end


def _double(line: str, index: int) -> tuple[str, int]:
    """Inside "…" a backslash escapes only $ ` " \\ and a newline."""
    text: list[str] = []
    while index < len(line) and line[index] != '"':
        if line[index] == "\\" and line[index + 1 : index + 2] in ("$", "`", '"', "\\", "\n"):
            text.append(line[index + 1].replace("\n", ""))
            index += 2
        else:
            text.append(line[index])
            index += 1
    return "".join(text), index + 1


def _ansi(line: str, index: int, encoding: str) -> tuple[bytes, int]:
    """Inside $'…' backslash escapes are bash's; \\xHH is a byte, so a character may take several."""
    text = bytearray()
    while index < len(line) and line[index] != "'":
        escape = ANSI_ESCAPE.match(line, index)
        if escape is None:
            text += line[index].encode(encoding, "surrogateescape")
            index += 1
            continue
        text += _ansi_value(escape, encoding)
        index = escape.end()
    return bytes(text), index + 1


def _ansi_value(escape: re.Match[str], encoding: str) -> bytes:
    octal, hex_byte, short, long, control, other = escape.groups()
    if octal or hex_byte:
        return bytes([int(octal, 8) & 0xFF if octal else int(hex_byte, 16)])
    if short or long:
        return chr(min(int(short or long, 16), 0x10FFFF)).encode(encoding, "surrogateescape")
    if control:
        return bytes([ord(control) & 0x1F])
    return bytes([ANSI_SIMPLE[other]]) if other in ANSI_SIMPLE else ("\\" + other).encode(encoding, "surrogateescape")


def quote_for_eval(value: str) -> str:
    """A single-quoted word for a shell's eval (zsh's too): ' becomes \\', and no two quotes ever meet, so zsh's
    RC_QUOTES (where '' inside quotes is a quote) cannot change the reading."""
    return "\\'".join(f"'{part}'" if part else "" for part in value.split("'")) or "''"


def visible(text: str) -> str:
    """`text` for a listing: characters that are not printable (newline, escape, bidi controls) as \\n, \\x1b,
    \\u202e, so a name cannot draw on the terminal or pass for another."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)

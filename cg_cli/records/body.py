"""Building one record from -f options and JSON, and encoding it for the wire."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

from cg_cli import __version__
from cg_cli.errors import UsageError

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

Scalar = str | int | float | bool
Record = dict[str, Scalar]


class JsonValueError(ValueError):
    """Valid for Python's json module, not for the API: NaN, Infinity, a key given twice."""


class UnsendableText(JsonValueError):
    """A string holding a lone surrogate or a byte order mark: the object is whole, the text is not sendable."""


# A lone surrogate cannot be encoded as UTF-8 (nor sent); a byte order mark inside a value is what
# joining two files leaves behind, and would reach the service as an invisible character.
_UNSENDABLE = re.compile("[\ud800-\udfff\ufeff]")
has_unsendable = _UNSENDABLE.search  # the fast test of a whole line or row; unsendable_character says why


def unsendable_character(text: str) -> str | None:
    """Why `text` cannot be sent as it is (a lone surrogate, a byte order mark), or None."""
    if text.isascii():
        return None
    found = _UNSENDABLE.search(text)
    if found is None:
        return None
    char = found.group()
    if char == "\ufeff":
        return "holds a byte order mark (U+FEFF), as joined files leave behind: remove it"
    return f"holds a lone surrogate (\\u{ord(char):04x}), which is not text that can be sent"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise JsonValueError(f"key {key!r} appears twice")
        data[key] = value
    return data


def _sendable_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """_no_duplicate_keys, and every key and string value sendable text."""
    for key, value in pairs:
        problem = unsendable_character(key) or (unsendable_character(value) if isinstance(value, str) else None)
        if problem is not None:
            raise UnsendableText(f"field {_shown(key)} {problem}")
    return _no_duplicate_keys(pairs)


def _shown(text: str) -> str:
    """A field name in quotes, its unsendable characters as escapes (it is printed and written to files)."""
    return "'" + _UNSENDABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text) + "'"


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonValueError(f"number {text} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise JsonValueError(f"{name} is not a JSON value")


def strict_json_loads(text: str, *, decoded: bool = False) -> Any:
    """json.loads that refuses what the API cannot take and Python would quietly accept (or crash on).

    `decoded`: the text was decoded from bytes, so a lone surrogate can be in it only as an escape."""
    # Each string is looked at only when the text may hold such a character, as itself or as an escape.
    if decoded:
        maybe = "\\u" in text or "\ufeff" in text
    else:
        maybe = "\\u" in text or (not text.isascii() and has_unsendable(text) is not None)
    pairs = _sendable_pairs if maybe else _no_duplicate_keys
    try:
        return json.loads(text, object_pairs_hook=pairs, parse_float=_finite, parse_constant=_no_constant)
    except (json.JSONDecodeError, JsonValueError):
        raise
    except ValueError:  # int() refuses more digits than sys.get_int_max_str_digits() (a guard against DoS)
        raise JsonValueError(f"a number has more than {sys.get_int_max_str_digits()} digits") from None


def check_text(text: str, what: str) -> str:
    """Refuse text that cannot be sent as UTF-8 (argv undecodable in a C locale), before anything is sent."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"{what} is not valid text in this locale",
            hint="run with a UTF-8 locale (for example LC_ALL=C.UTF-8), or pass the record with --json FILE",
        ) from None
    return text


def parse_field_option(text: str, option: str = "-f") -> tuple[str, str]:
    """`-f "Account Name=ACME"` → ("Account Name", "ACME"); split at the first `=`."""
    shown = text.encode("utf-8", "backslashreplace").decode()
    name, sep, value = check_text(text, f"{option} {shown!r}").partition("=")
    if not sep:
        raise UsageError(f'{option} {shown!r} has no "=": write {option} "Field Name=value"')
    if not name.strip():
        raise UsageError(f'{option} {shown!r} has no field name before "="')
    return name, value


def fields_from_options(options: Iterable[str], option: str = "-f") -> Record:
    record: Record = {}
    for text in options:
        name, value = parse_field_option(text, option)
        if name in record:
            raise UsageError(f"field {name!r} is given twice with {option}")
        record[name] = value
    return record


class JsonInput(NamedTuple):
    configuration: str | None
    record: Mapping[str, Any]


def parse_json_input(text: str, source: str) -> JsonInput:
    """A record object, or a whole body {"configuration": …, "record": {…}}."""
    try:
        data = strict_json_loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except JsonValueError as exc:
        raise UsageError(f"{source}: {exc}") from None
    except RecursionError:
        raise UsageError(f"{source}: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected a JSON object, got {_json_type(data)}")
    if "record" in data and isinstance(data["record"], dict) and "configuration" in data:
        extra = sorted(set(data) - {"configuration", "record"})
        if extra:
            raise UsageError(
                f'{source}: a whole body holds only "configuration" and "record", not {extra[0]!r}',
                hint='move that field into "record", or drop it',
            )
    if "record" in data and isinstance(data["record"], dict) and set(data) <= {"configuration", "record"}:
        configuration = data.get("configuration")
        if configuration is not None and not isinstance(configuration, str):
            raise UsageError(f'{source}: "configuration" must be a string')
        return JsonInput(configuration or None, data["record"])
    return JsonInput(None, data)


def read_json_option(path: str | None) -> JsonInput | None:
    """What `--json PATH|-` gave, or None without the option."""
    if path is None:
        return None
    from cg_cli.records.files import read_text_or_stdin

    source = "stdin" if path == "-" else path
    return parse_json_input(read_text_or_stdin(path, "--json"), f"--json {source}")


def checked_record(values: Mapping[str, Any], source: str) -> Record:
    """The record with every value a scalar; nested values are refused."""
    record: Record = {}
    for name, value in values.items():
        if not name.strip():
            raise UsageError(f"{source}: a field name is empty")
        if not is_scalar(value):
            raise UsageError(
                f"{source}: field {name!r} is {_json_type(value)}; values must be strings, numbers or booleans"
            )
        record[name] = value
    return record


def is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def build_record(field_options: Iterable[str], json_input: JsonInput | None, *, strict: bool = True) -> Record:
    """The record: keys from --json, overridden by -f values.

    `strict` refuses nested values at once; a mapping check passes False so it
    can report them as problems among the others.
    """
    from_fields = fields_from_options(field_options)
    record: Record = {}
    if json_input is not None:
        record = checked_record(json_input.record, "--json") if strict else dict(json_input.record)
    record.update(from_fields)
    if not record:
        raise UsageError('the record is empty: give fields with -f "Field=value" or --json FILE')
    return record


def form_value(value: Scalar) -> str:
    """How a value travels in a form body: strings as they are, others as JSON spells them."""
    return value if isinstance(value, str) else json.dumps(value)


class RecordBody(NamedTuple):
    configuration: str
    record: Record
    form: bool = False

    @property
    def content_type(self) -> str:
        return FORM_CONTENT_TYPE if self.form else JSON_CONTENT_TYPE

    def encode(self) -> bytes:
        if not self.form:
            body = {"configuration": self.configuration, "record": self.record}
            return json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
        # record[Field Name]=value, as the API documents; the brackets that
        # frame the name stay literal, everything inside is percent-encoded.
        pairs = [f"configuration={quote(self.configuration, safe='')}"]
        pairs.extend(
            f"record[{quote(name, safe='')}]={quote(form_value(value), safe='')}" for name, value in self.record.items()
        )
        return "&".join(pairs).encode()


USER_AGENT = f"cg-cli/{__version__}"


def request_headers(content_type: str, token: str) -> dict[str, str]:
    """The headers of a PUT /records/: the real send and --dry-run both build them here."""
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": content_type,
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }


def curl_command(url: str, body: RecordBody, token_command: str) -> str:
    """An equivalent curl line; the token comes from `$(cg auth token)` at run time."""
    import shlex

    return " ".join(
        [
            "curl --fail-with-body -X PUT",
            shlex.quote(url),
            f'-H "Authorization: Bearer $({token_command})"',
            "-H",
            shlex.quote(f"Content-Type: {body.content_type}"),
            "--data-binary",
            shlex.quote(body.encode().decode()),
        ]
    )


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    return "a " + type(value).__name__

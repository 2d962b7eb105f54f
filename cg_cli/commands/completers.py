"""What the shell completes after an option: fixed values, and the mapping and profile names on this machine.

A completer runs on every Tab: it never prints, never fails (a broken file completes nothing),
and reads the same mapping file and config dir the command itself would (options already typed,
then the environment and .env).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from typer import _click as click

Completer = Callable[[click.Context, list[str], str], list[str]]  # what Typer's autocompletion= takes

# Names with a home elsewhere are read from it when a Tab asks, so loading this module stays cheap.
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1", "iso-8859-15", "mac-roman")
DELIMITERS = ("comma", "semicolon", "tab", "pipe")
MAX_MAPPING_FILE = 16 << 20


def choices(values: Iterable[str] | Callable[[], Iterable[str]]) -> Completer:
    def complete(ctx: click.Context, args: list[str], incomplete: str) -> list[str]:
        return [v for v in (values() if callable(values) else values) if v.startswith(incomplete)]

    return complete


def _regions() -> Iterable[str]:
    from cg_cli.constants import REGIONS

    return REGIONS


def _ci_modes() -> Iterable[str]:
    from cg_cli.output.ci import CI_MODES

    return CI_MODES


def _types() -> Iterable[str]:
    from cg_cli.records.mappings import TYPES

    return TYPES


def _formats() -> Iterable[str]:
    from cg_cli.records.readers import FORMATS

    return FORMATS


def _duplicates() -> Iterable[str]:
    from cg_cli.importing.duplicates import DuplicatePolicy

    return [p.value for p in DuplicatePolicy]


complete_regions = choices(_regions)
complete_outputs = choices(("text", "json"))
complete_ci = choices(_ci_modes)
complete_types = choices(_types)
complete_formats = choices(_formats)
complete_duplicates = choices(_duplicates)
complete_encodings = choices(ENCODINGS)
complete_delimiters = choices(DELIMITERS)
complete_shells = choices(("bash", "zsh", "fish"))


def _given(ctx: click.Context | None, name: str) -> Any:
    """An option already on the command line, in this command or a parent (global options go either side)."""
    while ctx is not None:
        value = ctx.params.get(name)
        if value not in (None, ""):
            return value
        ctx = ctx.parent
    return None


def _settings(ctx: click.Context) -> Any:
    from cg_cli.config.settings import GlobalOptions, load_settings

    env_file = _given(ctx, "env_file")
    options = GlobalOptions(profile=_given(ctx, "profile"), env_file=Path(env_file) if env_file else None)
    mappings_file = _given(ctx, "mappings_file")
    return load_settings(options, mappings_file=str(mappings_file) if mappings_file else None)


def complete_mappings(ctx: click.Context, args: list[str], incomplete: str) -> list[str]:
    """The names in the mapping file the command would read (--mappings-file, CG_MAPPINGS_FILE, ./cg-mappings.toml)."""
    try:
        from cg_cli.constants import DEFAULT_MAPPINGS_FILE
        from cg_cli.records.mappings import parse_mappings

        path = Path(_settings(ctx).mappings_file.value or DEFAULT_MAPPINGS_FILE)
        if not path.is_file() or path.stat().st_size > MAX_MAPPING_FILE:
            return []  # a FIFO would block the Tab; a huge file would stall it
        names = parse_mappings(path.read_text(encoding="utf-8-sig"), path).mappings
    except Exception:
        return []
    return [name for name in names if name.startswith(incomplete)]


def complete_profiles(ctx: click.Context, args: list[str], incomplete: str) -> list[str]:
    """Profiles stored by `cg auth login` in the config dir (CG_CONFIG_DIR, else the platform's)."""
    try:
        from cg_cli.config.profiles import profile_names

        names = profile_names(_settings(ctx).config_dir)
    except Exception:
        return []
    return [name for name in names if name.startswith(incomplete)]

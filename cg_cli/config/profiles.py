"""Profiles stored by `cg auth login`: one private JSON file per profile."""

from __future__ import annotations

import re
from pathlib import Path

from cg_cli.config.storage import CorruptFileError, read_private_json, remove_file, write_private_json
from cg_cli.errors import UsageError

_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PROFILE_KEYS = ("region", "client_id", "client_secret", "auth_url", "api_url")


def profile_path(config_dir: Path, name: str) -> Path:
    if not _PROFILE_NAME.fullmatch(name) or ".." in name:
        raise UsageError(
            f"invalid profile name {name!r}",
            hint="a profile name uses letters, digits, '.', '_' and '-' (at most 64)",
        )
    return config_dir / "profiles" / f"{name}.json"


def profile_names(config_dir: Path) -> list[str]:
    """Every stored profile, by name."""
    folder = config_dir / "profiles"
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if _PROFILE_NAME.fullmatch(p.stem))


def load_profile(config_dir: Path, name: str) -> dict[str, str]:
    path = profile_path(config_dir, name)
    data = read_private_json(path, trusted_root=config_dir) or {}
    for key, value in data.items():
        if key not in PROFILE_KEYS or not isinstance(value, str):
            raise CorruptFileError(path, f"unexpected entry {key!r}")
    return data


def save_profile(config_dir: Path, name: str, data: dict[str, str]) -> Path:
    path = profile_path(config_dir, name)
    try:
        write_private_json(path, {k: v for k, v in data.items() if k in PROFILE_KEYS and v})
    except OSError as exc:
        raise UsageError(
            f"cannot store the profile in {path.parent} ({exc.strerror or exc.__class__.__name__})",
            hint="make the directory writable, or point CG_CONFIG_DIR somewhere writable",
        ) from None
    return path


def forget_credentials(config_dir: Path, name: str) -> bool:
    """Drop the client secret and the stored URLs from a profile; True when there was a secret."""
    path = profile_path(config_dir, name)
    data = load_profile(config_dir, name)
    kept = {k: v for k, v in data.items() if k not in ("client_secret", "auth_url", "api_url")}
    if kept != data:
        if kept:
            write_private_json(path, kept)
        else:
            remove_file(path)
    return "client_secret" in data

"""Settings shared by every command, with where each value came from.

Precedence, highest first (docs/settings.md):
  1. a command-line option
  2. a real environment variable
  3. the .env file (current directory, or --env-file); never overrides 2
  4. the profile stored by `cg auth login`
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from cg_cli import constants as C
from cg_cli.config.profiles import load_profile
from cg_cli.errors import UsageError

SOURCE_OPTION = "option"
SOURCE_ENV = "env"
SOURCE_DOTENV = ".env"
SOURCE_PROFILE = "profile"
SOURCE_DEFAULT = "default"

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


# NamedTuple rather than dataclass for values built at every start: class creation is ~7x cheaper.
class GlobalOptions(NamedTuple):
    """The options every command takes, before or after it: `cg [--profile P] [--region R] ...`."""

    profile: str | None = None
    region: str | None = None
    env_file: Path | None = None
    verbose: bool = False
    quiet: bool = False
    output: str | None = None


class Setting(NamedTuple):
    value: str | None
    source: str | None = None


UNSET = Setting(None)


class HttpOptions(NamedTuple):
    timeout: float = C.DEFAULT_TIMEOUT
    retries: int = C.DEFAULT_RETRIES
    # False for survey mappings: never resend once the request may have arrived.
    resend_after_send: bool = True
    # records import: a 429 (or 503 with Retry-After) goes straight to the caller, which paces the whole run.
    pass_throttling: bool = False


class Credentials(NamedTuple):
    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.client_id!r}, client_secret='***')"


# How specific each rung is: lower wins. A region asked for on a higher rung sets aside URLs remembered lower.
RUNG = {SOURCE_OPTION: 0, SOURCE_ENV: 1, SOURCE_DOTENV: 2, SOURCE_PROFILE: 3}
SECRET_FROM_STDIN = "stdin"
SECRET_FROM_PROMPT = "prompt"


def describe_source(source: str | None) -> str:
    words = {SOURCE_OPTION: "command line", SOURCE_ENV: "environment", SOURCE_DOTENV: ".env file"}
    return words.get(source or "", source or "default")


def default_hosts() -> frozenset[str]:
    """The base URLs of CustomerGauge's own services, every region."""
    return frozenset(t.format(region=r) for t in (C.AUTH_URL_TEMPLATE, C.API_URL_TEMPLATE) for r in C.REGIONS)


@dataclass(frozen=True)
class Settings:
    profile: Setting
    config_dir: Path
    region: Setting
    client_id: Setting
    client_secret: Setting = field(repr=False)
    auth_url: Setting = UNSET
    api_url: Setting = UNSET
    configuration: Setting = UNSET  # CG_CONFIGURATION from the environment or .env; --config is the command's
    mappings_file: Setting = UNSET
    output: Setting = UNSET
    env_file: Path = Path(".env")  # the .env file read (or that would have been)
    profile_found: bool = True  # False: a profile was named (option, CG_PROFILE) that is not stored
    notices: tuple[str, ...] = ()  # URLs set aside by a more specific region, said once on stderr

    @property
    def profile_name(self) -> str:
        return self.profile.value or C.DEFAULT_PROFILE

    @property
    def json_output(self) -> bool:
        return self.output.value == "json"

    def token_url(self) -> str:
        return _require_url(self.auth_url, self) + C.TOKEN_PATH

    def records_url(self) -> str:
        return _require_url(self.api_url, self) + C.RECORDS_PATH

    def credentials(self) -> Credentials:
        client_id, secret = self.client_id.value, self.client_secret.value
        if not client_id or not secret:
            self.check_profile_exists()
            missing = C.ENV_CLIENT_ID if not client_id else C.ENV_CLIENT_SECRET
            raise UsageError(
                f"no credentials: {missing} is not set",
                hint=f"run `cg auth login`, or set {C.ENV_CLIENT_ID} and {C.ENV_CLIENT_SECRET} "
                "in the environment or in .env",
            )
        self.check_secret_may_go(self.client_secret.source)
        return Credentials(client_id, secret)

    def check_profile_exists(self) -> None:
        """A setting is missing: if a profile was named that does not exist, that is why."""
        if self.profile_found:
            return
        from cg_cli.config.profiles import profile_names
        from cg_cli.records.mappings import suggest

        known = profile_names(self.config_dir)
        guess = suggest(self.profile_name, known)
        raise UsageError(
            f"no profile named {self.profile_name!r} (from the {describe_source(self.profile.source)})",
            hint=f"did you mean {guess!r}?"
            if guess
            else f"stored profiles: {', '.join(known) or 'none'}; `cg auth login --profile NAME` creates one",
        )

    def check_secret_may_go(self, secret_source: str | None) -> None:
        """A host named in a .env file receives only credentials from that same file.

        A .env comes with a directory, maybe a freshly cloned repository: it must not
        redirect a stored profile's secret or token, the environment's, or a typed one.
        """
        for variable, setting in ((C.ENV_AUTH_URL, self.auth_url), (C.ENV_API_URL, self.api_url)):
            if setting.source != SOURCE_DOTENV or setting.value in default_hosts() or secret_source == SOURCE_DOTENV:
                continue
            where = {SOURCE_PROFILE: f"profile {self.profile_name}", SOURCE_ENV: "the environment", None: "nowhere"}
            raise UsageError(
                f"{variable} in {self.env_file} points at {urlsplit(setting.value or '').netloc}, but the client "
                f"secret comes from {where.get(secret_source, secret_source)}: refused, a .env "
                "file never receives credentials it did not bring",
                hint=f"put {C.ENV_CLIENT_ID} and {C.ENV_CLIENT_SECRET} for that host in {self.env_file}, "
                f"or set {variable} in the environment if you trust it",
            )

    def custom_hosts(self) -> str | None:
        """The URLs that are not CustomerGauge's own hosts and where they came from; None when there are none."""
        custom: dict[str, dict[str, list[str]]] = {}  # url → source → variables
        for variable, setting in ((C.ENV_AUTH_URL, self.auth_url), (C.ENV_API_URL, self.api_url)):
            if setting.value is not None and setting.value not in default_hosts():
                custom.setdefault(setting.value, {}).setdefault(describe_source(setting.source), []).append(variable)
        if not custom:
            return None
        return "; ".join(
            f"{url} ({', '.join(' and '.join(names) + ' from the ' + source for source, names in sources.items())})"
            for url, sources in custom.items()
        )


def _require_url(setting: Setting, settings: Settings) -> str:
    if setting.value is None:
        settings.check_profile_exists()
        raise UsageError(
            "no region set",
            hint=f"pass --region or set {C.ENV_REGION} ({', '.join(C.REGIONS)}), or run `cg auth login`",
        )
    return setting.value


class _Layers(NamedTuple):
    environ: Mapping[str, str]
    dotenv: Mapping[str, str]
    profile: Mapping[str, str]

    def pick(self, variable: str, option: str | None = None, profile_key: str | None = None) -> Setting:
        # 1. a command-line option
        if option:
            return Setting(option, SOURCE_OPTION)
        # 2. a real environment variable
        if self.environ.get(variable):
            return Setting(self.environ[variable], SOURCE_ENV)
        # 3. the .env file, which never overrides the environment
        if self.dotenv.get(variable):
            return Setting(self.dotenv[variable], SOURCE_DOTENV)
        # 4. the profile stored by `cg auth login`
        if profile_key and self.profile.get(profile_key):
            return Setting(self.profile[profile_key], SOURCE_PROFILE)
        return UNSET


def load_settings(
    options: GlobalOptions,
    *,
    region: str | None = None,
    client_id: str | None = None,
    mappings_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting; options given to the command beat global ones."""
    environ = os.environ if environ is None else environ
    env_file = options.env_file if options.env_file is not None else Path(".env")
    early = _Layers(environ, read_dotenv(options.env_file), {})
    profile = early.pick(C.ENV_PROFILE, options.profile)
    if options.profile is not None and not options.profile:
        raise UsageError("--profile needs a name", hint="for example --profile staging")
    config_dir = Path(early.pick(C.ENV_CONFIG_DIR).value or default_config_dir(environ))
    if config_dir.exists() and not config_dir.is_dir():
        raise UsageError(
            f"the config dir {config_dir} is not a directory",
            hint=f"point {C.ENV_CONFIG_DIR} at a directory (it is created if missing)",
        )
    profile_data = load_profile(config_dir, profile.value or C.DEFAULT_PROFILE)
    layers = _Layers(early.environ, early.dotenv, profile_data)

    region_setting = layers.pick(C.ENV_REGION, region or options.region, "region")
    if region_setting.value is not None:
        if region_setting.value.strip().lower() not in C.REGIONS:
            raise UsageError(
                f"unknown region {region_setting.value!r} (from {region_setting.source})",
                hint=f"the region is one of: {', '.join(C.REGIONS)}",
            )
        region_setting = Setting(region_setting.value.strip().lower(), region_setting.source)
    output_setting = layers.pick(C.ENV_OUTPUT, options.output)
    if output_setting.value is None:
        output_setting = Setting("text", SOURCE_DEFAULT)
    elif output_setting.value not in C.OUTPUT_FORMATS:
        raise UsageError(
            f"unknown output format {output_setting.value!r} (from {output_setting.source})",
            hint="use text or json",
        )
    mappings = layers.pick(C.ENV_MAPPINGS_FILE, mappings_file)
    if mappings.value is None:
        mappings = Setting(C.DEFAULT_MAPPINGS_FILE, SOURCE_DEFAULT)
    notices: list[str] = []
    return Settings(
        profile=profile if profile.value else Setting(C.DEFAULT_PROFILE, SOURCE_DEFAULT),
        config_dir=config_dir,
        region=region_setting,
        client_id=layers.pick(C.ENV_CLIENT_ID, client_id, "client_id"),
        client_secret=layers.pick(C.ENV_CLIENT_SECRET, None, "client_secret"),
        auth_url=_base_url(layers, C.ENV_AUTH_URL, "auth_url", C.AUTH_URL_TEMPLATE, region_setting, notices),
        api_url=_base_url(layers, C.ENV_API_URL, "api_url", C.API_URL_TEMPLATE, region_setting, notices),
        configuration=layers.pick(C.ENV_CONFIGURATION),
        mappings_file=mappings,
        output=output_setting,
        env_file=env_file,
        notices=tuple(notices),
        profile_found=bool(profile_data) or not profile.value,
    )


def _base_url(
    layers: _Layers, variable: str, profile_key: str, template: str, region: Setting, notices: list[str]
) -> Setting:
    """A URL override, unless a region was asked for more specifically; else the region's host."""
    override = layers.pick(variable, None, profile_key)
    if override.value is not None:
        url = checked_base_url(override.value, variable)
        if region.value is None or RUNG[override.source or ""] <= RUNG[region.source or ""]:
            return Setting(url, override.source)
        # `--region us` (or CG_REGION) beats URLs remembered in a profile or a .env: the user asked for us.
        notices.append(
            f"{variable} {url} (from the {describe_source(override.source)}) set aside: region {region.value} "
            f"from the {describe_source(region.source)} uses {template.format(region=region.value)}"
        )
    if region.value is None:
        return UNSET
    return Setting(template.format(region=region.value), region.source)


def checked_base_url(url: str, variable: str) -> str:
    """Refuse URLs that would send secrets in clear text or carry credentials."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        has_credentials = parts.username is not None or parts.password is not None
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise UsageError(f"{variable} is not a valid URL") from None
    if has_credentials:
        raise UsageError(f"{variable} must not contain a user name or password")
    if parts.scheme not in ("https", "http") or not host:
        raise UsageError(f"{variable} must be an https:// URL", hint="for example https://auth.eu.customergauge.com")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise UsageError(
            f"{variable} uses http:// for {host}: refused, secrets never travel in clear text",
            hint="use https://; plain http:// is allowed only for localhost, 127.0.0.1 and ::1",
        )
    return url.rstrip("/")


def read_dotenv(env_file: Path | None) -> dict[str, str]:
    """Variables of --env-file, or of ./.env when it exists."""
    path = env_file if env_file is not None else Path(".env")
    if env_file is None and not path.is_file():
        return {}
    from dotenv.parser import parse_stream

    from cg_cli.records.files import read_text

    text = read_text(path, "env file")

    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            # The line itself is not shown: it may hold a secret.
            raise UsageError(
                f"{path}, line {binding.original.line}: cannot parse this line",
                hint="lines look like NAME=value, optionally quoted",
            )
        if binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    return values


def default_config_dir(environ: Mapping[str, str]) -> Path:
    """The platform's per-user config dir for cg-cli."""
    if sys.platform == "win32":
        base = environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    else:
        base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / C.APP_DIR_NAME

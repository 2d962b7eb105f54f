"""Logging in, token status and logging out; no terminal, no requests import."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

from cg_cli import constants as C
from cg_cli.config.profiles import forget_credentials, save_profile
from cg_cli.config.settings import (
    SOURCE_ENV,
    SOURCE_PROFILE,
    Credentials,
    HttpOptions,
    Settings,
    default_hosts,
    describe_source,
)
from cg_cli.errors import AuthError, CgError, NetworkError, UsageError
from cg_cli.output import log
from cg_cli.service.tokens import Token, TokenCache, TokenProvider


def token_provider(settings: Settings, options: HttpOptions | None = None) -> TokenProvider:
    """The token for these settings: from the cache, or fetched (importing requests) when needed."""
    token_url = settings.token_url()
    credentials = settings.credentials()
    announce_hosts(settings)
    cache = TokenCache(settings.config_dir, token_url, credentials.client_id, credentials.client_secret)
    return TokenProvider(lambda: _fetch(token_url, credentials, options), cache, secrets=(credentials.client_secret,))


def announce_hosts(settings: Settings) -> None:
    """Before the first request, name any host that is not CustomerGauge's own (once per run)."""
    hosts = settings.custom_hosts()
    if hosts:
        log.notice("note: sending to %s, not CustomerGauge's hosts", hosts, once=True)


def _fetch(token_url: str, credentials: Credentials, options: HttpOptions | None) -> Token:
    from cg_cli.service.client import Http, fetch_token

    http = Http(options)
    try:
        return fetch_token(http, token_url, credentials)
    finally:
        http.close()


class LoginResult(NamedTuple):
    profile: str
    client_id: str
    region: str | None
    profile_path: Path
    token: Token
    stored_urls: dict[str, str]  # variable → URL kept in the profile, with where it came from


def login(
    settings: Settings, client_secret: str, secret_source: str, options: HttpOptions | None = None
) -> LoginResult:
    """Verify the credentials by fetching a token; store them only if accepted."""
    client_id = settings.client_id.value
    if not client_id:
        raise UsageError("no client id", hint=f"pass --client-id or set {C.ENV_CLIENT_ID}")
    token_url = settings.token_url()
    settings.check_secret_may_go(secret_source)
    announce_hosts(settings)
    token = _fetch(token_url, Credentials(client_id, client_secret), options)
    profile: dict[str, str] = {"client_id": client_id, "client_secret": client_secret}
    region = settings.region.value
    if region:
        profile["region"] = region
    # URL overrides (a sandbox, a proxy) are kept so the profile works on its own, but only the
    # user's own choice: from the environment, or kept from the profile. Never one a .env brought.
    stored: dict[str, str] = {}
    for key, variable, setting in (
        ("auth_url", C.ENV_AUTH_URL, settings.auth_url),
        ("api_url", C.ENV_API_URL, settings.api_url),
    ):
        if setting.value and setting.source in (SOURCE_ENV, SOURCE_PROFILE) and setting.value not in default_hosts():
            profile[key] = setting.value
            stored[variable] = f"{setting.value} (from the {describe_source(setting.source)})"
    path = save_profile(settings.config_dir, settings.profile_name, profile)
    TokenCache(settings.config_dir, token_url, client_id, client_secret).save(token)
    return LoginResult(settings.profile_name, client_id, region, path, token, stored)


class AuthStatus(NamedTuple):
    settings: Settings
    token: Token | None
    problem: CgError | None

    @property
    def authenticated(self) -> bool:
        return self.token is not None

    def as_json(self) -> dict[str, Any]:
        s = self.settings
        return {
            "profile": s.profile_name,
            "region": s.region.value,
            "client_id": s.client_id.value,
            "source": {
                "profile": s.profile.source,
                "region": s.region.source,
                "client_id": s.client_id.source,
                "client_secret": s.client_secret.source,
                "auth_url": s.auth_url.source,
                "api_url": s.api_url.source,
            },
            "auth_url": s.auth_url.value,
            "api_url": s.api_url.value,
            "authenticated": self.authenticated,
            "token_expires_at": iso_time(self.token.expires_at) if self.token else None,
        }


def status(settings: Settings, options: HttpOptions | None = None) -> AuthStatus:
    """Whether a token can be had: from the cache, else by asking for one.

    The problem, if any, is kept rather than raised, so the settings can be shown with it.
    """
    try:
        provider = token_provider(settings, options)
        provider.get()
    except (AuthError, UsageError, NetworkError) as exc:
        return AuthStatus(settings, None, exc)
    return AuthStatus(settings, provider.token, None)


def logout(settings: Settings) -> tuple[bool, bool]:
    """Forget the profile's secret, its stored URLs and its cached token: (secret, token) forgotten."""
    forgot_token = False
    client_id, secret = settings.client_id.value, settings.client_secret.value
    if client_id and secret and settings.auth_url.value:
        forgot_token = TokenCache(settings.config_dir, settings.token_url(), client_id, secret).clear()
    return forget_credentials(settings.config_dir, settings.profile_name), forgot_token


class StoredProfile(NamedTuple):
    name: str
    region: str | None
    client_id: str | None
    has_secret: bool
    token_expires_at: float | None  # a usable cached token, when there is one
    auth_url: str | None
    api_url: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "region": self.region,
            "client_id": self.client_id,
            "has_secret": self.has_secret,
            "token_valid": self.token_expires_at is not None,
            "token_expires_at": iso_time(self.token_expires_at) if self.token_expires_at else None,
            "auth_url": self.auth_url,
            "api_url": self.api_url,
        }


def stored_profiles(config_dir: Path) -> list[StoredProfile]:
    """Every stored profile and whether its cached token is still good; asks no service."""
    from cg_cli.config.profiles import load_profile, profile_names

    found = []
    for name in profile_names(config_dir):
        data = load_profile(config_dir, name)
        region = data.get("region")
        auth_url = data.get("auth_url") or (C.AUTH_URL_TEMPLATE.format(region=region) if region else None)
        expires = None
        client_id, secret = data.get("client_id"), data.get("client_secret")
        if auth_url and client_id and secret:
            token = TokenCache(config_dir, auth_url + C.TOKEN_PATH, client_id, secret).load()
            expires = token.expires_at if token is not None and token.usable() else None
        found.append(
            StoredProfile(name, region, client_id, bool(secret), expires, data.get("auth_url"), data.get("api_url"))
        )
    return found


def iso_time(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))

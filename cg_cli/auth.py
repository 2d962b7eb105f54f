"""Logging in, token status and logging out; no terminal, no requests import."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

from cg_cli import constants as C
from cg_cli.errors import AuthError, CgError, NetworkError, UsageError
from cg_cli.profiles import forget_secret, save_profile
from cg_cli.settings import Credentials, HttpOptions, Settings
from cg_cli.tokens import Token, TokenCache, TokenProvider


def token_provider(settings: Settings, options: HttpOptions | None = None) -> TokenProvider:
    """The token for these settings: from the cache, or fetched (importing requests) when needed."""
    token_url = settings.token_url()
    credentials = settings.credentials()
    cache = TokenCache(settings.config_dir, token_url, credentials.client_id)
    return TokenProvider(lambda: _fetch(token_url, credentials, options), cache)


def _fetch(token_url: str, credentials: Credentials, options: HttpOptions | None) -> Token:
    from cg_cli.client import Http, fetch_token

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


def login(settings: Settings, client_secret: str, options: HttpOptions | None = None) -> LoginResult:
    """Verify the credentials by fetching a token; store them only if accepted."""
    client_id = settings.client_id.value
    if not client_id:
        raise UsageError("no client id", hint=f"pass --client-id or set {C.ENV_CLIENT_ID}")
    token_url = settings.token_url()
    token = _fetch(token_url, Credentials(client_id, client_secret), options)
    profile: dict[str, str] = {"client_id": client_id, "client_secret": client_secret}
    region = settings.region.value
    if region:
        profile["region"] = region
    # URL overrides (a sandbox, a proxy) are kept so the profile works on its own.
    for key, setting, template in (
        ("auth_url", settings.auth_url, C.AUTH_URL_TEMPLATE),
        ("api_url", settings.api_url, C.API_URL_TEMPLATE),
    ):
        if setting.value and (region is None or setting.value != template.format(region=region)):
            profile[key] = setting.value
    path = save_profile(settings.config_dir, settings.profile_name, profile)
    TokenCache(settings.config_dir, token_url, client_id).save(token)
    return LoginResult(settings.profile_name, client_id, region, path, token)


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
            "problem": self.problem.message if self.problem else None,
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
    """Forget the profile's secret and its cached token: (secret forgotten, token forgotten)."""
    forgot_token = False
    client_id = settings.client_id.value
    if client_id and settings.auth_url.value:
        forgot_token = TokenCache(settings.config_dir, settings.token_url(), client_id).clear()
    return forget_secret(settings.config_dir, settings.profile_name), forgot_token


def iso_time(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))

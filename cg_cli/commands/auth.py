"""cg auth: login, status, token, logout."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cg_cli.commands.common import (
    RetriesOption,
    TimeoutOption,
    http_options,
    new_app,
    settings_for,
)
from cg_cli.constants import DEFAULT_RETRIES, DEFAULT_TIMEOUT, ENV_CLIENT_SECRET
from cg_cli.output import ci, render

app = new_app("Log in with a Connected App's client credentials and manage the access token.")


LOGIN_EXAMPLES = """\b
Examples:
  printf '%s\\n' "$CG_CLIENT_SECRET" \\
    | cg auth login --client-id ID --client-secret-stdin --region eu
  cg auth login --client-id ID --region us      # asks for the secret
  cg auth login --profile staging --region au   # a second account
"""


@app.command(epilog=LOGIN_EXAMPLES)
def login(
    ctx: typer.Context,
    client_id: Annotated[
        str | None, typer.Option("--client-id", help="The Connected App's client id.", metavar="ID")
    ] = None,
    client_secret_stdin: Annotated[
        bool, typer.Option("--client-secret-stdin", help="Read the client secret from stdin (first line).")
    ] = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
) -> None:
    """Verify client credentials and store them in the profile.

    The secret is never an option: pipe it with --client-secret-stdin, set
    CG_CLIENT_SECRET (or put it in .env), or type it at the hidden prompt.
    """
    from cg_cli.errors import UsageError
    from cg_cli.service import auth

    settings = settings_for(ctx, client_id=client_id)
    if not settings.client_id.value:
        if not sys.stdin or not sys.stdin.isatty():
            raise UsageError("no client id", hint="pass --client-id or set CG_CLIENT_ID")
        settings = settings_for(ctx, client_id=typer.prompt("Client id"))
    settings.token_url()  # a missing region fails before the secret is asked for
    secret, source = _client_secret(client_secret_stdin, settings.client_secret.value, settings.client_secret.source)
    result = auth.login(settings, secret, source, http_options(timeout, retries))
    if settings.json_output:
        render.json_out(
            {
                "ok": True,
                "profile": result.profile,
                "client_id": result.client_id,
                "region": result.region,
                "token_expires_at": auth.iso_time(result.token.expires_at),
                "stored_urls": result.stored_urls,
            }
        )
    render.note(
        f"Logged in as {result.client_id} (profile {result.profile}"
        f"{', region ' + result.region if result.region else ''}); "
        f"token valid until {auth.iso_time(result.token.expires_at)}."
    )
    for variable, url in result.stored_urls.items():
        render.note(f"Stored {variable}={url} in the profile.")


def _client_secret(from_stdin: bool, configured: str | None, source: str | None) -> tuple[str, str]:
    """The secret to verify, and where it came from."""
    from cg_cli.config.settings import SECRET_FROM_PROMPT, SECRET_FROM_STDIN
    from cg_cli.errors import UsageError

    # Only a secret from stdin, the environment or .env: a stored one is what we replace.
    if from_stdin:
        secret = sys.stdin.readline().rstrip("\r\n") if sys.stdin else ""
        if not secret:
            raise UsageError("--client-secret-stdin: stdin held no secret")
        return secret, SECRET_FROM_STDIN
    if configured and source in ("env", ".env"):
        return configured, source
    if sys.stdin and sys.stdin.isatty():
        secret = str(typer.prompt("Client secret", hide_input=True)).strip()
        if secret:
            return secret, SECRET_FROM_PROMPT
    raise UsageError(
        "no client secret given, and no terminal to ask for one",
        hint=f"pipe it: printf '%s\\n' \"${ENV_CLIENT_SECRET}\" | cg auth login --client-secret-stdin, "
        f"or set {ENV_CLIENT_SECRET}",
    )


@app.command(
    epilog="""\b
Examples:
  cg auth status                 # each setting with where it came from
  cg --profile staging auth status -o json
"""
)
def status(
    ctx: typer.Context,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
) -> None:
    """Show the profile, region, client id, where each came from, and the token.

    Exits 0 when a token can be had, 3 when not, 5 when the token service
    cannot be reached.
    """
    from cg_cli.errors import AuthError, NetworkError
    from cg_cli.service import auth

    settings = settings_for(ctx)
    result = auth.status(settings, http_options(timeout, retries))
    data = result.as_json()
    if not settings.json_output:
        rows = [
            ("profile", data["profile"], data["source"]["profile"]),
            ("region", data["region"], data["source"]["region"]),
            ("client id", data["client_id"], data["source"]["client_id"]),
            ("client secret", "set" if settings.client_secret.value else None, data["source"]["client_secret"]),
            ("token service", data["auth_url"], data["source"]["auth_url"]),
            ("records service", data["api_url"], data["source"]["api_url"]),
            ("token", f"valid until {data['token_expires_at']}" if result.token else "none", None),
        ]
        render.table(None, ("Setting", "Value", "Source"), [(k, v or "(not set)", s or "") for k, v, s in rows])
    if isinstance(result.problem, NetworkError):
        raise result.problem.with_details(**data)  # the service could not be asked: exit 5, no verdict
    if result.problem is not None:
        raise AuthError(f"not authenticated: {result.problem.message}", hint=result.problem.hint).with_details(**data)
    if settings.json_output:
        render.json_out({"ok": True, **data})


@app.command(
    epilog="""\b
Examples:
  curl -H "Authorization: Bearer $(cg auth token)" https://…
  TOKEN=$(cg --profile staging auth token)
"""
)
def token(
    ctx: typer.Context,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
) -> None:
    """Print a valid access token on stdout, and nothing else.

    curl -H "Authorization: Bearer $(cg auth token)" …
    """
    from cg_cli.service import auth

    settings = settings_for(ctx)
    provider = auth.token_provider(settings, http_options(timeout, retries))
    access_token = provider.get()
    if ci.github_enabled(None):
        # Hide the token in the rest of the job's log; on stderr, so `$(cg auth token)` captures only the token.
        render.command(ci.mask(access_token))
    if settings.json_output:
        expires = provider.token.expires_at if provider.token else None
        render.json_out({"ok": True, "access_token": access_token, "expires_at": expires and auth.iso_time(expires)})
    else:
        render.out(access_token)


@app.command(
    epilog="""\b
Examples:
  cg auth logout
  cg auth logout --profile staging
"""
)
def logout(ctx: typer.Context) -> None:
    """Forget the profile's client secret, the URLs it stored, and its cached token."""
    from cg_cli.service import auth

    settings = settings_for(ctx)
    forgot_secret, forgot_token = auth.logout(settings)
    if settings.json_output:
        render.json_out(
            {"ok": True, "profile": settings.profile_name, "forgot_secret": forgot_secret, "forgot_token": forgot_token}
        )
    if forgot_secret or forgot_token:
        render.note(f"Logged out of profile {settings.profile_name}.")
    else:
        render.note(f"Profile {settings.profile_name} held no secret or token; nothing to forget.")


@app.command(
    "list",
    epilog="""\b
Examples:
  cg auth list                   # * marks the profile in use
  cg auth list -o json
""",
)
def list_profiles(ctx: typer.Context) -> None:
    """Every stored profile: region, client id, and whether its cached token is valid."""
    from cg_cli.service import auth

    settings = settings_for(ctx)
    profiles = auth.stored_profiles(settings.config_dir)
    if settings.json_output:
        render.json_out({"ok": True, "profiles": [p.as_json() for p in profiles]})
        return
    if not profiles:
        render.note("No stored profiles; `cg auth login` creates one.")
        return
    rows = []
    for profile in profiles:
        data = profile.as_json()
        token = f"valid until {data['token_expires_at']}" if profile.token_expires_at else "none"
        current = "*" if profile.name == settings.profile_name else ""
        rows.append((current, profile.name, profile.region or "", profile.client_id or "", token))
    render.table(None, ("", "Profile", "Region", "Client id", "Token"), rows)

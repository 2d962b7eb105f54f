"""cg auth: login, status, token, logout."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cg_cli import render
from cg_cli.commands.common import (
    OutputOption,
    RetriesOption,
    TimeoutOption,
    http_options,
    new_app,
    settings_for,
)
from cg_cli.constants import DEFAULT_RETRIES, DEFAULT_TIMEOUT, ENV_CLIENT_SECRET

app = new_app("Log in with a Connected App's client credentials and manage the access token.")


@app.command()
def login(
    ctx: typer.Context,
    client_id: Annotated[str | None, typer.Option("--client-id", help="The Connected App's client id.")] = None,
    client_secret_stdin: Annotated[
        bool, typer.Option("--client-secret-stdin", help="Read the client secret from stdin (first line).")
    ] = False,
    region: Annotated[str | None, typer.Option("--region", help="eu, us or au.")] = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
) -> None:
    """Verify client credentials and store them in the profile.

    The secret is never an option: pipe it with --client-secret-stdin, set
    CG_CLIENT_SECRET (or put it in .env), or type it at the hidden prompt.

      printf '%s\\n' "$CG_SECRET" | cg auth login --client-id ID --client-secret-stdin --region eu
    """
    from cg_cli import auth
    from cg_cli.errors import UsageError

    settings = settings_for(ctx, client_id=client_id, region=region)
    if not settings.client_id.value:
        if not sys.stdin.isatty():
            raise UsageError("no client id", hint="pass --client-id or set CG_CLIENT_ID")
        settings = settings_for(ctx, client_id=typer.prompt("Client id"), region=region)
    settings.token_url()  # a missing region fails before the secret is asked for
    secret = _client_secret(client_secret_stdin, settings.client_secret.value, settings.client_secret.source)
    result = auth.login(settings, secret, http_options(timeout, retries))
    render.err(
        f"Logged in as {render.safe(result.client_id)} (profile {result.profile}"
        f"{', region ' + result.region if result.region else ''}); "
        f"token valid until {auth.iso_time(result.token.expires_at)}."
    )


def _client_secret(from_stdin: bool, configured: str | None, source: str | None) -> str:
    from cg_cli.errors import UsageError

    # Only a secret from stdin, the environment or .env: a stored one is what we replace.
    if from_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
        if not secret:
            raise UsageError("--client-secret-stdin: stdin held no secret")
        return secret
    if configured and source in ("env", ".env"):
        return configured
    if sys.stdin.isatty():
        secret = str(typer.prompt("Client secret", hide_input=True)).strip()
        if secret:
            return secret
    raise UsageError(
        "no client secret given, and no terminal to ask for one",
        hint=f"pipe it: printf '%s\\n' \"$SECRET\" | cg auth login --client-secret-stdin, or set {ENV_CLIENT_SECRET}",
    )


@app.command()
def status(
    ctx: typer.Context,
    output: OutputOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
) -> None:
    """Show the profile, region, client id, where each came from, and the token.

    Exits 0 when a token can be had, 3 when not.
    """
    from cg_cli import auth
    from cg_cli.errors import AuthError, NetworkError

    settings = settings_for(ctx, output=output)
    result = auth.status(settings, http_options(timeout, retries))
    if settings.json_output:
        render.json_out(result.as_json())
    else:
        data = result.as_json()
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
        raise result.problem  # the token service could not be asked: exit 5, not a verdict on credentials
    if result.problem is not None:
        raise AuthError(f"not authenticated: {result.problem.message}", hint=result.problem.hint)


@app.command()
def token(
    ctx: typer.Context,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
) -> None:
    """Print a valid access token on stdout, and nothing else.

    curl -H "Authorization: Bearer $(cg auth token)" …
    """
    from cg_cli import auth

    settings = settings_for(ctx)
    provider = auth.token_provider(settings, http_options(timeout, retries))
    render.out(provider.get())


@app.command()
def logout(ctx: typer.Context) -> None:
    """Forget the profile's client secret and its cached token."""
    from cg_cli import auth

    settings = settings_for(ctx)
    forgot_secret, forgot_token = auth.logout(settings)
    if forgot_secret or forgot_token:
        render.err(f"Logged out of profile {settings.profile_name}.")
    else:
        render.err(f"Profile {settings.profile_name} held no secret or token; nothing to forget.")

"""cg sandbox: a local stand-in for the token service and the PUT Records API."""

from __future__ import annotations

import errno
import math
from pathlib import Path
from typing import Annotated

import typer

from cg_cli.commands.common import new_app, settings_for
from cg_cli.output import render

app = new_app("Run a local stand-in for both APIs.")


SANDBOX_EXAMPLES = """\b
Examples:
  cg sandbox                      # then paste the export lines it prints
  cg sandbox --port 0 --mappings-file cg-mappings.toml
  cg sandbox --write-mappings cg-mappings.toml   # then --mapping accounts
  cg sandbox --token-ttl 5 --latency 0.05   # short tokens, a slow service
  cg sandbox --latency 0.1 --max-concurrent 6   # 429 beyond 6 at once
  cg sandbox --rate-limit 50 --chaos 0.05   # 429 beyond 50/s, 5 % faults
\b
Change a limit while it runs (null lifts it):
  curl -X POST $CG_API_URL/_sandbox/limits -d '{"rate_limit": 25}'
"""


@app.command(epilog=SANDBOX_EXAMPLES)
def sandbox(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Loopback address to listen on.", metavar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.", min=0, max=65535, metavar="PORT")] = 8765,
    client: Annotated[
        str | None,
        typer.Option("--client", help="Accepted credentials (default: demo ones).", metavar="ID:SECRET"),
    ] = None,
    mappings_file: Annotated[
        Path | None,
        typer.Option("--mappings-file", help="Serve exactly the configurations of this file.", metavar="PATH"),
    ] = None,
    token_ttl: Annotated[
        float, typer.Option("--token-ttl", help="Seconds a token lives.", min=0.1, metavar="SECONDS")
    ] = 3600.0,
    latency: Annotated[
        float, typer.Option("--latency", help="Seconds added to every PUT.", min=0.0, metavar="SECONDS")
    ] = 0.0,
    rate_limit: Annotated[
        float | None,
        typer.Option("--rate-limit", help="429 (Retry-After: 1) beyond N PUTs per second.", min=0.01, metavar="N"),
    ] = None,
    max_concurrent: Annotated[
        int | None,
        typer.Option("--max-concurrent", help="429 (Retry-After: 1) beyond N PUTs at once.", min=1, metavar="N"),
    ] = None,
    capacity: Annotated[
        int | None,
        typer.Option("--capacity", help="Work on N PUTs at once; the rest wait (latency grows).", min=1, metavar="N"),
    ] = None,
    chaos: Annotated[
        float,
        typer.Option("--chaos", help="Share of PUTs answered 500, 502, 503 or a dropped connection.", metavar="P"),
    ] = 0.0,
    log_requests: Annotated[bool, typer.Option("--log", help="Log every request on stderr.")] = False,
    write_mappings: Annotated[
        Path | None,
        typer.Option(
            "--write-mappings",
            help="Add the sandbox's mappings to this mapping file (names already there are kept), then serve.",
            metavar="PATH",
        ),
    ] = None,
) -> None:
    """Run a local stand-in for both APIs, for trying scripts offline.

    It answers as CustomerGauge documents (tokens that expire, 401, 422 with
    field errors, unknown fields dropped silently). GET /_sandbox/records shows
    what it accepted; POST /_sandbox/faults queues faults; POST /_sandbox/limits
    changes the limits while it runs. Ctrl-C stops it.
    """
    from cg_cli.config.settings import LOOPBACK_HOSTS
    from cg_cli.errors import UsageError
    from cg_cli.records.mappings import check_mapping, load_mappings
    from cg_cli.sandbox.limits import LIMIT_KEYS
    from cg_cli.sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_MAPPINGS, Sandbox

    if host not in LOOPBACK_HOSTS:
        raise UsageError(f"the sandbox listens on loopback only, not {host}", hint="use 127.0.0.1")
    for option, value in (("--token-ttl", token_ttl), ("--latency", latency)):
        if not math.isfinite(value) or value > 86_400:
            raise UsageError(f"{option} must be a number of seconds up to 86400, not {value}")
    if not (math.isfinite(chaos) and 0 <= chaos <= 1):
        raise UsageError(f"--chaos must be a share from 0 to 1 (0.05 is 5 %), not {chaos}")
    if rate_limit is not None and not math.isfinite(rate_limit):
        raise UsageError(f"--rate-limit must be a number of requests per second, not {rate_limit}")
    client_id, client_secret = DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    if client is not None:
        client_id, sep, client_secret = client.partition(":")
        if not sep or not client_id or not client_secret:
            raise UsageError("--client must look like ID:SECRET")
    mappings = list(load_mappings(mappings_file).mappings.values()) if mappings_file else list(DEFAULT_MAPPINGS)
    for mapping in mappings:
        problems = [p for p in check_mapping(mapping) if "required" in p.problem]
        if problems:  # CustomerGauge would not let such a mapping be saved
            raise UsageError(f"mapping {mapping.name!r}: {problems[0].field} is {problems[0].problem}")
    if write_mappings is not None:
        from cg_cli.config.mapping_init import add_missing

        added, kept = add_missing(write_mappings, mappings)
        kept_note = f"; already there, kept as they are: {', '.join(kept)}" if kept else ""
        render.note(f"wrote {', '.join(added) or 'no mapping'} to {write_mappings}{kept_note}")
    try:
        server = Sandbox(
            host,
            port,
            client_id=client_id,
            client_secret=client_secret,
            mappings=mappings,
            token_ttl=token_ttl,
            latency=latency,
            rate_limit=rate_limit,
            max_concurrent=max_concurrent,
            capacity=capacity,
            chaos=chaos,
            log_requests=log_requests,
        )
    except OSError as exc:
        busy = "; another program (or sandbox) uses it" if exc.errno == errno.EADDRINUSE else ""
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror}{busy}",
            hint="pass --port 0 to pick a free port (the export lines it prints name it)",
        ) from None
    if settings_for(ctx).json_output:
        document = {"ok": True, "url": server.url, "auth_url": server.url, "api_url": server.url}
        render.json_out(
            {**document, "client_id": client_id, "client_secret": client_secret if client is None else None}
        )
    else:
        render.out(f"export CG_AUTH_URL={server.url} CG_API_URL={server.url}")
        render.out(f"export CG_CLIENT_ID={client_id}")
        if client is None:
            render.out(f"export CG_CLIENT_SECRET={client_secret}   # demo credentials")
    source = f"from {mappings_file}" if mappings_file else "(built in; --mappings-file serves your own)"
    render.note(f"cg sandbox listening on {server.url}; configurations {source}:")
    for m in mappings:
        render.note(f"  {m.name}: reference {m.reference} ({m.type}; {', '.join(m.fields)})")
    limits = server.state.limits.as_json()
    shown = [f"{key.replace('_', '-')} {limits[key]:g}" for key in LIMIT_KEYS if limits[key]]
    if shown:
        render.note(f"limits: {', '.join(shown)} (POST /_sandbox/limits changes them)")
    render.note("Accepted records: GET /_sandbox/records. Ctrl-C stops.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        render.note("sandbox stopped")
    finally:
        server.stop_listening()

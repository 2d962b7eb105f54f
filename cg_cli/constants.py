"""Names users script against: environment variables, regions, defaults."""

from __future__ import annotations

ENV_CLIENT_ID = "CG_CLIENT_ID"
ENV_CLIENT_SECRET = "CG_CLIENT_SECRET"
ENV_REGION = "CG_REGION"
ENV_PROFILE = "CG_PROFILE"
ENV_CONFIG_DIR = "CG_CONFIG_DIR"
ENV_AUTH_URL = "CG_AUTH_URL"
ENV_API_URL = "CG_API_URL"
ENV_CONFIGURATION = "CG_CONFIGURATION"
ENV_MAPPINGS_FILE = "CG_MAPPINGS_FILE"
ENV_OUTPUT = "CG_OUTPUT"
ENV_DEBUG = "CG_DEBUG"
COMPLETE_VARIABLE = "_CG_COMPLETE"  # set by the completion scripts (never by users): what the shell asks

ENVIRONMENT_HELP = {
    ENV_CLIENT_ID: "OAuth2 client id of the Connected App",
    ENV_CLIENT_SECRET: "OAuth2 client secret (never pass it as an option)",
    ENV_REGION: "eu, us or au",
    ENV_PROFILE: "profile name (default: default)",
    ENV_CONFIG_DIR: "where profiles and the token cache live",
    ENV_AUTH_URL: "token service base URL (default: the region's)",
    ENV_API_URL: "imports service base URL (default: the region's)",
    ENV_CONFIGURATION: "default configuration reference for records put/import",
    ENV_MAPPINGS_FILE: "mapping file (default ./cg-mappings.toml)",
    ENV_OUTPUT: "text or json: the default for --output",
    ENV_DEBUG: "1 shows tracebacks of internal errors",
    "NO_COLOR": "any value turns colour off",
}

REGIONS = ("eu", "us", "au")
DEFAULT_PROFILE = "default"
DEFAULT_MAPPINGS_FILE = "cg-mappings.toml"
APP_DIR_NAME = "cg-cli"
AUTH_URL_TEMPLATE = "https://auth.{region}.customergauge.com"
API_URL_TEMPLATE = "https://imports.api.{region}.customergauge.com"
TOKEN_PATH = "/oauth2/token"
RECORDS_PATH = "/records/"
OUTPUT_FORMATS = ("text", "json")

# A cached token is used until this many seconds before it expires.
TOKEN_EXPIRY_MARGIN = 60.0
DEFAULT_TIMEOUT = 30.0
API_BODY_LIMIT = 2_000_000  # bytes: CustomerGauge documents a 2 MB limit for API data
DEFAULT_RETRIES = 4

"""How ``caixa-server`` is configured: the environment, or one TOML file, nothing else.

Settings (environment variable / key in the ``--config`` file's ``[server]`` table):

- ``CAIXA_DATABASE_URL`` / ``database_url``: the server's own Postgres role, one that owns nothing
  (``postgresql://caixa_app:...@host/caixa``); row-level security applies to it.
- ``CAIXA_DATABASE_OWNER_URL`` / ``database_owner_url``: the schema owner, used only by
  ``caixa-server db upgrade`` (which then grants the server role its data access).
- ``CAIXA_SECRET_KEY`` / ``secret_key``: 32 random bytes, URL-safe base64 (``caixa-server keygen``);
  it seals the providers' credentials in the database. Losing it means adding the numbers again.
- ``CAIXA_LISTEN`` / ``listen``: ``HOST:PORT`` to serve on (default ``127.0.0.1:8788``).
- ``CAIXA_PUBLIC_URL`` / ``public_url``: the address providers and desktops reach the server at
  (``https://caixa.example.com``); webhooks are registered under it.
- ``CAIXA_TLS_CERT`` and ``CAIXA_TLS_KEY`` / ``tls_cert``, ``tls_key``: serve HTTPS directly;
  otherwise put a reverse proxy in front (README: Caddy), and keep ``listen`` on loopback.
- ``CAIXA_TOKEN_DAYS`` / ``token_days``: how long a login lasts (default 30).

The environment wins over the file. The file holds secrets: keep it ``chmod 600``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from sync.providers.accounts import Secret

DEFAULT_LISTEN: Final = "127.0.0.1:8788"

_KEYS: Final = {
    "database_url": "CAIXA_DATABASE_URL",
    "database_owner_url": "CAIXA_DATABASE_OWNER_URL",
    "secret_key": "CAIXA_SECRET_KEY",
    "listen": "CAIXA_LISTEN",
    "public_url": "CAIXA_PUBLIC_URL",
    "tls_cert": "CAIXA_TLS_CERT",
    "tls_key": "CAIXA_TLS_KEY",
    "token_days": "CAIXA_TOKEN_DAYS",
}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class ServerConfig:
    """The server's settings; the URLs (passwords inside) and the key are ``Secret``s."""

    database_url: Secret = field(default_factory=lambda: Secret(""))
    database_owner_url: Secret = field(default_factory=lambda: Secret(""))
    secret_key: Secret = field(default_factory=lambda: Secret(""))
    listen: str = DEFAULT_LISTEN
    public_url: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    token_ttl: timedelta = timedelta(days=30)

    def require(self, *names: str) -> None:
        """Raise ``ConfigError`` naming the first of ``names`` that is not set."""
        for name in names:
            if not getattr(self, name):
                raise ConfigError(f"{_KEYS[name]} is not set (or `{name}` in the config file)")


def load_config(
    path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None
) -> ServerConfig:
    """Read the config file (if any), then let the environment override it."""
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from None
        table = data.get("server", data)
        if not isinstance(table, dict):
            raise ConfigError("the config file's [server] must be a table")
        unknown = sorted(set(table) - set(_KEYS))
        if unknown:
            raise ConfigError(f"unknown setting(s) in {path}: {', '.join(unknown)}")
        values.update(table)
    for key, variable in _KEYS.items():
        if env.get(variable):
            values[key] = env[variable]
    try:
        days = float(values.get("token_days", 30))
    except (TypeError, ValueError):
        raise ConfigError("token_days must be a number of days") from None
    if not 0 < days <= 366:
        raise ConfigError("token_days must be between 0 and 366")
    tls = (str(values.get("tls_cert", "")), str(values.get("tls_key", "")))
    if bool(tls[0]) != bool(tls[1]):
        raise ConfigError("set both CAIXA_TLS_CERT and CAIXA_TLS_KEY, or neither")
    return ServerConfig(
        database_url=Secret(str(values.get("database_url", ""))),
        database_owner_url=Secret(str(values.get("database_owner_url", ""))),
        secret_key=Secret(str(values.get("secret_key", ""))),
        listen=str(values.get("listen") or DEFAULT_LISTEN),
        public_url=str(values.get("public_url", "")).rstrip("/"),
        tls_cert=tls[0],
        tls_key=tls[1],
        token_ttl=timedelta(days=days),
    )

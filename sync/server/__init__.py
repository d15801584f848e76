"""Where providers and desktops reach Caixa over HTTP.

The webhook receiver (one ASGI app, used by ``caixa receive``, the desktop's listener and the team
server), and the team backend ``caixa-server``: its sync API, logins, pokes, outbox dispatcher,
Postgres ingest and migrations, and command line.
"""

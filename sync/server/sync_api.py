"""The sync API desktops talk to: login, pull, push, and live pokes (mounted under ``/api/v1``).

Pull (``GET /pull?after=<xid>:<seq>&limit=N&protocol=1``) hands out the rows of the synced tables
whose change stamp ``(xid, seq)`` is after the client's cursor, merged across tables in stamp
order, at most N, and only rows older than ``pg_snapshot_xmin(pg_current_snapshot())``: a
transaction that took its xid early and commits late holds the fence back until it ends, so its
rows are handed out after it commits instead of being skipped. The client stores each page with
the cursor that ends it in one local transaction.

Tenancy is enforced twice: every query names the workspace and the numbers the user may see, and
runs inside ``db.agent(principal)``, under row-level security. A cursor is two integers and
nothing else; anything else is a 400, never a query.

The JSON of a page is built by Postgres (``json_build_array`` per row, ``json_agg`` per table)
and passed through as text: the server does no per-row Python work, which keeps a 1M-message
initial sync bound by the client's disk rather than by this process.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import Connection, text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync.server import auth
from sync.server.auth import VISIBLE_SQL, AuthError, Principal, visible_accounts
from sync.store.team.database import ServerDatabase

log = logging.getLogger(__name__)

PROTOCOL: Final = 1
DEFAULT_LIMIT: Final = 5_000
MAX_LIMIT: Final = 20_000
_MAX_INT8: Final = (1 << 63) - 1
_CURSOR = re.compile(r"^(\d{1,19}):(\d{1,19})$")


class BadRequest(ValueError):
    """A malformed request (cursor, limit, body): answered with 400 and this message."""


class ResyncRequired(Exception):
    """The client must start over: its protocol is unsupported or its cursor too old."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in the change stream: the last ``(xid, seq)`` a client has stored."""

    xid: int = 0
    seq: int = 0

    @classmethod
    def parse(cls, value: str | None) -> Cursor:
        """``"<xid>:<seq>"`` (both non-negative integers below 2**63); raises ``BadRequest``."""
        if value is None or value == "":
            return cls()
        match = _CURSOR.match(value)
        if match is None:
            raise BadRequest("malformed cursor")
        xid, seq = int(match[1]), int(match[2])
        if xid > _MAX_INT8 or seq > _MAX_INT8:
            raise BadRequest("malformed cursor")
        return cls(xid, seq)

    def __str__(self) -> str:
        return f"{self.xid:d}:{self.seq:d}"


# Column lists of each synced table, as the client stores them (sync/client/pull.py reads them
# in this order). ``deleted`` is last: the client skips or removes tombstones (messages: below).
COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "accounts": (
        "id",
        "name",
        "provider",
        "phone",
        "display_name",
        "state",
        "state_reason",
        "sort_order",
        "(extract(epoch FROM created_at) * 1000)::bigint",
        "automations::text",
        "deleted",
    ),
    "teammates": ("id", "username", "display_name", "role", "disabled"),
    "conversations": (
        "id",
        "account_id",
        "chat_key",
        "customer_phone",
        "customer_name",
        "is_group::int",
        "last_message_at",
        "last_preview",
        "last_direction",
        "last_status",
        "last_inbound_at",
        "unread_count",
        "assigned_user_id",
        "array_to_json(labels)::text",
        "version",
        "deleted",
    ),
    # Live messages only (tombstones go to "messages_deleted" as [id]), and no JSON null: the
    # client's SQLite driver binds None through a slow adaptation path, a third of the cost of
    # storing a message; '' and 0 are turned back into NULL by NULLIF on the way in.
    "messages": (
        "id",
        "account_id",
        "conversation_id",
        "coalesce(provider_message_id, '')",
        "direction",
        "ts",
        "type",
        "body",
        "sender_name",
        "coalesce(reply_to, '')",
        "coalesce(media::text, '')",
        "status",
        "coalesce(error, '')",
        "coalesce(author_user_id, 0)",
        "coalesce(edited_at, 0)",
        "coalesce(revoked_at, 0)",
    ),
    "reactions": ("account_id", "target_id", "sender", "emoji", "ts", "deleted"),
    "notes": ("id", "account_id", "conversation_id", "author_user_id", "body", "ts", "deleted"),
}
_SOURCE: Final = {"teammates": "users"}
# Apply order on the client: parents before children within one page.
TABLES: Final = ("accounts", "teammates", "conversations", "messages", "reactions", "notes")


@dataclass
class PullPage:
    """One page of changes: JSON array text per table, the cursor after it, and what else."""

    rows: dict[str, str] = field(default_factory=dict)  # table -> JSON array of row arrays
    count: int = 0
    cursor: Cursor = field(default_factory=Cursor)
    more: bool = False
    accounts: list[int] = field(default_factory=list)  # the numbers the user may see now
    held: bool = False  # rows exist behind the fence: pull again shortly
    remaining: int | None = None

    def to_json(self) -> bytes:
        """The response body; the row arrays are Postgres's JSON text, passed through."""
        head = {
            "protocol": PROTOCOL,
            "cursor": str(self.cursor),
            "more": self.more,
            "held": self.held,
            "count": self.count,
            "accounts": self.accounts,
        }
        if self.remaining is not None:
            head["remaining"] = self.remaining
        parts = [json.dumps(head)[:-1], ', "rows": {']
        parts.append(", ".join(f'"{table}": {body}' for table, body in self.rows.items()))
        parts.append("}}")
        return "".join(parts).encode()


def resync_before(conn: Connection) -> int:
    """The oldest xid a cursor may name (0: no limit); see migration 0002."""
    value = conn.execute(
        text("SELECT value FROM sync_settings WHERE key = 'resync_before'")
    ).scalar_one_or_none()
    return int(value) if value else 0


def _branch(table: str, *, account_filter: bool) -> str:
    source = _SOURCE.get(table, table)
    row = ", ".join(COLUMNS[table])
    where = [
        "workspace_id = :ws",
        # Implied by the next line, but estimated far better: the planner reads a row
        # comparison as a small range, and for a cursor inside a big transaction (a bulk load)
        # it then sorted every row after the cursor instead of walking the index (0.6 s a page).
        "xid >= CAST(:after_xid AS xid8)",
        "(xid, seq) > (CAST(:after_xid AS xid8), :after_seq)",
        "xid < (SELECT fence FROM fence)",
        "(xid, seq) <= (CAST(:until_xid AS xid8), :until_seq)",
    ]
    if account_filter:
        account = "id" if table == "accounts" else "account_id"
        where.append(f"{account} = ANY(:accounts)")
    kind, values = f"'{table}'", f"json_build_array({row})"
    if table == "messages":
        kind = "CASE WHEN deleted THEN 'messages_deleted' ELSE 'messages' END"
        values = f"CASE WHEN deleted THEN json_build_array(id) ELSE {values} END"
    return (
        f"(SELECT xid, seq, {kind} AS t, {values} AS r FROM {source}"
        f" WHERE {' AND '.join(where)} ORDER BY xid, seq LIMIT :limit)"
    )


def _pull_sql(tables: tuple[str, ...]) -> str:
    """One statement for a whole page: its rows per table, then count, last stamp and held.

    ``held``: rows exist behind the fence (asked only when the page may be the last one).
    ``work_mem`` is left alone: raised, it let the planner trade the index scan after the
    cursor for a sort of the whole table (a live pull on 1M messages took 150-300 ms).
    """
    branches = "\nUNION ALL\n".join(_branch(t, account_filter=t != "teammates") for t in tables)
    held = " OR ".join(
        f"EXISTS (SELECT 1 FROM {_SOURCE.get(t, t)} WHERE workspace_id = :ws"
        # The fence's own expression (the same snapshot, in one statement): with the CTE's
        # value instead, the planner cannot see it is recent and scans the whole table.
        " AND xid >= pg_snapshot_xmin(pg_current_snapshot()))"
        for t in tables
    )
    return f"""
    WITH fence AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS fence),
    page AS MATERIALIZED (
        SELECT * FROM ({branches}) u ORDER BY xid, seq LIMIT :limit
    )
    SELECT t, json_agg(r ORDER BY xid, seq)::text, count(*), NULL, NULL
    FROM page GROUP BY t
    UNION ALL
    SELECT '', NULL, count(*), (SELECT xid::text || ':' || seq::text FROM page
                                ORDER BY xid DESC, seq DESC LIMIT 1),
           CASE WHEN count(*) < :limit AND CAST(:check_held AS boolean) THEN {held} END
    FROM page
    """


_PULL_SQL: Final = _pull_sql(TABLES)
_BACKFILL_SQL: Final = _pull_sql(tuple(t for t in TABLES if t != "teammates"))


def _remaining(conn: Connection, ws: int, after: Cursor, accounts: list[int]) -> int:
    total = 0
    for table in TABLES:
        source = _SOURCE.get(table, table)
        account = "id" if table == "accounts" else "account_id"
        clause = "" if table == "teammates" else f" AND {account} = ANY(:accounts)"
        total += conn.execute(
            text(
                f"SELECT count(*) FROM {source} WHERE workspace_id = :ws"
                f" AND (xid, seq) > (CAST(:x AS xid8), :s){clause}"
            ),
            {"ws": ws, "x": str(after.xid), "s": after.seq, "accounts": accounts},
        ).scalar_one()
    return int(total)


def pull(
    db: ServerDatabase,
    principal: Principal,
    after: Cursor,
    limit: int = DEFAULT_LIMIT,
    *,
    account: int | None = None,
    until: Cursor | None = None,
    count_remaining: bool = False,
) -> PullPage:
    """One page of the changes ``principal`` may see after ``after`` (at most ``limit`` rows).

    ``account`` with ``until``: a backfill of one number up to the client's main cursor, for a
    number the user was just given (its older rows are behind that cursor).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    with db.agent(principal) as conn:
        return pull_in(
            conn,
            principal,
            after,
            limit,
            account=account,
            until=until,
            count_remaining=count_remaining,
        )


def pull_in(
    conn: Connection,
    principal: Principal,
    after: Cursor,
    limit: int = DEFAULT_LIMIT,
    *,
    account: int | None = None,
    until: Cursor | None = None,
    count_remaining: bool = False,
) -> PullPage:
    """``pull`` inside the caller's agent transaction (``conn`` is scoped to ``principal``)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    # The horizon and the visible numbers in one round trip.
    horizon_text, accounts_array = conn.execute(
        text(
            "SELECT (SELECT value FROM sync_settings WHERE key = 'resync_before'),"
            f" ARRAY({VISIBLE_SQL[principal.is_supervisor]})"
        ),
        {"ws": principal.workspace_id, "u": principal.user_id},
    ).one()
    horizon = int(horizon_text) if horizon_text else 0
    if horizon and after != Cursor() and after.xid < horizon:
        raise ResyncRequired("cursor")
    accounts = [int(a) for a in accounts_array]
    scope = accounts
    if account is not None:
        # A number the user may not see yields an empty page, not an error that would
        # confirm it exists.
        scope = [account] if account in accounts else []
    end = until if until is not None else Cursor(_MAX_INT8, _MAX_INT8)
    params: dict[str, Any] = {
        "ws": principal.workspace_id,
        "after_xid": str(after.xid),
        "after_seq": after.seq,
        "until_xid": str(end.xid),
        "until_seq": end.seq,
        "accounts": scope,
        "limit": limit,
        "check_held": account is None,
    }
    sql = _BACKFILL_SQL if account is not None else _PULL_SQL
    page = PullPage(accounts=accounts, cursor=after)
    held = False
    for table, body, count, last, behind in conn.execute(text(sql), params):
        if table:
            page.rows[table] = body
        else:
            page.count = int(count)
            if last is not None:
                page.cursor = Cursor.parse(last)
            held = bool(behind)
    page.more = page.count >= limit
    if not page.more and account is None:
        page.held = held
    if count_remaining:
        page.remaining = _remaining(conn, principal.workspace_id, after, scope)
    return page


# --- HTTP --------------------------------------------------------------------------------------


def _error(status: int, error: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, **extra}, status_code=status)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _db(request: Request) -> ServerDatabase:
    db: ServerDatabase = request.app.state.db
    return db


def authenticate_request(db: ServerDatabase, token: str) -> Principal:
    """The user of a bearer token, checked now (raises ``AuthError``)."""
    with db.system() as conn:
        return auth.authenticate(conn, token)


async def _principal(request: Request) -> Principal | None:
    token = _bearer(request)
    if not token:
        return None
    try:
        return await run_in_threadpool(authenticate_request, _db(request), token)
    except AuthError:
        return None


def _unauthorized() -> JSONResponse:
    return JSONResponse(
        {"error": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
    )


# A push of MAX_BATCH long texts stays far below this; anything bigger is refused unread.
MAX_BODY_BYTES: Final = 8 * 1024 * 1024


async def _json_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadRequest("the body is too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:  # no Content-Length (chunked): stop reading at the limit
            raise BadRequest("the body is too large")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("the body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


async def login_endpoint(
    request: Request, *, token_ttl: timedelta = auth.DEFAULT_TOKEN_TTL
) -> Response:
    """``POST /login`` {username, password} → token, expiry, user, workspace, protocol.

    The token lasts ``token_ttl`` (the server's ``token_days``).
    """
    try:
        body = await _json_body(request)
    except BadRequest as exc:
        return _error(400, "bad_request", detail=str(exc))
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return _error(400, "bad_request", detail="username and password are required")
    db = _db(request)
    try:
        token, principal = await run_in_threadpool(
            auth.login, db, username, password, ttl=token_ttl
        )
    except AuthError:
        return _error(401, "wrong_credentials")

    def expiry() -> str:
        with db.system() as conn:
            value = conn.execute(
                text("SELECT expires_at FROM sessions WHERE token_hash = :h"),
                {"h": auth.token_hash(token.reveal())},
            ).scalar_one()
        return str(value.isoformat())

    expires_at = await run_in_threadpool(expiry)
    return JSONResponse(
        {
            "token": token.reveal(),
            "expires_at": expires_at,
            "user": {
                "id": principal.user_id,
                "username": principal.username,
                "role": principal.role,
            },
            "workspace_id": principal.workspace_id,
            "protocol": PROTOCOL,
        },
        headers={"Cache-Control": "no-store"},
    )


async def logout_endpoint(request: Request) -> Response:
    """``POST /logout``: end the session of the bearer token (idempotent)."""
    token = _bearer(request)
    if not token:
        return _unauthorized()

    def revoke() -> None:
        with _db(request).system() as conn:
            auth.revoke_token(conn, token)

    await run_in_threadpool(revoke)
    return JSONResponse({"ok": True})


def _protocol_ok(request: Request) -> bool:
    return request.query_params.get("protocol", str(PROTOCOL)) == str(PROTOCOL)


def _resync(reason: str) -> JSONResponse:
    return _error(409, "resync_required", reason=reason, protocol=PROTOCOL)


@dataclass(frozen=True)
class _PullQuery:
    after: Cursor
    limit: int
    account: int | None
    until: Cursor | None
    count: bool


def _pull_query(request: Request) -> _PullQuery:
    q = request.query_params
    after = Cursor.parse(q.get("after"))
    limit_text = q.get("limit", str(DEFAULT_LIMIT))
    if not limit_text.isdigit() or len(limit_text) > 6:
        raise BadRequest("malformed limit")
    account: int | None = None
    until: Cursor | None = None
    if "account" in q:
        account_text = q["account"]
        if not account_text.isdigit() or len(account_text) > 18:
            raise BadRequest("malformed account")
        account = int(account_text)
        until = Cursor.parse(q.get("until"))
    return _PullQuery(after, int(limit_text), account, until, q.get("count") == "1")


async def pull_endpoint(request: Request) -> Response:
    """``GET /pull?after=&limit=&protocol=[&account=&until=][&count=1]``."""
    token = _bearer(request)
    if not token:
        return _unauthorized()
    query: _PullQuery | BadRequest
    try:
        query = _pull_query(request)
    except BadRequest as exc:
        query = exc
    protocol_ok = _protocol_ok(request)

    def work() -> PullPage | Response:
        # The token is checked in the page's own transaction: one pooled connection per pull.
        with _db(request).agent_of(lambda conn: auth.authenticate(conn, token)) as (conn, who):
            # Answers in the same order as before: 401, then 409 (protocol), then 400.
            if not protocol_ok:
                return _resync("protocol")
            if isinstance(query, BadRequest):
                return _error(400, "bad_request", detail=str(query))
            return pull_in(
                conn,
                who,
                query.after,
                query.limit,
                account=query.account,
                until=query.until,
                count_remaining=query.count,
            )

    try:
        result = await run_in_threadpool(work)
    except AuthError:
        return _unauthorized()
    except BadRequest as exc:
        return _error(400, "bad_request", detail=str(exc))
    except ResyncRequired as exc:
        return _resync(exc.reason)
    if isinstance(result, Response):
        return result
    page = result
    # The head again as headers: the client asks for the next page before parsing this one.
    headers = {
        "X-Caixa-Cursor": str(page.cursor),
        "X-Caixa-More": "1" if page.more else "0",
        "X-Caixa-Held": "1" if page.held else "0",
        "X-Caixa-Count": str(page.count),
        "X-Caixa-Accounts": ",".join(map(str, page.accounts)),
    }
    if page.remaining is not None:
        headers["X-Caixa-Remaining"] = str(page.remaining)
    return Response(page.to_json(), media_type="application/json", headers=headers)


async def push_endpoint(request: Request) -> Response:
    """``POST /push`` {commands: [...]}: each command applied once, in order; one result each.

    The batch is one transaction: when it fails as a whole (the database went away) the answer
    is 503 and nothing of it was applied; the client keeps the commands and pushes them again.
    """
    from sync.server.commands import MAX_BATCH, BatchFailed, apply_commands

    principal = await _principal(request)
    if principal is None:
        return _unauthorized()
    if not _protocol_ok(request):
        return _resync("protocol")
    try:
        body = await _json_body(request)
        commands = body.get("commands")
        if not isinstance(commands, list) or len(commands) > MAX_BATCH:
            raise BadRequest(f"commands must be a list of at most {MAX_BATCH}")
    except BadRequest as exc:
        return _error(400, "bad_request", detail=str(exc))
    try:
        results, sent = await run_in_threadpool(apply_commands, _db(request), principal, commands)
    except BatchFailed as exc:
        log.warning("push: a batch of %d was not applied (%s)", len(commands), exc)
        return _error(503, "unavailable", detail="the batch was not applied; push it again")
    dispatcher = getattr(request.app.state, "dispatcher", None)
    if sent and dispatcher is not None:
        dispatcher.wake()
    return JSONResponse({"results": results})


async def templates_endpoint(request: Request) -> Response:
    """``GET /templates?account=ID``: the approved templates of a number the user may see.

    Asked of the provider by the server, which holds the number's credentials (desktops never
    do). 404 for a number the user may not see (as for one that does not exist); 422
    ``no_templates`` when its provider has none (QR-linked numbers), 422 ``provider`` with the
    reason when the provider could not answer (422, not 409 or 5xx: those mean "resync" and
    "server down" to the desktop).
    """
    from sync.providers.base import ProviderError

    principal = await _principal(request)
    if principal is None:
        return _unauthorized()
    if not _protocol_ok(request):
        return _resync("protocol")
    account_text = request.query_params.get("account", "")
    if not account_text.isdigit() or len(account_text) > 18:
        return _error(400, "bad_request", detail="account must be a number's id")
    account = int(account_text)

    def visible() -> list[int]:
        with _db(request).agent(principal) as conn:
            return visible_accounts(conn, principal)

    if account not in await run_in_threadpool(visible):
        return _error(404, "not_found")
    dispatcher = getattr(request.app.state, "dispatcher", None)
    adapter = None if dispatcher is None else dispatcher.adapter(account)
    lister = getattr(adapter, "list_templates", None)
    if lister is None:
        return _error(422, "no_templates")
    try:
        templates = await lister()
    except ProviderError as exc:
        return _error(422, "provider", detail=str(exc))
    return JSONResponse(
        {
            "templates": [
                {
                    "name": t.name,
                    "language": t.language,
                    "category": t.category,
                    "header_text": t.header_text,
                    "body_text": t.body_text,
                    "footer_text": t.footer_text,
                }
                for t in templates
            ]
        }
    )


async def events_endpoint(request: Request) -> Response:
    """``GET /events``: Server-Sent Events, a ``poke`` whenever something changed."""
    from sync.server.pokes import event_stream

    token = _bearer(request)
    principal = await _principal(request)
    if principal is None:
        return _unauthorized()
    return await event_stream(request, lambda: _still_valid(_db(request), token))


def _still_valid(db: ServerDatabase, token: str) -> bool:
    try:
        authenticate_request(db, token)
    except AuthError:
        return False
    return True


def sync_routes(*, token_ttl: timedelta = auth.DEFAULT_TOKEN_TTL) -> list[BaseRoute]:
    """The sync API's routes (the app mounts them under ``/api/v1``); a login lasts
    ``token_ttl``."""

    async def login(request: Request) -> Response:
        return await login_endpoint(request, token_ttl=token_ttl)

    return [
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout_endpoint, methods=["POST"]),
        Route("/pull", pull_endpoint, methods=["GET"]),
        Route("/push", push_endpoint, methods=["POST"]),
        Route("/events", events_endpoint, methods=["GET"]),
        Route("/templates", templates_endpoint, methods=["GET"]),
    ]

"""The desktop's side of team mode: keep the local cache in sync with the team server.

``TeamClient`` pulls the server's changes into the team cache (each page with its cursor in one
local transaction, so an interrupted initial sync resumes where it stopped), and pushes this
desktop's commands in the order they were made (each applied once by the server, whatever is
retried). ``run()`` keeps it live: it listens to the server's pokes (Server-Sent Events), pulls
on each poke, on every reconnect and on a timer, and retries with backoff and jitter while the
server cannot be reached. Nothing here imports Qt: the desktop connects callbacks
(``status_changed``, ``pending_changed``, ``rows_changed``, ``resync_required``,
``auth_refused``) and turns them into signals.

The cache is either a ``Database`` (the desktop's: work runs on its database thread, and pulled
changes are also published to its listeners) or a bare ``LocalCache`` (scripts, tests: work runs
inline on the event loop thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Final, Generic, ParamSpec, TypeVar

import httpx
from httpx_sse import aconnect_sse

from sync.client import pull as pulling
from sync.client import push as pushing
from sync.domain.changes import ChangeSet
from sync.providers.accounts import Secret
from sync.store.local.database import Database
from sync.wakeup import wait_event

if TYPE_CHECKING:
    from sync.domain.messages import Message, TemplateRef
    from sync.providers.meta_cloud import TemplateInfo
    from sync.store.local.local_cache import LocalCache

log = logging.getLogger(__name__)

PROTOCOL: Final = 1
# First wait before pulling again when the server held rows back behind its snapshot fence.
HELD_RETRY_FIRST: Final = 0.005
STOP_TIMEOUT_S: Final = 5.0  # how long run() waits, when cancelled, for its two loops to end
T = TypeVar("T")
P = ParamSpec("P")
A = TypeVar("A")


class TeamError(Exception):
    """The server refused a request for a reason retrying will not fix (the message says why)."""


class TeamOffline(TeamError):
    """The server cannot be reached (or answered 5xx): work waits and is retried."""


class AuthRefused(TeamError):
    """Wrong user or password, or the saved token was revoked or expired: log in again."""


class ResyncRequired(TeamError):
    """The server asks for a full resync: ``reason`` is ``cursor`` (too far behind, handled
    by starting over) or ``protocol`` (this Caixa is too old for the server: update it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the server requires a resync ({reason})")
        self.reason = reason


class Callbacks(Generic[A]):
    """A list of callables called with one value (observer pattern without Qt)."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[A], None]] = []

    def connect(self, callback: Callable[[A], None]) -> Callable[[], None]:
        """Call ``callback`` on every emit; returns a function that disconnects it."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    def emit(self, value: A) -> None:
        """Call every connected callback with ``value``."""
        for callback in list(self._callbacks):
            callback(value)


@dataclass(frozen=True, slots=True)
class TeamUser:
    """Who is logged in."""

    id: int
    username: str
    role: str
    workspace_id: int


# Pages larger than this are parsed on a worker thread (see _parse_page).
_PARSE_ON_THREAD_BYTES: Final = 256 * 1024


async def _parse_page(body: bytes) -> dict[str, Any]:
    """A pulled page's JSON, parsed here while the database thread stores the previous page.

    A large page (an initial sync's 20k rows: 4-5 MB) is parsed on a worker thread, so neither
    the event loop (the app's GUI thread) nor the database thread spends its 30-50 ms there
    (the database thread is what an initial sync waits for: on 300k messages its time went
    from 4.3 to 3.5 s).
    """
    parsed: dict[str, Any]
    if len(body) > _PARSE_ON_THREAD_BYTES:
        parsed = await asyncio.to_thread(json.loads, body)
    else:
        parsed = json.loads(body)
    return parsed


@dataclass(frozen=True, slots=True)
class _PageHead:
    cursor: str
    more: bool
    held: bool
    count: int
    remaining: int | None
    accounts: list[int]


class TeamClient:
    """Sync of one team cache with one server (see the module docstring)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        cache: Database | LocalCache,
        *,
        token: Secret | None = None,
        api_path: str = "/api/v1",
        page_size: int = 5_000,
        catch_up_page_size: int = 20_000,
        poll_interval: float = 30.0,
        held_retry: float = 0.05,
    ) -> None:
        self._http = http
        self._cache = cache
        self._token = token
        self._api = api_path.rstrip("/")
        # A pull asks for ``page_size`` rows; when a page comes back full there is more behind
        # it (an initial sync, a long time offline), and the next pages are the server's largest:
        # fewer round trips and local commits (on 1M messages, 20k pages sync about 25% faster).
        self.page_size = page_size
        self.catch_up_page_size = max(page_size, catch_up_page_size)
        self.poll_interval = poll_interval
        self.held_retry = held_retry
        self._online = False
        self._wake = asyncio.Event()
        self._held = False
        self._sync_lock = asyncio.Lock()
        self._user: TeamUser | None = None
        self.status_changed: Callbacks[bool] = Callbacks()
        self.pending_changed: Callbacks[int] = Callbacks()
        self.rows_changed: Callbacks[ChangeSet] = Callbacks()
        self.resync_required: Callbacks[str] = Callbacks()
        self.auth_refused: Callbacks[None] = Callbacks()

    def __repr__(self) -> str:
        return f"TeamClient({self._http.base_url!s}, online={self._online})"

    # --- state -------------------------------------------------------------------------------

    @property
    def online(self) -> bool:
        """Whether the last exchange with the server worked."""
        return self._online

    @property
    def token(self) -> Secret | None:
        """The login token (the desktop keeps it in the keyring)."""
        return self._token

    def _set_online(self, online: bool) -> None:
        if online != self._online:
            self._online = online
            self.status_changed.emit(online)

    async def _run(
        self, fn: Callable[Concatenate[LocalCache, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        if isinstance(self._cache, Database):
            return await self._cache.run(fn, *args, **kwargs)
        return fn(self._cache, *args, **kwargs)

    def _changed(self, changes: ChangeSet) -> None:
        if not changes:
            return
        if isinstance(self._cache, Database):
            self._cache.publish(changes)
        self.rows_changed.emit(changes)

    async def user(self) -> TeamUser | None:
        """Who is logged in (from the last login, kept in the cache)."""
        if self._user is None:
            value = await self._run(pulling.get_meta, pulling.USER_KEY)
            if value is not None:
                self._user = TeamUser(**json.loads(value))
        return self._user

    async def pending_count(self) -> int:
        """How many commands wait to be pushed."""
        return await self._run(pushing.pending_count)

    # --- HTTP --------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        if not self._token:
            raise AuthRefused("not logged in")
        return {"Authorization": f"Bearer {self._token.reveal()}"}

    async def _request(
        self, method: str, path: str, *, accept: tuple[int, ...] = (), **kwargs: Any
    ) -> httpx.Response:
        """``accept``: error statuses the caller reads itself (not refusals of the session)."""
        try:
            response = await self._http.request(method, f"{self._api}{path}", **kwargs)
        except httpx.TransportError as exc:
            self._set_online(False)
            raise TeamOffline(f"the server cannot be reached ({type(exc).__name__})") from None
        if response.status_code not in accept:
            self._check(response)
        self._set_online(True)
        return response

    def _check(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        if status == 401:
            self._set_online(True)
            self.auth_refused.emit(None)
            raise AuthRefused("the server refused the login")
        if status == 409:
            reason = "protocol"
            with contextlib.suppress(ValueError, AttributeError):
                reason = str(response.json().get("reason", reason))
            self.resync_required.emit(reason)
            raise ResyncRequired(reason)
        if status >= 500:
            self._set_online(False)
            raise TeamOffline(f"the server answered {status}")
        raise TeamError(f"the server refused the request ({status})")

    # --- login -------------------------------------------------------------------------------

    async def login(self, username: str, password: str) -> Secret:
        """Log in; return the token (also kept by this client) for the keyring."""
        response = await self._request(
            "POST", "/login", json={"username": username, "password": password}
        )
        body = response.json()
        self._token = Secret(body["token"])
        user = TeamUser(
            id=int(body["user"]["id"]),
            username=str(body["user"]["username"]),
            role=str(body["user"]["role"]),
            workspace_id=int(body["workspace_id"]),
        )
        self._user = user
        value = json.dumps(
            {"id": user.id, "username": user.username, "role": user.role,
             "workspace_id": user.workspace_id}
        )  # fmt: skip
        await self._run(_save_user, value)
        return self._token

    async def logout(self) -> None:
        """End the session on the server (best effort) and forget the token."""
        if self._token:
            with contextlib.suppress(TeamError):
                await self._request("POST", "/logout", headers=self._headers())
        self._token = None

    # --- pull --------------------------------------------------------------------------------

    async def _fetch(
        self,
        after: str,
        *,
        count: bool = False,
        account: int | None = None,
        until: str = "",
        catching_up: bool = False,
    ) -> tuple[_PageHead, dict[str, Any]]:
        params: dict[str, str | int] = {
            "after": after,
            "limit": self.catch_up_page_size if catching_up else self.page_size,
            "protocol": PROTOCOL,
        }
        if count:
            params["count"] = 1
        if account is not None:
            params["account"] = account
            params["until"] = until
        response = await self._request(
            "GET", "/pull", params=params, headers=self._headers(), timeout=120.0
        )
        h = response.headers
        remaining = h.get("x-caixa-remaining")
        accounts = h.get("x-caixa-accounts", "")
        head = _PageHead(
            cursor=h["x-caixa-cursor"],
            more=h.get("x-caixa-more") == "1",
            held=h.get("x-caixa-held") == "1",
            count=int(h.get("x-caixa-count", "0")),
            remaining=None if remaining is None else int(remaining),
            accounts=[int(x) for x in accounts.split(",") if x],
        )
        return head, await _parse_page(response.content)

    async def pull(self, progress: Callable[[int, int], None] | None = None) -> ChangeSet:
        """Pull every page after the stored cursor; ``progress(rows_done, rows_total)``.

        The next page is requested while the current one is being stored, so the network, the
        server and the local disk work at the same time.
        """
        try:
            return await self._pull(progress)
        except ResyncRequired as exc:
            if exc.reason != "cursor":
                raise
            log.warning("the server asked for a resync; starting over")
            self._changed(await self._run(pulling.reset_team_data))
            return await self._pull(progress)

    async def _pull(self, progress: Callable[[int, int], None] | None) -> ChangeSet:
        cursor, known, bulk = await self._run(_pull_state)
        changes: list[ChangeSet] = []
        done = 0
        total = 0
        fetch: asyncio.Future[tuple[_PageHead, dict[str, Any]]] = asyncio.ensure_future(
            self._fetch(cursor, count=progress is not None)
        )
        try:
            while True:
                head, body = await fetch
                if head.more:
                    fetch = asyncio.ensure_future(self._fetch(head.cursor, catching_up=True))
                if known is not None:
                    for account in sorted(set(head.accounts) - set(known)):
                        # Given a number: its rows before our cursor never come by the main
                        # stream, so fetch them first (stored before the cursor moves on).
                        changes.append(await self._backfill(account, cursor))
                # A long initial sync stores its pages in bulk mode (see sync/client/pull.py).
                begin_bulk = not bulk and cursor == pulling.START and head.more
                page_changes = await self._run(pulling.apply_page, body, begin_bulk=begin_bulk)
                bulk = bulk or begin_bulk
                changes.append(page_changes)
                self._changed(page_changes)
                known = head.accounts
                cursor = head.cursor
                done += head.count
                if head.remaining is not None:
                    total = head.remaining
                if progress is not None:
                    progress(done, max(total, done))
                if not head.more:
                    if bulk:
                        await self._run(pulling.end_bulk_sync)
                    self._held = head.held
                    break
        finally:
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, TeamError):
                    await fetch
        return ChangeSet.merge(changes)

    async def _backfill(self, account: int, until: str) -> ChangeSet:
        after = pulling.START
        changes: list[ChangeSet] = []
        catching_up = False
        while True:
            head, body = await self._fetch(
                after, account=account, until=until, catching_up=catching_up
            )
            catching_up = head.more
            page = await self._run(pulling.apply_page, body, main=False)
            changes.append(page)
            self._changed(page)
            after = head.cursor
            if not head.more:
                return ChangeSet.merge(changes)

    # --- push --------------------------------------------------------------------------------

    async def push(self) -> int:
        """Push pending commands in order until none is left; return how many were answered.

        Raises ``TeamOffline`` at the first batch that cannot be delivered; the rest wait.
        """
        answered = 0
        while True:
            batch = await self._run(pushing.pending)
            if not batch:
                return answered
            response = await self._request(
                "POST",
                "/push",
                params={"protocol": PROTOCOL},
                json={"commands": [c.wire() for c in batch]},
                headers=self._headers(),
                timeout=60.0,
            )
            results = response.json()["results"]
            self._changed(await self._run(pushing.record_results, batch, results))
            answered += len(batch)
            self.pending_changed.emit(await self.pending_count())

    async def sync_now(self, progress: Callable[[int, int], None] | None = None) -> ChangeSet:
        """Push what waits, then pull every page. One at a time per client.

        Pushing first: a reply typed here goes out without waiting for a pull, and the one pull
        after it brings our own sends and claims back as the server's rows together with
        everyone else's changes. (A claim's expected version was taken when it was queued, so
        pulling first would not change what is pushed.)
        """
        async with self._sync_lock:
            refused: TeamError | None = None
            if await self.pending_count():
                try:
                    await self.push()
                except (TeamOffline, AuthRefused, ResyncRequired):
                    raise
                except TeamError as exc:
                    refused = exc  # a refused batch must not stop this desktop's pulls
            changes = await self.pull(progress)
            if refused is not None:
                raise refused
            return changes

    # --- live --------------------------------------------------------------------------------

    def _backoff(self, failures: int) -> float:
        """Exponential (0.5 s doubling up to 30 s) with jitter, so desktops don't stampede."""
        ceiling: float = min(30.0, 0.25 * 2.0 ** min(failures, 8))
        return ceiling * random.uniform(0.5, 1.0)

    async def run(self) -> None:
        """Stay in sync until cancelled, or until the server refuses the login or the protocol."""
        listener = asyncio.create_task(self._listen(), name="caixa-team-events")
        worker = asyncio.create_task(self._work(), name="caixa-team-sync")
        try:
            done, _ = await asyncio.wait({listener, worker}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        except (AuthRefused, ResyncRequired):
            pass
        finally:
            for task in (listener, worker):
                task.cancel()
            # Bounded, as a second line behind sync.wakeup: httpx closes a cancelled stream
            # shielded from cancellation, and a close that never returns must not keep the app
            # from quitting. (A test's teardown hung here once in CI and could not be made to
            # happen again; a wake-up swallowing the cancel is the likeliest cause.)
            _, stuck = await asyncio.wait({listener, worker}, timeout=STOP_TIMEOUT_S)
            for task in (listener, worker):
                if task not in stuck:
                    with contextlib.suppress(asyncio.CancelledError, TeamError):
                        task.result()
            if stuck:
                log.warning(
                    "team sync: %s did not stop within %s s; left behind",
                    ", ".join(sorted(task.get_name() for task in stuck)),
                    STOP_TIMEOUT_S,
                )
            self._set_online(False)

    def wake(self) -> None:
        """Pull and push now (a poke, a reconnect, or a command just queued)."""
        self._wake.set()

    async def _work(self) -> None:
        failures = 0
        held = 0
        while True:
            if failures:
                timeout = self._backoff(failures)
            elif self._held:
                # Rows behind the fence belong to a transaction about to commit: look again
                # soon, then less and less often while it stays open.
                timeout = min(self.held_retry, HELD_RETRY_FIRST * 2**held)
                held += 1
            else:
                held = 0
                timeout = self.poll_interval
            await wait_event(self._wake, timeout)
            self._wake.clear()
            try:
                await self.sync_now()
                failures = 0
            except TeamOffline:
                failures += 1
            except ResyncRequired:
                raise
            except AuthRefused:
                raise
            except TeamError:
                log.exception("team sync failed")
                failures += 1

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                async with aconnect_sse(
                    self._http,
                    "GET",
                    f"{self._api}/events",
                    headers=self._headers(),
                    # The server writes a keepalive comment every 15 s: 45 s of silence is a
                    # dead connection.
                    timeout=httpx.Timeout(10.0, read=45.0),
                ) as source:
                    response = source.response
                    if response.status_code == 401:
                        self.auth_refused.emit(None)
                        raise AuthRefused("the server refused the login")
                    if response.status_code >= 400:
                        raise TeamOffline(f"events answered {response.status_code}")
                    failures = 0
                    self._set_online(True)
                    async for event in source.aiter_sse():
                        if event.event == "poke":
                            self._wake.set()
            # httpx_sse.SSEError (not an event stream: a proxy's page) is a TransportError.
            except (httpx.TransportError, TeamOffline):
                pass
            failures += 1
            self._set_online(False)
            self._wake.set()  # the worker finds out whether the server is really gone
            await asyncio.sleep(self._backoff(failures))

    async def aclose(self) -> None:
        """Nothing to release beyond what ``run()`` stops; the http client is the caller's."""
        self._set_online(False)

    # --- commands ----------------------------------------------------------------------------

    async def _queued(self, changes: ChangeSet) -> None:
        self._changed(changes)
        self.pending_changed.emit(await self.pending_count())
        self._wake.set()

    async def send_text(
        self, conversation_id: int, text: str, *, reply_to: str | None = None
    ) -> Message:
        """Write the message locally (queued) with its send command; it is pushed next."""
        return await self._queue_send(conversation_id, text, reply_to=reply_to)

    async def send_template(
        self, conversation_id: int, template: TemplateRef, preview: str
    ) -> Message:
        """Queue an approved template (``preview``: what the customer will read); pushed next,
        sent by the server, which holds the number's credentials."""
        return await self._queue_send(conversation_id, preview, template=template)

    async def _queue_send(
        self,
        conversation_id: int,
        text: str,
        *,
        reply_to: str | None = None,
        template: TemplateRef | None = None,
    ) -> Message:
        user = await self.user()
        message, changes = await self._run(
            pushing.queue_send,
            conversation_id,
            text,
            reply_to=reply_to,
            template=template,
            author_user_id=None if user is None else user.id,
        )
        await self._queued(changes)
        return message

    async def list_templates(self, account_id: int) -> list[TemplateInfo]:
        """The approved templates of a number, asked of its provider by the server.

        Empty when the number's provider has no templates (a QR-linked number); ``TeamError``
        when the provider could not answer (with its reason); ``TeamOffline`` without the server.
        """
        from sync.providers.meta_cloud import TemplateInfo

        response = await self._request(
            "GET",
            "/templates",
            params={"account": account_id, "protocol": PROTOCOL},
            headers=self._headers(),
            accept=(422,),
        )
        if response.status_code == 422:  # the number has none, or its provider said no
            body = response.json()
            if body.get("error") == "no_templates":
                return []  # the dialog says there is none, in the user's language
            raise TeamError(str(body.get("detail") or "the provider did not answer"))
        return [
            TemplateInfo(
                name=str(t["name"]),
                language=str(t["language"]),
                category=str(t.get("category", "")),
                header_text=str(t.get("header_text", "")),
                body_text=str(t.get("body_text", "")),
                footer_text=str(t.get("footer_text", "")),
            )
            for t in response.json()["templates"]
        ]

    async def _command(self, kind: str, payload: dict[str, Any]) -> str:
        user = await self.user()
        command_id, changes = await self._run(
            pushing.queue_command, kind, payload, user_id=None if user is None else user.id
        )
        await self._queued(changes)
        return command_id

    async def command_outcome(self, command_id: str) -> dict[str, Any] | None:
        """The server's answer to a queued command, or None while it waits to be pushed."""
        return await self._run(pushing.command_outcome, command_id)

    async def mark_read(self, conversation_id: int) -> str:
        """Mark a conversation read, here at once and for the team once pushed."""
        return await self._command("mark_read", {"conversation_id": conversation_id})

    async def claim(self, conversation_id: int) -> str:
        """Take a conversation, on the condition nobody changed its owner since we saw it."""
        return await self._command("claim", {"conversation_id": conversation_id})

    async def assign(self, conversation_id: int, user_id: int | None) -> str:
        """Give a conversation to someone (supervisors), or release it (``None``)."""
        return await self._command(
            "assign", {"conversation_id": conversation_id, "user_id": user_id}
        )

    async def add_note(self, conversation_id: int, text: str) -> str:
        """An internal note on a conversation, seen by the team, never by the customer."""
        return await self._command("note", {"conversation_id": conversation_id, "text": text})

    async def set_label(self, conversation_id: int, label: str, *, present: bool = True) -> str:
        """Add or remove a label of a conversation."""
        op = "add" if present else "remove"
        return await self._command(
            "label", {"conversation_id": conversation_id, "label": label, "op": op}
        )

    async def set_automation(self, account_id: int, name: str, enabled: bool) -> str:
        """Switch an automation of a number on or off (supervisors)."""
        return await self._command(
            "automation", {"account_id": account_id, "name": name, "enabled": enabled}
        )


def _pull_state(cache: LocalCache) -> tuple[str, list[int] | None, bool]:
    return (
        pulling.stored_cursor(cache),
        pulling.known_accounts(cache),
        pulling.bulk_sync_pending(cache),
    )


def _save_user(cache: LocalCache, value: str) -> None:
    with cache.transaction() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            pulling.set_meta(cursor, pulling.USER_KEY, value)
        finally:
            cursor.close()

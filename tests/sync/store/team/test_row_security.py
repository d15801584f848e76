"""Row-level security of the team schema, table by table: the catalog, then what each request reads.

The server's queries filter by workspace and number themselves, so a table whose policy is
missing or wrong still looks right through them. These tests ask Postgres directly instead:

- the catalog: every table but a short allow-list of global ones has row-level security enabled
  and a policy, and the server's login role could not bypass them (it owns no table, is no
  member of an owner, is neither superuser nor ``BYPASSRLS``); a new table added without
  policies fails here until it gets them (or a reason to be global);
- the matrix: two workspaces with rows in every tenant table, read with a bare ``SELECT`` (no
  ``WHERE``) as the app role in the scope the server sets for each user, for its own work, and
  with no scope at all; each must return exactly the rows the rules below allow. The seed puts
  rows on every number and for every user, so no allowed set is empty by accident.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pytest
from sqlalchemy import Connection, Engine, text

from sync.store.team.database import AgentScope, ServerDatabase, create_server_engine, role_of
from tests.sync.server import seeding

if TYPE_CHECKING:
    from tests.conftest import PgDatabase

# Tables deliberately outside tenancy. Everything else in the schema holds a workspace's data and
# must be covered by policies (and by ``VISIBLE`` below).
GLOBAL_TABLES = {
    # Alembic's bookkeeping: the app role has no privilege on it at all (``database.upgrade``).
    "alembic_version",
    # Server-wide values of the sync protocol (``resync_before``), the same for every workspace;
    # it has row-level security anyway so that only the system scope writes it (migration 0002).
    "sync_settings",
}

# The only functions that run with their owner's rights. A SECURITY DEFINER function reads
# tables as their owner, past every policy: ``caixa_visible_accounts`` does so on purpose (users
# and user_accounts, to avoid policy recursion) and returns only ids for the current user.
SECURITY_DEFINERS = {"caixa_visible_accounts"}


@dataclass(frozen=True)
class Visible:
    """Which rows of a table a request on behalf of a user sees.

    ``to``: ``"workspace"`` every row of the user's workspace; ``"numbers"`` the rows of the
    numbers they may see (supervisors: all of the workspace's); ``"self"`` the user's own rows;
    ``"system"`` none (server-only). ``workspace``: the column naming the row's workspace;
    ``key``: the column naming its number (``"numbers"``) or its user (``"self"``).
    """

    to: Literal["workspace", "numbers", "self", "system"]
    workspace: str = "workspace_id"
    key: str | None = None


# What each tenant table shows an agent or a supervisor (migrations 0001, 0002, 0005, 0007).
VISIBLE = {
    "workspaces": Visible("workspace", workspace="id"),
    # Teammates' names, and who may see which number, are shared within the workspace.
    "users": Visible("workspace"),
    "user_accounts": Visible("workspace"),
    "accounts": Visible("numbers", key="id"),
    "conversations": Visible("numbers", key="account_id"),
    "messages": Visible("numbers", key="account_id"),
    "notes": Visible("numbers", key="account_id"),
    "reactions": Visible("numbers", key="account_id"),
    # An agent may queue a send on a number they see, and read it back (migration 0002).
    "outbox": Visible("numbers", key="account_id"),
    # Pushed commands are recorded and replayed per user.
    "commands": Visible("self", key="user_id"),
    # Token hashes, and the ingest's bookkeeping (LID aliases, edits waiting for their message).
    "sessions": Visible("system"),
    "chat_aliases": Visible("system"),
    "pending_changes": Visible("system"),
    # Pacing's state (migration 0007): the dispatchers' only.
    "pacing": Visible("system"),
}


# --- the catalog ---------------------------------------------------------------------------------

_RELATIONS = text(
    """
    SELECT c.relname AS name, c.relkind AS kind, n.nspname AS schema,
           c.relrowsecurity AS rls,
           coalesce('security_invoker=true' = ANY (c.reloptions), false) AS invoker,
           pg_get_userbyid(c.relowner) AS owner,
           pg_has_role(:app, c.relowner, 'USAGE') AS app_has_owner_rights,
           (SELECT count(*) FROM pg_policies p
             WHERE p.schemaname = n.nspname AND p.tablename = c.relname) AS policies,
           ARRAY(SELECT a.attname::text FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                    AND a.attname IN ('workspace_id', 'account_id', 'user_id')) AS tenant_columns
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\\_%'
    """
)


def _catalog(pg_database: PgDatabase) -> tuple[list[Any], Any, set[str]]:
    app = role_of(pg_database.app_url)
    engine = create_server_engine(pg_database.owner_url, pool_size=1)
    try:
        with engine.connect() as conn:
            relations = conn.execute(_RELATIONS, {"app": app}).all()
            role = conn.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :app"),
                {"app": app},
            ).one()
            definers = set(
                conn.execute(
                    text(
                        "SELECT p.proname FROM pg_proc p"
                        " JOIN pg_namespace n ON n.oid = p.pronamespace"
                        " WHERE p.prosecdef"
                        " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                    )
                ).scalars()
            )
    finally:
        engine.dispose()
    return relations, role, definers


def test_every_tenant_table_has_policies_the_server_role_cannot_bypass(
    pg_database: PgDatabase,
) -> None:
    relations, role, _ = _catalog(pg_database)
    tables = {r.name: r for r in relations if r.kind in ("r", "p")}
    # Postgres skips policies for superusers, BYPASSRLS roles, and a table's owner or a member
    # of its owner. FORCE ROW LEVEL SECURITY only takes the owner off that list; it does not
    # matter here because the server never logs in as the owner (checked per table below), and
    # the owner (who runs the migrations) has to see every row anyway.
    assert (role.rolsuper, role.rolbypassrls) == (False, False)
    problems: dict[str, list[str]] = {}
    for name, r in sorted(tables.items()):
        found = []
        # Not even a global table: its owner could also change or drop it.
        if r.app_has_owner_rights:
            found.append(f"the server role has its owner's ({r.owner}) rights: policies skipped")
        if name not in GLOBAL_TABLES:
            if r.schema != "public":
                found.append(f"in schema {r.schema}")
            if not r.rls:
                found.append("row-level security is off")
            if r.policies == 0:
                found.append("no policy: only its owner could read or write it")
        if found:
            problems[name] = found
    assert problems == {}
    assert set(tables) >= GLOBAL_TABLES  # the allow-list names no table that is gone
    # A tenant column on an allow-listed table means it is not global after all.
    assert {n: tables[n].tenant_columns for n in GLOBAL_TABLES if tables[n].tenant_columns} == {}
    # Every table the catalog holds to policies is in the matrix below, and nothing else is: a
    # new tenant table needs its visibility rule and seeded rows there.
    assert set(tables) - GLOBAL_TABLES == set(VISIBLE)


def test_no_view_or_definer_function_reads_past_the_policies(pg_database: PgDatabase) -> None:
    relations, _, definers = _catalog(pg_database)
    # A view reads its tables with its owner's rights (unless security_invoker); a materialized
    # view is a copy that policies do not cover at all, and a foreign table's rows live
    # elsewhere, outside these policies.
    escaping = [
        (r.name, r.kind)
        for r in relations
        if r.kind == "m" or r.kind == "f" or (r.kind == "v" and not r.invoker)
    ]
    assert escaping == []
    assert definers == SECURITY_DEFINERS


# --- the matrix ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A user of a seeded workspace: role, the numbers granted, disabled or not."""

    role: str = "agent"
    numbers: tuple[str, ...] = ()
    disabled: bool = False


# Both workspaces have a number called "shop": nothing may leak by name either.
LAYOUT: dict[str, tuple[tuple[str, ...], dict[str, Member]]] = {
    "north": (
        ("shop", "workshop", "garage"),
        {
            "ana": Member(numbers=("shop",)),
            "bia": Member(numbers=("workshop", "garage")),
            "sue": Member("supervisor"),
        },
    ),
    "south": (
        ("shop", "bakery"),
        {
            "cid": Member(numbers=("bakery",)),
            "dan": Member(),  # an agent given no number yet
            "eva": Member("supervisor"),
            # Disabled: their sessions are revoked, and their scope sees no number either.
            "fay": Member(numbers=("shop",), disabled=True),
        },
    ),
}
USERS = [name for _, members in LAYOUT.values() for name in members]
# The server's own work (webhooks, dispatcher, CLI), and a transaction that set no scope at all.
SYSTEM, UNSCOPED = "system scope", "no scope"


@dataclass
class World:
    """The seeded database: the app role's pool, the owner's engine, and names of the ids."""

    db: ServerDatabase
    owner: Engine  # as the schema owner, whom policies never filter
    workspaces: dict[int, str] = field(default_factory=dict)
    numbers: dict[int, str] = field(default_factory=dict)  # account id: "north/shop"
    users: dict[str, tuple[int, int]] = field(default_factory=dict)  # name: (workspace, user)
    visible: dict[str, frozenset[int]] = field(default_factory=dict)  # name: account ids

    def label(self, table: str, row: dict[str, Any]) -> str:
        """Whose a row is, in names: the number, else the user, else the workspace."""
        names = {user_id: name for name, (_, user_id) in self.users.items()}
        if table == "accounts":
            return self.numbers[row["id"]]
        if "account_id" in row:
            return self.numbers[row["account_id"]]
        if table == "users" or "user_id" in row:
            return names[row["id"] if table == "users" else row["user_id"]]
        return self.workspaces[row[VISIBLE[table].workspace]]


def _seed(conn: Connection, world: World) -> None:
    """Rows in every tenant table for each number and each user of ``LAYOUT``."""
    for ws_name, (number_names, members) in LAYOUT.items():
        ws = seeding.workspace(conn, ws_name)
        world.workspaces[ws] = ws_name
        ids = {n: seeding.number(conn, ws, n) for n in number_names}
        world.numbers.update({a: f"{ws_name}/{n}" for n, a in ids.items()})
        for username, member in members.items():
            user_id = seeding.user(
                conn,
                ws,
                username,
                role=member.role,
                disabled=member.disabled,
                numbers=[ids[n] for n in member.numbers],
            )
            seeding.session(conn, ws, user_id)
            seeding.command(conn, ws, user_id)
            world.users[username] = (ws, user_id)
            # What the product promises, stated here: caixa_visible_accounts() is under test.
            if member.disabled:
                sees: list[int] = []
            elif member.role == "supervisor":
                sees = list(ids.values())
            else:
                sees = [ids[n] for n in member.numbers]
            world.visible[username] = frozenset(sees)
        for n, a in ids.items():
            phone = f"55119{a:08d}"
            chat = seeding.conversation(conn, ws, a, phone, customer_phone=phone)
            seeding.message(conn, ws, a, chat, f"hi {n}", provider_message_id=f"wamid.{a}")
            seeding.message(conn, ws, a, chat, "gone", deleted=True)  # a tombstone
            queued = seeding.message(
                conn, ws, a, chat, f"to {n}", direction="out", status="pending"
            )
            seeding.outbox_entry(conn, ws, a, chat, queued, phone)
            seeding.note(conn, ws, a, chat, f"note on {n}")
            seeding.note(conn, ws, a, chat, "erased", deleted=True)
            seeding.reaction(conn, ws, a, f"wamid.{a}", phone, "👍")
            seeding.reaction(conn, ws, a, f"wamid.{a}", "5511900000000", "")  # removed
            seeding.chat_alias(conn, ws, a, f"{a}@lid", phone)
            seeding.pending_change(conn, ws, a, f"wamid.{a}.later", body="edited")
            seeding.pacing_time(conn, ws, a, "", 1e9)
            seeding.pacing_time(conn, ws, a, phone, 1e9)


@pytest.fixture(scope="module")
def world(postgres_cluster: Any, _pg_template: str) -> Iterator[World]:
    """One seeded database for the whole matrix (its tests only read)."""
    name = postgres_cluster.create_database(template=_pg_template)
    owner = create_server_engine(postgres_cluster.url(name), pool_size=1)
    world = World(ServerDatabase(postgres_cluster.url(name, app=True), pool_size=1), owner)
    try:
        # Seeded as the owner: a broken policy then shows as a failed read below, naming its
        # table, rather than as a seed that cannot write.
        with owner.begin() as conn:
            _seed(conn, world)
        yield world
    finally:
        world.db.dispose()
        owner.dispose()
        postgres_cluster.drop_database(name)


def _read(conn: Connection, table: str) -> list[dict[str, Any]]:
    # The whole row, so the comparison covers every column; no WHERE, so only the policies filter.
    return list(conn.execute(text(f"SELECT to_jsonb(t) FROM {table} t")).scalars())


def _everything(world: World, table: str) -> list[dict[str, Any]]:
    with world.owner.connect() as conn:
        return _read(conn, table)


def _shown(world: World, table: str, who: str, row: dict[str, Any]) -> bool:
    """Whether ``VISIBLE`` lets ``who`` see ``row``."""
    if who == SYSTEM:
        return True
    if who == UNSCOPED:
        return False
    rule = VISIBLE[table]
    ws, user_id = world.users[who]
    if row[rule.workspace] != ws:
        return False
    if rule.to == "workspace":
        return True
    if rule.to == "numbers":
        return row[str(rule.key)] in world.visible[who]
    if rule.to == "self":
        return bool(row[str(rule.key)] == user_id)
    return False


def _as(world: World, who: str, table: str) -> list[dict[str, Any]]:
    """``table`` read by the app role in the scope the server sets for ``who``."""
    if who == SYSTEM:
        with world.db.system() as conn:
            return _read(conn, table)
    if who == UNSCOPED:
        # Pooled connections are reused: the scope an earlier transaction set (SET LOCAL)
        # must not linger on them.
        with world.db.engine.begin() as conn:
            return _read(conn, table)
    ws, user_id = world.users[who]
    with world.db.agent(AgentScope(ws, user_id)) as conn:
        return _read(conn, table)


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)


@pytest.mark.parametrize("table", sorted(VISIBLE))
def test_every_tenant_table_is_seeded_in_both_workspaces(world: World, table: str) -> None:
    # What keeps the matrix from passing on empty tables: rows in every workspace, and for
    # per-number or per-user tables on every number or for every user.
    rule = VISIBLE[table]
    everything = _everything(world, table)
    assert {r[rule.workspace] for r in everything} == set(world.workspaces)
    if rule.to == "numbers":
        assert {r[str(rule.key)] for r in everything} == set(world.numbers)
    if rule.to == "self":
        assert {r[str(rule.key)] for r in everything} == {u for _, u in world.users.values()}


@pytest.mark.parametrize("who", [*USERS, SYSTEM, UNSCOPED])
@pytest.mark.parametrize("table", sorted(VISIBLE))
def test_a_bare_select_returns_only_the_rows_the_scope_may_see(
    world: World, table: str, who: str
) -> None:
    everything = _everything(world, table)
    expected = {_key(r): r for r in everything if _shown(world, table, who, r)}
    seen = {_key(r): r for r in _as(world, who, table)}
    leaked = sorted(world.label(table, r) for k, r in seen.items() if k not in expected)
    missing = sorted(world.label(table, r) for k, r in expected.items() if k not in seen)
    assert leaked == [], f"{who} reads rows of {table} they must not see"
    assert missing == [], f"{who} cannot read rows of {table} they should see"
    # Not vacuous: a scope that should see something does (the seed puts rows everywhere).
    rule = VISIBLE[table]
    should_see = who == SYSTEM or (
        who != UNSCOPED
        and rule.to != "system"
        and (rule.to != "numbers" or bool(world.visible[who]))
    )
    assert bool(expected) == should_see

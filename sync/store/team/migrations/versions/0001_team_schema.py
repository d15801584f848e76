"""The team schema: tenancy on every row, change stamps, tombstones, row-level security.

Every synced table (accounts, conversations, messages, notes, reactions) carries
``xid`` (the writing transaction, ``pg_current_xact_id()``) and ``seq`` (one global sequence),
re-stamped by a trigger on every insert and update. Clients pull rows ordered by ``(xid, seq)``
after their cursor, and only rows whose ``xid`` is below
``pg_snapshot_xmin(pg_current_snapshot())``:
a transaction that took its xid early but commits late is then never skipped (its rows stay behind
the fence until it ends). Deletes are tombstones (``deleted = true``, re-stamped) so they sync too.

Row-level security: a request on behalf of an agent runs with ``caixa.workspace_id`` and
``caixa.user_id`` set (``SET LOCAL``) and sees only the numbers ``caixa_visible_accounts()`` lists;
server work (webhooks, the dispatcher, the CLI) runs with ``caixa.scope = 'system'``. The server
logs in as a role that owns nothing, so the policies always apply to it.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SYNCED = ("accounts", "conversations", "messages", "notes", "reactions")

_TABLES = """
CREATE SEQUENCE change_seq;

CREATE FUNCTION caixa_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.xid := pg_current_xact_id();
    NEW.seq := nextval('change_seq');
    RETURN NEW;
END $$;

-- Statement-level, so a page of 500 rows costs one notification; Postgres delivers it at commit
-- and folds identical ones, so listeners (the SSE pokes) wake once per transaction.
CREATE FUNCTION caixa_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('caixa_changes', '');
    RETURN NULL;
END $$;

CREATE TABLE workspaces (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    username text NOT NULL UNIQUE,
    display_name text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('agent', 'supervisor')),
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A login session: the token itself is only on the desktop (keyring); here its SHA-256.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    user_id bigint NOT NULL REFERENCES users(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE accounts (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    name text NOT NULL,
    provider text NOT NULL,
    phone text NOT NULL DEFAULT '',
    display_name text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT 'offline',
    state_reason text NOT NULL DEFAULT '',
    -- Non-secret settings (ids, URLs); the credentials are in ``secrets``, encrypted with the
    -- server key (never synced to desktops).
    config jsonb NOT NULL DEFAULT '{}',
    secrets bytea,
    automations jsonb NOT NULL DEFAULT '{}',
    sort_order integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted boolean NOT NULL DEFAULT false,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq bigint NOT NULL DEFAULT nextval('change_seq'),
    UNIQUE (workspace_id, name)
);

-- The numbers an agent may see (supervisors see every number of their workspace).
CREATE TABLE user_accounts (
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, account_id)
);

CREATE TABLE conversations (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    account_id bigint NOT NULL REFERENCES accounts(id),
    chat_key text NOT NULL,
    customer_phone text NOT NULL DEFAULT '',
    customer_name text NOT NULL DEFAULT '',
    is_group boolean NOT NULL DEFAULT false,
    last_message_at bigint NOT NULL DEFAULT 0,
    last_preview text NOT NULL DEFAULT '',
    last_direction text,
    last_status text,
    last_inbound_at bigint,
    unread_count integer NOT NULL DEFAULT 0,
    assigned_user_id bigint REFERENCES users(id),
    labels text[] NOT NULL DEFAULT '{}',
    -- Bumped by every claim or assignment: a claim names the version it saw, so two agents
    -- claiming at once get one success and one reported conflict, never a silent steal.
    version integer NOT NULL DEFAULT 1,
    deleted boolean NOT NULL DEFAULT false,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq bigint NOT NULL DEFAULT nextval('change_seq'),
    UNIQUE (account_id, chat_key)
);

CREATE TABLE chat_aliases (
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    account_id bigint NOT NULL REFERENCES accounts(id),
    alias text NOT NULL,
    chat_key text NOT NULL,
    PRIMARY KEY (account_id, alias)
);

CREATE TABLE messages (
    id uuid PRIMARY KEY,  -- UUIDv7, made by the client that wrote it (or by the server)
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    account_id bigint NOT NULL REFERENCES accounts(id),
    conversation_id bigint NOT NULL REFERENCES conversations(id),
    provider_message_id text,
    direction text NOT NULL CHECK (direction IN ('in', 'out')),
    ts bigint NOT NULL,  -- epoch milliseconds
    type text NOT NULL,
    body text NOT NULL DEFAULT '',
    sender_name text NOT NULL DEFAULT '',
    reply_to text,
    media jsonb,
    status text NOT NULL,
    error text,
    author_user_id bigint REFERENCES users(id),
    edited_at bigint,
    revoked_at bigint,
    deleted boolean NOT NULL DEFAULT false,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq bigint NOT NULL DEFAULT nextval('change_seq')
);
CREATE UNIQUE INDEX messages_provider_id ON messages (account_id, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX messages_conversation_time ON messages (conversation_id, ts);

CREATE TABLE reactions (
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    account_id bigint NOT NULL REFERENCES accounts(id),
    target_id text NOT NULL,  -- the provider id of the message reacted to
    sender text NOT NULL,
    emoji text NOT NULL,  -- '' is a removed reaction (a tombstone that syncs)
    ts bigint NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq bigint NOT NULL DEFAULT nextval('change_seq'),
    PRIMARY KEY (account_id, target_id, sender)
);

CREATE TABLE notes (
    id uuid PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    account_id bigint NOT NULL REFERENCES accounts(id),
    conversation_id bigint NOT NULL REFERENCES conversations(id),
    author_user_id bigint REFERENCES users(id),
    body text NOT NULL,
    ts bigint NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq bigint NOT NULL DEFAULT nextval('change_seq')
);

-- Sends waiting for the dispatcher. ``state``: pending → sending → done. A row left in
-- "sending" by a crash is never sent again: recovery marks its message "unknown".
CREATE TABLE outbox (
    message_id uuid PRIMARY KEY REFERENCES messages(id),
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    account_id bigint NOT NULL REFERENCES accounts(id),
    conversation_id bigint NOT NULL REFERENCES conversations(id),
    recipient text NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'done')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_error text
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, created_at) WHERE state = 'pending';

-- Client commands applied once: a command pushed again returns the result it had the first time.
CREATE TABLE commands (
    id uuid PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    user_id bigint NOT NULL REFERENCES users(id),
    kind text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    result jsonb NOT NULL DEFAULT '{}'
);
"""

_RLS = """
-- The numbers the current agent may see. SECURITY DEFINER: it reads users and user_accounts as
-- their owner (no policy recursion); STABLE and used by the policies as an uncorrelated sub-select,
-- so it runs once per statement (a hashed subplan), not once per row.
CREATE FUNCTION caixa_visible_accounts() RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT CASE
        WHEN u.role = 'supervisor' THEN
            (SELECT coalesce(array_agg(a.id), '{}') FROM accounts a
              WHERE a.workspace_id = u.workspace_id)
        ELSE
            (SELECT coalesce(array_agg(ua.account_id), '{}') FROM user_accounts ua
              WHERE ua.user_id = u.id)
    END
    FROM users u
    WHERE u.id = nullif(current_setting('caixa.user_id', true), '')::bigint
      AND u.workspace_id = nullif(current_setting('caixa.workspace_id', true), '')::bigint
      AND NOT u.disabled
$$;

CREATE FUNCTION caixa_is_system() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('caixa.scope', true), '') = 'system'
$$;

CREATE FUNCTION caixa_workspace() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('caixa.workspace_id', true), '')::bigint
$$;
"""


def _policy(table: str, account_column: str | None) -> str:
    tenant = "workspace_id = (SELECT caixa_workspace())"
    if account_column:
        tenant += f" AND {account_column} IN (SELECT unnest(caixa_visible_accounts()))"
    return f"""
        ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
        CREATE POLICY caixa_scope ON {table}
            USING ((SELECT caixa_is_system()) OR ({tenant}));
    """


def upgrade() -> None:
    """Create the whole team schema."""
    op.execute(_TABLES)
    for table in SYNCED:
        op.execute(
            f"""
            CREATE INDEX {table}_change ON {table} (xid, seq);
            CREATE TRIGGER {table}_stamp BEFORE INSERT OR UPDATE ON {table}
                FOR EACH ROW EXECUTE FUNCTION caixa_stamp();
            CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION caixa_notify();
            """
        )
    op.execute(_RLS)
    # Tenancy, and for agents the numbers they may see.
    op.execute(_policy("accounts", "id"))
    for table in ("conversations", "messages", "reactions", "notes"):
        op.execute(_policy(table, "account_id"))
    # Teammates' names are visible within the workspace; everything else is server-only.
    op.execute(_policy("users", None))
    op.execute(_policy("user_accounts", None))
    op.execute(_policy("workspaces", None).replace("workspace_id =", "id ="))
    for table in ("sessions", "outbox", "chat_aliases", "commands"):
        op.execute(
            f"""
            ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
            CREATE POLICY caixa_scope ON {table} USING ((SELECT caixa_is_system()));
            """
        )


def downgrade() -> None:
    """Not supported: the team schema is only ever upgraded (restore a backup to go back)."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")

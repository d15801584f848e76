"""Pushed commands' texts are cleaned like every stored text (``sync.domain.text.clean_text``).

An agent's text may hold a NUL or half an emoji (pasted from elsewhere); Postgres refuses both.
The command is applied with the text cleaned (NUL removed, U+FFFD for a lone surrogate), never
refused by the database; a text that is nothing but NUL is refused as empty.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from sync.server.commands import apply_commands
from sync.store.team.database import ServerDatabase
from tests.sync.client.team_server import Team, new_id, seed

SENT = "bolo\x00 pronto \ud83d"
STORED = "bolo pronto \ufffd"


def _one(db: ServerDatabase, sql: str, **params: Any) -> Any:
    with db.system() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_texts_of_every_command_are_cleaned(server_db: ServerDatabase) -> None:
    team: Team = seed(server_db)
    ana, sup = team.principal("ana"), team.principal("sup")
    chat = team.shop_chat
    results, _ = apply_commands(
        server_db,
        ana,
        [
            {"id": new_id(), "kind": "send", "conversation_id": chat, "text": SENT},
            {"id": new_id(), "kind": "note", "conversation_id": chat, "text": SENT},
            {"id": new_id(), "kind": "label", "conversation_id": chat, "label": "vip\x00\udc00"},
            {
                "id": new_id(),
                "kind": "send",
                "conversation_id": chat,
                "text": "Olá Ana\x00",
                "template": {
                    "name": "pedido_pronto",
                    "language": "pt_BR",
                    "body_parameters": ["Ana\x00", "\ud83d"],
                },
            },
        ],
    )
    results += apply_commands(
        server_db,
        sup,
        [
            {
                "id": new_id(),
                "kind": "automation",
                "account_id": team.shop,
                "name": "away\x00",
                "enabled": True,
            }
        ],
    )[0]
    assert [r["result"] for r in results] == ["ok"] * 5, results

    bodies = {
        row[0]: row[1]
        for row in _rows(server_db, "SELECT type, body FROM messages WHERE direction = 'out'")
    }
    assert bodies == {"text": STORED, "template": "Olá Ana"}
    template = _one(server_db, "SELECT media FROM messages WHERE type = 'template'")
    assert template["template"]["body_parameters"] == ["Ana", "\ufffd"]
    assert _one(server_db, "SELECT body FROM notes") == STORED
    labels = _one(server_db, "SELECT labels FROM conversations WHERE id = :c", c=chat)
    assert labels == ["vip\ufffd"]
    automations = _one(server_db, "SELECT automations FROM accounts WHERE id = :a", a=team.shop)
    assert automations == {"away": True}


def test_a_text_of_nothing_but_nul_is_refused_as_empty(server_db: ServerDatabase) -> None:
    team = seed(server_db)
    [result], _ = apply_commands(
        server_db,
        team.principal("ana"),
        [{"id": new_id(), "kind": "note", "conversation_id": team.shop_chat, "text": "\x00 \x00"}],
    )
    assert result["result"] == "invalid" and "non-empty" in result["error"]
    assert _one(server_db, "SELECT count(*) FROM notes") == 0


def _rows(db: ServerDatabase, sql: str) -> list[Any]:
    with db.system() as conn:
        return list(conn.execute(text(sql)).all())

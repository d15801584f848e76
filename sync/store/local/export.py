"""Export every message (or one number's) as JSON Lines or CSV, streamed.

One record per message, in this order of fields (the README documents it):
``account``, ``customer_phone``, ``customer_name``, ``message_id``, ``provider_message_id``,
``direction`` (in|out), ``timestamp`` (ISO 8601, UTC), ``type``, ``text`` (text or caption),
``reply_to``, ``status``, ``error``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from sync.store.local.local_cache import LocalCache


FIELDS = (
    "account",
    "customer_phone",
    "customer_name",
    "message_id",
    "provider_message_id",
    "direction",
    "timestamp",
    "type",
    "text",
    "reply_to",
    "status",
    "error",
)

_SQL = """
SELECT a.name, c.customer_phone, c.customer_name, m.id, m.provider_message_id, m.direction,
       m.ts, m.type, m.body, m.reply_to, m.status, m.error
FROM messages m
JOIN conversations c ON c.id = m.conversation_id
JOIN accounts a ON a.id = m.account_id
{where}
ORDER BY a.sort_order, a.id, c.id, m.ts, m.seq
"""


class UnknownAccount(LookupError):
    """No number has the requested name."""


def iter_records(cache: LocalCache, account: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield one dict per message, in export field order."""
    params: tuple[Any, ...] = ()
    where = ""
    if account is not None:
        found = cache.conn.exec_driver_sql(
            "SELECT 1 FROM accounts WHERE name = ?", (account,)
        ).first()
        if found is None:
            raise UnknownAccount(account)
        where, params = "WHERE a.name = ?", (account,)
    cursor = cache.raw_cursor()
    try:
        cursor.execute(_SQL.format(where=where), params)
        while rows := cursor.fetchmany(2000):
            for row in rows:
                record = dict(zip(FIELDS, row, strict=True))
                record["timestamp"] = (
                    dt.datetime.fromtimestamp(row[6] / 1000, tz=dt.UTC)
                    .isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z")
                )
                yield record
    finally:
        cursor.close()


def write_export(cache: LocalCache, out: TextIO, fmt: str, account: str | None = None) -> int:
    """Write the export to ``out`` in ``fmt`` ("jsonl" or "csv"); return the record count."""
    count = 0
    if fmt == "jsonl":
        for record in iter_records(cache, account):
            out.write(json.dumps(record, ensure_ascii=False))
            out.write("\n")
            count += 1
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for record in iter_records(cache, account):
            writer.writerow(record)
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r} (use jsonl or csv)")
    return count

"""``caixa webhook parse``: what the receiver would make of one webhook call, without storing it.

::

    caixa webhook parse --provider meta|evolution|gateway --account-json FILE
        [--header 'Name: value']... [--method GET|POST] [--query name=value]...
        [--path-instance X] [--path-event Y] [BODY]

``BODY`` is the raw body: the text itself (its exact bytes), ``@path`` (a file, read as bytes,
so a signature computed over the file verifies) or ``-`` (standard input, as bytes); absent, the
body is empty (Meta's GET handshake). ``--account-json`` takes the same file as
``caixa accounts add --from-json``, once per number (a Meta call can carry entries for several
numbers of the same app); no cache and no keyring are involved. For Evolution and the
gateway the instance in the URL (``/hooks/<provider>/<instance>``) is ``--path-instance``, by
default the first account's own ``instance`` (how the receiver is set up); ``--path-event`` is
Evolution's ``webhookByEvents`` suffix (``messages-upsert``). Headers are parsed as the
receiver does (``sync/ingress/webhook_request.py``): names without regard to case, repeats joined.

Output: one JSON object per event on standard output, in the order the parser produced them
(``sync.domain.events.to_json``, UTF-8, not ASCII-escaped); for Meta's GET handshake, the text the
receiver would answer (the challenge). Exit codes: 0 parsed; 2 refused as unauthenticated (bad
or missing signature or token: the receiver would answer 401/403); 3 refused as a bad payload
(the receiver would answer 4xx); 1 the command itself could not run (unreadable account file or
body file, bad ``--header``/``--query``, a parser bug). The reason goes to standard error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import BinaryIO, NoReturn, TextIO

from sync.commands.common import InputError, read_json_file


class _UsageParser(argparse.ArgumentParser):
    """Usage errors exit 1 here: 2 and 3 mean "refused" for this command."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``caixa webhook parse``."""
    webhook = subparsers.add_parser("webhook", help="work with provider webhooks offline")
    actions = webhook.add_subparsers(
        dest="webhook_command", required=True, metavar="ACTION", parser_class=_UsageParser
    )
    parse = actions.add_parser(
        "parse",
        help="print the events a webhook call carries (nothing is stored)",
        description="Print the normalized events of one webhook call, one JSON object per "
        "line. Exit codes: 0 parsed, 2 unauthenticated, 3 bad payload, 1 usage error.",
    )
    from sync.providers import registry

    kinds = [spec.kind for spec in registry.webhook_providers()]
    parse.add_argument("--provider", required=True, choices=kinds)
    parse.add_argument(
        "--account-json",
        required=True,
        action="append",
        metavar="FILE",
        help="a number, as for accounts add (repeat for several: one Meta call can carry "
        "entries for several numbers of the same app)",
    )
    parse.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeat for several)",
    )
    parse.add_argument("--method", default="POST", type=str.upper, choices=("GET", "POST"))
    parse.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a URL query parameter, already decoded (repeat for several)",
    )
    parse.add_argument("--path-instance", help="the {instance} of the URL (evolution, gateway)")
    parse.add_argument("--path-event", default="", help="Evolution's webhookByEvents suffix")
    parse.add_argument(
        "body",
        nargs="?",
        default="",
        metavar="BODY",
        help="the raw body, @FILE for a file's bytes, or - for standard input",
    )


def run(
    args: argparse.Namespace,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: BinaryIO | None = None,
) -> int:
    """Carry out ``caixa webhook parse``; returns the exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    from sync.domain.events import to_json
    from sync.ingress.webhook_request import build_request, combine_headers
    from sync.providers.accounts import AccountConfigError, ProviderAccount, account_from_json
    from sync.providers.base import WebhookRejected
    from sync.providers.registry import webhook_parser

    def fail(message: str) -> int:
        print(f"caixa: {message}", file=err)
        return 1

    accounts: list[ProviderAccount] = []
    for account_id, path in enumerate(args.account_json, start=1):
        try:
            account = account_from_json(read_json_file(Path(path)), account_id=account_id)
        except InputError as exc:
            return fail(str(exc))
        except AccountConfigError as exc:
            return fail(f"{path}: {exc}")
        if account.provider != args.provider:
            return fail(f"{path} describes a {account.provider} number, not {args.provider}")
        if any(other.name == account.name for other in accounts):
            return fail(f"{path}: two --account-json files name the number {account.name!r}")
        accounts.append(account)
    names = {account.account_id: account.name for account in accounts}
    header_pairs: list[tuple[str, str]] = []
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t\r\n"):
            return fail(f"--header must look like 'Name: value', got {item!r}")
        header_pairs.append((name, value))
    query: dict[str, str] = {}
    for item in args.query:
        name, sep, value = item.partition("=")
        if not sep:
            return fail(f"--query must look like name=value, got {item!r}")
        query.setdefault(name, value)
    try:
        body = _read_body(args.body, stdin)
    except InputError as exc:
        return fail(str(exc))
    instance = args.path_instance
    if instance is None:
        instance = getattr(accounts[0], "instance", "")
    request = build_request(
        method=args.method,
        headers=combine_headers(header_pairs),
        body=body,
        query=query,
        instance=instance,
        event=args.path_event,
    )
    try:
        result = webhook_parser(args.provider)(request, accounts)
    except WebhookRejected as exc:
        print(f"caixa: refused ({exc.status_code}): {exc.reason}", file=err)
        return int(exc.exit_code)
    except Exception as exc:  # the parser broke its contract; say so plainly
        return fail(f"the {args.provider} parser failed unexpectedly ({type(exc).__name__})")
    lines = [_json_line(to_json(event, names[event.account_id])) for event in result.events]
    if result.response_text:
        lines.append(result.response_text)
    text = "".join(line + "\n" for line in lines)
    if stdout is None:
        # UTF-8 whatever the console's code page: the output is data, read by programs.
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8", "backslashreplace"))
        sys.stdout.buffer.flush()
    else:
        out.write(text)
    return 0


def _json_line(record: dict[str, object]) -> str:
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (JSON allows "\\ud800"; UTF-8 cannot carry it): escape this line.
        line = json.dumps(record)
    return line


def _read_body(body: str, stdin: BinaryIO | None) -> bytes:
    if body == "-":
        return (stdin or sys.stdin.buffer).read()
    if body.startswith("@"):
        path = Path(body[1:])
        try:
            return path.read_bytes()
        except OSError as exc:
            raise InputError(
                f"cannot read the body file {path}: {exc.strerror or type(exc).__name__}"
            ) from None
    # The argument's own bytes: on POSIX, os.fsencode undoes Python's decoding of argv exactly
    # (surrogateescape), so even a body that is not valid UTF-8 arrives byte for byte.
    return os.fsencode(body)

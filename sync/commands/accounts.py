"""``caixa accounts add --from-json FILE`` and ``caixa accounts list``: numbers, headless.

``add`` reads one number's description (the JSON shape of ``sync/providers/accounts.py``),
validates it, and adds it to the local cache (made on first use), its credentials going where
``sync/store/secrets.py`` says: the OS keyring, or, on a machine without one and with
``--key-file`` / ``CAIXA_KEY_FILE``, the encrypted cache. It prints the new number as JSON,
without secrets. Nothing is checked with the provider (that needs the network; the app does it
when it starts the number).

``list`` prints one line per number: name, provider, phone, state (and why), never a secret;
``--json`` prints one JSON object per line instead.

Exit codes: 0 done; 1 refused or failed, with the reason on stderr (unreadable or invalid JSON,
unknown field, duplicate name, no keyring and no key file, cache that cannot be opened);
2 bad arguments (argparse's convention).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sync.commands.common import InputError, add_common_arguments, read_json_file

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``caixa accounts add`` and ``caixa accounts list``."""
    accounts = subparsers.add_parser("accounts", help="add and list numbers")
    actions = accounts.add_subparsers(dest="accounts_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a number from a JSON description")
    add_common_arguments(add, subcommand=True)
    add.add_argument("--from-json", required=True, metavar="FILE", help="the number's description")
    listing = actions.add_parser("list", help="show every number and its state")
    add_common_arguments(listing, subcommand=True)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")


def run(
    args: argparse.Namespace,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    keyring_backend: KeyringBackend | None = None,
) -> int:
    """Carry out ``caixa accounts add|list``; returns the exit code.

    ``keyring_backend`` replaces the OS keyring (tests hand in an in-memory one).
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    if args.accounts_command == "add":
        return _add(args, out, err, keyring_backend)
    return _list(args, out, err, keyring_backend)


def _add(args: argparse.Namespace, out: TextIO, err: TextIO, backend: KeyringBackend | None) -> int:
    from sync.providers.accounts import AccountConfigError, account_from_json
    from sync.settings import remove_cache_files, resolve_paths
    from sync.store.local.accounts import AccountStoreError, add_provider_account, describe
    from sync.store.local.cache_errors import CacheOpenError
    from sync.store.local.cache_key import CacheKeyError, resolve_cache_key
    from sync.store.secrets import AccountSecrets, SecretStoreError

    source = Path(args.from_json)
    try:
        account = account_from_json(read_json_file(source))
    except InputError as exc:
        return _fail(err, str(exc))
    except AccountConfigError as exc:
        return _fail(err, f"{source}: {exc}")
    paths = resolve_paths(args.data_dir, args.key_file)
    cache_path = paths.cache_path(demo=args.demo)
    secrets = AccountSecrets(cache_path, key_file=paths.key_file, keyring_backend=backend)
    try:
        # Before the cache is made: with nowhere safe for the credentials, nothing is created.
        store = secrets.store_for_new_account()
        key = resolve_cache_key(
            cache_path,
            key_file=paths.key_file,
            passcode=os.environ.get("CAIXA_PASSCODE"),
            keyring_backend=backend,
            create=True,
        )
    except (SecretStoreError, CacheKeyError) as exc:
        return _fail(err, str(exc))
    from sync.store.local.local_cache import LocalCache

    fresh = not cache_path.exists()
    try:
        cache = LocalCache.open(cache_path, key)
    except CacheOpenError as exc:
        return _fail(err, str(exc))
    try:
        added = add_provider_account(cache, account, store)
    except (AccountStoreError, SecretStoreError) as exc:
        cache.close()
        if fresh:
            # A cache made only for this number would make the app skip its first-run screen
            # and open an empty workspace: nothing is left behind.
            remove_cache_files(cache_path)
        return _fail(err, str(exc))
    cache.close()
    out.write(json.dumps(describe(added), ensure_ascii=False) + "\n")
    where = "the system keyring" if store.where == "keyring" else "the encrypted cache"
    print(f"caixa: added {added.name!r}; its credentials are in {where}", file=err)
    return 0


def _list(
    args: argparse.Namespace, out: TextIO, err: TextIO, backend: KeyringBackend | None
) -> int:
    from sync.settings import resolve_paths
    from sync.store.local.accounts import list_account_summaries
    from sync.store.local.cache_errors import CacheOpenError
    from sync.store.local.cache_key import CacheKeyError, resolve_cache_key

    paths = resolve_paths(args.data_dir, args.key_file)
    cache_path = paths.cache_path(demo=args.demo)
    if not cache_path.exists():
        print("caixa: no numbers yet (add one with: caixa accounts add --from-json FILE)", file=err)
        return 0
    from sync.store.local.local_cache import LocalCache

    try:
        key = resolve_cache_key(
            cache_path,
            key_file=paths.key_file,
            passcode=os.environ.get("CAIXA_PASSCODE"),
            keyring_backend=backend,
            create=False,
        )
        cache = LocalCache.open(cache_path, key)
    except (CacheKeyError, CacheOpenError) as exc:
        return _fail(err, str(exc))
    try:
        summaries = list_account_summaries(cache)
    finally:
        cache.close()
    for s in summaries:
        if args.json:
            record: dict[str, Any] = {
                "id": s.id,
                "name": s.name,
                "provider": s.provider,
                "phone": s.phone,
                "display_name": s.display_name,
                "state": s.state.value,
                "state_reason": s.state_reason,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            state = s.state.value + (f" ({s.state_reason})" if s.state_reason else "")
            out.write(f"{s.name}\t{s.provider}\t{s.phone or '-'}\t{state}\n")
    if not summaries:
        print("caixa: no numbers yet (add one with: caixa accounts add --from-json FILE)", file=err)
    return 0


def _fail(err: TextIO, message: str) -> int:
    print(f"caixa: {message}", file=err)
    return 1

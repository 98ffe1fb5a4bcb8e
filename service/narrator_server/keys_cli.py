"""`narrator keys create|list|revoke`: API keys in the store the server uses (the same
NARRATOR_DATA_DIR); running servers pick changes up within NARRATOR_KEY_REFRESH_S."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING

from .core.errors import InvalidArgument, StoreUnavailable
from .core.keys import KeyUsage, new_key
from .core.models import KeyLimits
from .core.usage import utc_day
from .store.opening import StoreOpenError, open_store

if TYPE_CHECKING:
    import argparse

    from .core.keys import ApiKey, KeyStore
    from .settings import Settings

LIMIT_FLAGS = (
    ("requests_per_minute", "--requests-per-minute", "requests per minute for the key", "rpm"),
    ("tokens_per_minute", "--tokens-per-minute", "output tokens per minute for the key", "tpm"),
    ("tokens_per_day", "--tokens-per-day", "input + output tokens per UTC day", "tpd"),
    ("player_requests_per_minute", "--player-requests-per-minute",
     "requests per minute for each player the key acts for", "player rpm"),
)  # fmt: skip


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="create a key; prints it once, on the last line")
    create.add_argument("name", help="the key's name (1-64 of A-Z a-z 0-9 _ . : @ -)")
    create.add_argument("--tenant", default="", help="the tenant owning its sessions (the name)")
    for _, flag, meaning, _ in LIMIT_FLAGS:
        create.add_argument(flag, type=int, default=0, metavar="N", help=f"{meaning} (0: none)")
    actions.add_parser("list", help="every key: limits, last use, revocation, usage today")
    revoke = actions.add_parser("revoke", help="revoke a key by id or by name")
    revoke.add_argument("key", metavar="ID|NAME")


def run(settings: Settings, args: argparse.Namespace) -> None:
    """Runs one `keys` command; a failure exits with a one-line `narrator: ...` message."""
    try:
        asyncio.run(_run(settings, args))
    except InvalidArgument as error:
        flags = {field: flag for field, flag, *_ in LIMIT_FLAGS} | {"tenant": "--tenant"}
        sys.exit(
            "\n".join(
                f"narrator: {flags.get(v.field, v.field)}: {v.description}"
                for v in error.violations
            )
        )
    except StoreOpenError as error:
        sys.exit(f"narrator: {error}")
    except StoreUnavailable as error:
        sys.exit(f"narrator: the database cannot be used now: {error}")


async def _run(settings: Settings, args: argparse.Namespace) -> None:
    store = await open_store(settings, server=False)
    try:
        command = {"create": _create, "list": _list, "revoke": _revoke}[args.keys_command]
        await command(store.keys, args)
    finally:
        await store.close()


async def _create(keys: KeyStore, args: argparse.Namespace) -> None:
    limits = KeyLimits(**{field: getattr(args, field) for field, *_ in LIMIT_FLAGS})
    key, token = new_key(args.name, args.tenant, limits, time.time())
    await keys.create_key(key)
    print(f"created key {key.key_id} named {key.name!r} for tenant {key.tenant!r}")
    print(f"limits: {_limits(key.limits)}")
    print("the key is shown only now; keep it secret (the server stores only a hash of it):")
    print(token)


async def _list(keys: KeyStore, args: argparse.Namespace) -> None:
    found = await keys.list_keys()
    if not found:
        print("no API keys; create one with `narrator keys create NAME`")
        return
    today = await keys.key_usage(utc_day(time.time()))
    header = ("ID", "NAME", "TENANT", "LIMITS", "CREATED", "LAST USED", "REVOKED",
              "REQUESTS TODAY", "TOKENS TODAY")  # fmt: skip
    rows = [header] + [_row(k, today.get(k.key_id, KeyUsage())) for k in found]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    print("(times in UTC; usage is written by running servers every NARRATOR_KEY_REFRESH_S)")


def _row(key: ApiKey, today: KeyUsage) -> tuple[str, ...]:
    return (
        key.key_id, key.name, key.tenant, _limits(key.limits), _time(key.created_at),
        _time(key.last_used_at), _time(key.revoked_at), str(today.requests),
        f"{today.tokens} ({today.input_tokens} in, {today.output_tokens} out)",
    )  # fmt: skip


async def _revoke(keys: KeyStore, args: argparse.Namespace) -> None:
    now = time.time()
    key = await keys.revoke_key(args.key, now)
    if key is None:
        sys.exit(f"narrator: no key has the id or the active name {args.key!r}")
    if key.revoked_at != now:
        print(f"key {key.key_id} ({key.name!r}) was already revoked at {_time(key.revoked_at)}")
        return
    print(
        f"revoked key {key.key_id} ({key.name!r}, tenant {key.tenant!r}); running servers "
        "refuse it within NARRATOR_KEY_REFRESH_S"
    )


def _limits(limits: KeyLimits) -> str:
    shown = [
        f"{short}={getattr(limits, field)}"
        for field, _, _, short in LIMIT_FLAGS
        if getattr(limits, field)
    ]
    return ", ".join(shown) or "none"


def _time(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) if at is not None else "-"

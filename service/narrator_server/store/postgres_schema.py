"""The PostgreSQL schema as numbered migrations, applied in order at start.

Applied versions are rows of `schema_migrations`. Every replica runs `migrate` when it starts:
a session-level advisory lock makes concurrent starts take turns, so each step runs once, in
its own transaction (a failed step leaves nothing behind). Never edit a released step; add the
next one, and keep each step additive so that servers of the previous release keep working
while a deploy rolls.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg import AsyncConnection

log = logging.getLogger(__name__)

# pg_advisory_lock key: "narrator" in ASCII, so the lock is recognisable in pg_locks.
LOCK_KEY = int.from_bytes(b"narrator", "big") - 2**63
# A replica waits this long for another one's migration before it gives up starting.
LOCK_WAIT_S = 120

_V1 = (
    """
    CREATE TABLE sessions (
        id text PRIMARY KEY,
        tenant text NOT NULL DEFAULT '',
        world text NOT NULL,
        tone text NOT NULL,
        player_name text NOT NULL,
        player_description text NOT NULL,
        seed bigint NOT NULL,  -- the uint64 seed as a signed 64-bit integer
        created_at double precision NOT NULL,  -- seconds since the epoch
        content_rating text NOT NULL DEFAULT 'teen'
    )
    """,
    "CREATE INDEX sessions_by_tenant ON sessions (tenant, created_at)",
    """
    CREATE TABLE turns (
        session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        id text NOT NULL,
        stored_order bigint GENERATED ALWAYS AS IDENTITY,  -- breaks ties of created_at
        kind text NOT NULL,
        input text NOT NULL,
        scene text NOT NULL,  -- JSON, as store/codec.py writes it
        text text NOT NULL,
        status text NOT NULL,
        provider text NOT NULL,
        model text NOT NULL,
        input_tokens integer NOT NULL,
        output_tokens integer NOT NULL,
        usage_estimated boolean NOT NULL DEFAULT false,
        cached_input_tokens integer NOT NULL DEFAULT 0,
        finish_reason text NOT NULL,
        decision text,  -- JSON
        created_at double precision NOT NULL,
        recoveries text NOT NULL DEFAULT '[]',  -- JSON
        delta_lengths text NOT NULL DEFAULT '[]',  -- JSON
        options text NOT NULL DEFAULT '[]',  -- JSON
        default_option_id text NOT NULL DEFAULT '',
        replaces_turn_id text NOT NULL DEFAULT '',
        superseded boolean NOT NULL DEFAULT false,
        PRIMARY KEY (session_id, id)
    )
    """,
    "CREATE INDEX turns_in_order ON turns (session_id, created_at, stored_order)",
    "CREATE INDEX turns_running ON turns (created_at) WHERE status = 'running'",
    "CREATE TABLE probe (id integer PRIMARY KEY, at double precision NOT NULL)",
)

# API keys (only a hash of each secret), their daily usage, and a revision number that moves
# with every created or revoked key (what a server polls to refresh its keys).
_V2 = (
    """
    CREATE TABLE api_keys (
        id text PRIMARY KEY,
        name text NOT NULL,
        tenant text NOT NULL,
        secret_hash text NOT NULL,
        requests_per_minute bigint NOT NULL DEFAULT 0,
        tokens_per_minute bigint NOT NULL DEFAULT 0,
        tokens_per_day bigint NOT NULL DEFAULT 0,
        player_requests_per_minute bigint NOT NULL DEFAULT 0,
        created_at double precision NOT NULL,
        last_used_at double precision,
        revoked_at double precision
    )
    """,
    "CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL",
    """
    CREATE TABLE api_key_usage (
        key_id text NOT NULL REFERENCES api_keys (id),
        day text NOT NULL,
        requests bigint NOT NULL DEFAULT 0,
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (key_id, day)
    )
    """,
    "CREATE TABLE api_key_revision (id integer PRIMARY KEY CHECK (id = 1), value bigint NOT NULL)",
    "INSERT INTO api_key_revision (id, value) VALUES (1, 0)",
)

# Campaign memory: lore entries (with a per-session revision for matcher caches), rolling
# summaries with the turns they cover, and the recorded prompt of each turn. Additive.
_V3 = (
    "ALTER TABLE sessions ADD COLUMN lore_revision bigint NOT NULL DEFAULT 0",
    """
    CREATE TABLE lore (
        session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        id text NOT NULL,
        keys text NOT NULL,  -- JSON list
        content text NOT NULL,
        priority integer NOT NULL,
        always_on boolean NOT NULL,
        updated_at double precision NOT NULL,
        PRIMARY KEY (session_id, id)
    )
    """,
    """
    CREATE TABLE summaries (
        session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        stored_order bigint GENERATED ALWAYS AS IDENTITY,
        text text NOT NULL,
        first_turn_id text NOT NULL,
        last_turn_id text NOT NULL,
        through double precision NOT NULL,
        turn_count integer NOT NULL,
        source text NOT NULL,
        created_at double precision NOT NULL
    )
    """,
    "CREATE INDEX summaries_by_session ON summaries (session_id, through, stored_order)",
    """
    CREATE TABLE turn_contexts (
        session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        turn_id text NOT NULL,
        sections bytea NOT NULL,  -- zlib-compressed JSON, as store/memory_codec.py writes it
        created_at double precision NOT NULL,
        PRIMARY KEY (session_id, turn_id)
    )
    """,
    "CREATE INDEX turn_contexts_by_session ON turn_contexts (session_id, created_at)",
)

# Each session's turn count kept by the database: a trigger counts every turn row inserted (by
# any replica, of any release), so a read no longer counts the session's turns. Additive.
_V4 = (
    "ALTER TABLE sessions ADD COLUMN turn_total bigint NOT NULL DEFAULT 0",
    """
    CREATE FUNCTION narrator_count_turn() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE sessions SET turn_total = turn_total + 1 WHERE id = NEW.session_id;
        RETURN NULL;
    END
    $$
    """,
    "CREATE TRIGGER turns_counted AFTER INSERT ON turns"
    " FOR EACH ROW EXECUTE FUNCTION narrator_count_turn()",
    # After the trigger, in the same transaction: inserts wait for it to commit.
    "UPDATE sessions SET turn_total = (SELECT count(*) FROM turns WHERE session_id = sessions.id)",
)

# version -> (what it does, its statements)
MIGRATIONS: dict[int, tuple[str, tuple[str, ...]]] = {
    1: ("sessions and turns", _V1),
    2: ("API keys and their usage", _V2),
    3: ("campaign memory: lore, summaries, turn contexts", _V3),
    4: ("turn counts kept by a trigger", _V4),
}
VERSION = max(MIGRATIONS)


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this server (one line, says why)."""


async def migrate(conn: AsyncConnection[Any]) -> list[int]:
    """Brings the database to `VERSION`; returns the versions this call applied. `conn` is in
    autocommit mode; the advisory lock is released however this ends."""
    await conn.execute(f"SET lock_timeout = '{LOCK_WAIT_S}s'")
    await conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY,"
            " description text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor = await conn.execute("SELECT version FROM schema_migrations")
        present = {int(row[0]) for row in await cursor.fetchall()}
        newest = max(present, default=0)
        if newest > VERSION:
            raise SchemaError(
                f"the database is at schema version {newest}, newer than this server's "
                f"{VERSION}: run a release that knows it"
            )
        applied = []
        for version in sorted(set(MIGRATIONS) - present):
            description, statements = MIGRATIONS[version]
            async with conn.transaction():
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                    (version, description),
                )
            log.info("schema migration applied", extra={"version": version, "step": description})
            applied.append(version)
        return applied
    finally:
        if not conn.closed:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            await conn.execute("RESET lock_timeout")

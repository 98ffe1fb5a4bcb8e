"""The SQLite schema as numbered migrations, applied in order at start (`PRAGMA user_version`).

A data dir made by any earlier release is brought up to date; never edit a released step, add
the next one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .sqlite_recent import WINDOW_TRIGGERS

if TYPE_CHECKING:
    import sqlite3

# Version 1: the first release's tables (data dirs made before versioning have them unversioned).
_V1 = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    world TEXT NOT NULL,
    tone TEXT NOT NULL,
    player_name TEXT NOT NULL,
    player_description TEXT NOT NULL,
    seed INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    input TEXT NOT NULL,
    scene TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    finish_reason TEXT NOT NULL,
    decision TEXT,
    created_at REAL NOT NULL
);
"""
_V1_LATE_COLUMNS = {
    "recoveries": "ALTER TABLE turns ADD COLUMN recoveries TEXT NOT NULL DEFAULT '[]'",
    "delta_lengths": "ALTER TABLE turns ADD COLUMN delta_lengths TEXT NOT NULL DEFAULT '[]'",
}

# Version 2: tenants and ratings; turns keyed by (session, turn id), claimed when they start.
_V2 = """
ALTER TABLE sessions ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN content_rating TEXT NOT NULL DEFAULT 'teen';
CREATE INDEX sessions_by_tenant ON sessions(tenant);
CREATE TABLE turns_v2 (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    input TEXT NOT NULL,
    scene TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    usage_estimated INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    finish_reason TEXT NOT NULL,
    decision TEXT,
    created_at REAL NOT NULL,
    recoveries TEXT NOT NULL DEFAULT '[]',
    delta_lengths TEXT NOT NULL DEFAULT '[]',
    options TEXT NOT NULL DEFAULT '[]',
    default_option_id TEXT NOT NULL DEFAULT '',
    replaces_turn_id TEXT NOT NULL DEFAULT '',
    superseded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, id)
);
INSERT INTO turns_v2 (session_id, id, kind, input, scene, text, status, provider, model,
    input_tokens, output_tokens, finish_reason, decision, created_at, recoveries, delta_lengths)
    SELECT session_id, id, kind, input, scene, text, status, provider, model, input_tokens,
    output_tokens, finish_reason, decision, created_at, recoveries, delta_lengths FROM turns
    ORDER BY rowid;
DROP TABLE turns;
ALTER TABLE turns_v2 RENAME TO turns;
CREATE INDEX turns_by_session ON turns(session_id, created_at);
CREATE INDEX turns_running ON turns(status) WHERE status = 'running';
CREATE TABLE probe (id INTEGER PRIMARY KEY, at REAL NOT NULL);
"""

# Version 3: API keys (only a hash of each secret), their daily usage, and a revision number
# that moves with every created or revoked key (what a server polls to refresh its keys).
_V3 = """
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    tenant TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    requests_per_minute INTEGER NOT NULL DEFAULT 0,
    tokens_per_minute INTEGER NOT NULL DEFAULT 0,
    tokens_per_day INTEGER NOT NULL DEFAULT 0,
    player_requests_per_minute INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    last_used_at REAL,
    revoked_at REAL
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys(name) WHERE revoked_at IS NULL;
CREATE TABLE api_key_usage (
    key_id TEXT NOT NULL REFERENCES api_keys(id),
    day TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
);
CREATE TABLE api_key_revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO api_key_revision (id, value) VALUES (1, 0);
"""

# Version 4: campaign memory: lore entries (with a per-session revision for matcher caches),
# rolling summaries with the turns they cover, and the recorded prompt of each turn.
_V4 = """
ALTER TABLE sessions ADD COLUMN lore_revision INTEGER NOT NULL DEFAULT 0;
CREATE TABLE lore (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    keys TEXT NOT NULL,
    content TEXT NOT NULL,
    priority INTEGER NOT NULL,
    always_on INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (session_id, id)
);
CREATE TABLE summaries (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    first_turn_id TEXT NOT NULL,
    last_turn_id TEXT NOT NULL,
    through REAL NOT NULL,
    turn_count INTEGER NOT NULL,
    source TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX summaries_by_session ON summaries(session_id, through);
CREATE TABLE turn_contexts (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    turn_id TEXT NOT NULL,
    sections BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (session_id, turn_id)
);
CREATE INDEX turn_contexts_by_session ON turn_contexts(session_id, created_at);
"""

# Version 5: each session's turn count kept by the database (a trigger counts every turn row
# inserted, however it is written), instead of counting the turns on every read.
_V5 = """
ALTER TABLE sessions ADD COLUMN turn_total INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER turns_counted AFTER INSERT ON turns BEGIN
    UPDATE sessions SET turn_total = turn_total + 1 WHERE id = NEW.session_id;
END;
UPDATE sessions SET turn_total = (SELECT COUNT(*) FROM turns WHERE session_id = sessions.id);
"""

# Version 6: a version of each session's window of recent turns, bumped by triggers, so the
# memory's read checks the window it keeps decoded with the session's row (`sqlite_recent`).
_V6 = f"""
ALTER TABLE sessions ADD COLUMN window_version INTEGER NOT NULL DEFAULT 0;
{WINDOW_TRIGGERS}
"""

MIGRATIONS: dict[int, str] = {2: _V2, 3: _V3, 4: _V4, 5: _V5, 6: _V6}
VERSION = max(MIGRATIONS)


def migrate(db: sqlite3.Connection) -> None:
    """Brings the database to `VERSION`, one step a transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > VERSION:
        raise RuntimeError(
            f"the database is at schema version {version}, newer than this server's {VERSION}"
        )
    if version < 1:
        db.executescript(_V1)
        present = {row[1] for row in db.execute("PRAGMA table_info(turns)")}
        for column, statement in _V1_LATE_COLUMNS.items():
            if column not in present:
                db.execute(statement)
        db.execute("PRAGMA user_version = 1")
    for step in sorted(MIGRATIONS):
        if step > version:
            db.executescript(f"BEGIN;\n{MIGRATIONS[step]}\nPRAGMA user_version = {step};\nCOMMIT;")

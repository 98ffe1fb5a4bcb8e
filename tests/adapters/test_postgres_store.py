"""What only the PostgreSQL store has: versioned migrations shared by replicas, two replicas
claiming one turn, bounded waits, outages that end, clear reasons when it cannot start."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from narrator_server.app import App, StartupError
from narrator_server.core.errors import StoreUnavailable
from narrator_server.core.models import TurnStatus
from narrator_server.settings import Settings, SettingsError
from narrator_server.store import postgres_schema
from narrator_server.store.postgres import PostgresStore, describe
from narrator_server.testing import postgres

from .store_contract.builders import session, turn

if TYPE_CHECKING:
    from collections.abc import Iterator


async def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cursor = await conn.execute(query)  # type: ignore[arg-type]
        return await cursor.fetchall()


async def applied(url: str) -> list[int]:
    found = await rows(url, "SELECT version FROM schema_migrations ORDER BY version")
    return [r[0] for r in found]


class TestMigrations:
    async def test_each_step_is_recorded_once_and_a_restart_applies_nothing(
        self, postgres_url: str
    ) -> None:
        store = await PostgresStore.open(postgres_url)
        await store.close()
        assert await applied(postgres_url) == sorted(postgres_schema.MIGRATIONS)
        first = await rows(postgres_url, "SELECT version, applied_at FROM schema_migrations")
        store = await PostgresStore.open(postgres_url)
        await store.close()
        assert await rows(postgres_url, "SELECT version, applied_at FROM schema_migrations") == (
            first
        )

    async def test_turn_counts_are_backfilled_then_kept_by_the_trigger(
        self, postgres_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        with monkeypatch.context() as earlier:  # a database of the release before the count
            steps = {v: m for v, m in postgres_schema.MIGRATIONS.items() if v < 4}
            earlier.setattr(postgres_schema, "MIGRATIONS", steps)
            earlier.setattr(postgres_schema, "VERSION", 3)
            store = await PostgresStore.open(postgres_url)
            await store.create_session(session())
            await store.save_turn(turn("t1"))
            await store.save_turn(turn("t2", at=1_700_000_200.0))
            await store.close()
        store = await PostgresStore.open(postgres_url)
        try:
            assert 4 in await applied(postgres_url)
            got = await store.get_session("s1", 0)
            assert got is not None
            assert got.turn_count == 2
            assert await store.claim_turn(turn("t3", status=TurnStatus.RUNNING)) is None
            got = await store.get_session("s1", 0)
            assert got is not None
            assert got.turn_count == 3
            # Read from the session's row, not counted on every read.
            assert await rows(postgres_url, "SELECT turn_total FROM sessions") == [(3,)]
        finally:
            await store.close()

    async def test_replicas_starting_at_once_apply_each_step_once(self, postgres_url: str) -> None:
        conns = [
            await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) for _ in range(6)
        ]
        try:
            results = await asyncio.gather(*(postgres_schema.migrate(c) for c in conns))
        finally:
            for conn in conns:
                await conn.close()
        assert sorted(v for result in results for v in result) == sorted(postgres_schema.MIGRATIONS)
        assert await applied(postgres_url) == sorted(postgres_schema.MIGRATIONS)
        stores = await asyncio.gather(*(PostgresStore.open(postgres_url) for _ in range(4)))
        for store in stores:
            await store.check_writable()
            await store.close()

    async def test_a_failing_step_leaves_nothing_behind_and_releases_the_lock(
        self, postgres_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        good = postgres_schema.VERSION
        broken = {
            **postgres_schema.MIGRATIONS,
            good + 1: ("half done", ("CREATE TABLE half_done (x integer)", "SELECT nonsense")),
        }
        monkeypatch.setattr(postgres_schema, "MIGRATIONS", broken)
        monkeypatch.setattr(postgres_schema, "VERSION", good + 1)
        with pytest.raises(StoreUnavailable, match="schema could not be brought up to date"):
            await PostgresStore.open(postgres_url)
        assert await applied(postgres_url) == sorted(range(1, good + 1))
        tables = await rows(postgres_url, "SELECT 1 FROM pg_tables WHERE tablename = 'half_done'")
        assert tables == []
        monkeypatch.undo()
        store = await PostgresStore.open(postgres_url)  # the advisory lock was released
        await store.close()

    async def test_a_newer_schema_refuses_to_start_with_one_clear_line(
        self, postgres_url: str, tmp_path: Path
    ) -> None:
        await (await PostgresStore.open(postgres_url)).close()
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
            await conn.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (%s, 'future')",
                (postgres_schema.VERSION + 1,),
            )
        with pytest.raises(StoreUnavailable, match="newer than this server"):
            await PostgresStore.open(postgres_url)
        app = App(Settings(data_dir=tmp_path, port=0, metrics_port=-1, database_url=postgres_url))
        with pytest.raises(StartupError) as caught:
            await app.start()
        message = str(caught.value)
        assert "\n" not in message
        assert f"schema version {postgres_schema.VERSION + 1}" in message
        assert describe(postgres_url) in message
        password = postgres_url.split(":")[2].split("@")[0]
        assert password not in message


class TestReplicas:
    async def test_two_replicas_claiming_one_turn_have_exactly_one_winner(
        self, postgres_url: str
    ) -> None:
        one, two = (await PostgresStore.open(postgres_url), await PostgresStore.open(postgres_url))
        try:
            await one.create_session(session())
            for round_ in range(10):
                claims = [
                    turn(f"t{round_}", status=TurnStatus.RUNNING, input=f"replica {i % 2} #{i}")
                    for i in range(8)
                ]
                results = await asyncio.gather(
                    *((one if i % 2 else two).claim_turn(c) for i, c in enumerate(claims))
                )
                winners = [c for c, r in zip(claims, results, strict=True) if r is None]
                assert len(winners) == 1
                assert all(r == winners[0] for r in results if r is not None)
            got = await two.get_session("s1", 0)
            assert got is not None
            assert got.turn_count == 10
        finally:
            await one.close()
            await two.close()


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


class TestMemoryRead:
    async def test_it_leaves_the_delta_lengths_to_replays(self, postgres_url: str) -> None:
        store = await PostgresStore.open(postgres_url)
        try:
            await store.create_session(session())
            await store.save_turn(turn("t1", delta_lengths=(2, 3)))
            found = await store.recall("s1", 10, 0)
            assert found is not None
            assert [t.delta_lengths for t in found.turns] == [()]
            stored = await store.get_turn("s1", "t1")  # what a replay reads has them
            assert stored is not None
            assert stored.delta_lengths == (2, 3)
        finally:
            await store.close()


class TestUnreachable:
    async def test_nothing_listening_is_a_clear_reason(self) -> None:
        port = postgres.free_port()
        with pytest.raises(StoreUnavailable, match="cannot be reached"):
            await PostgresStore.open(f"postgresql://u:p@127.0.0.1:{port}/db", timeout=1.0)

    async def test_a_server_that_never_answers_does_not_hang_the_start(self) -> None:
        with (
            silent_server() as port,
            pytest.raises(StoreUnavailable, match=r"did not answer within 0\.5 s"),
        ):
            await PostgresStore.open(f"postgresql://u:p@127.0.0.1:{port}/db", timeout=0.5)

    async def test_wrong_credentials_and_missing_databases_say_so(
        self, postgres_server: postgres.PostgresServer
    ) -> None:
        wrong = postgres_server.url("postgres").replace(postgres_server.password, "wrong")
        with pytest.raises(StoreUnavailable, match="refused the credentials"):
            await PostgresStore.open(wrong)
        with pytest.raises(StoreUnavailable, match="does not exist"):
            await PostgresStore.open(postgres_server.url("no_such_database"))

    async def test_the_app_reports_one_line_without_the_password(self, tmp_path: Path) -> None:
        url = f"postgresql://narrator:s3cret@127.0.0.1:{postgres.free_port()}/game"
        app = App(Settings(data_dir=tmp_path, port=0, metrics_port=-1, database_url=url))
        with pytest.raises(StartupError) as caught:
            await app.start()
        message = str(caught.value)
        assert message.startswith("cannot use the PostgreSQL database narrator@127.0.0.1:"), message
        assert "/game: the database cannot be reached" in message
        assert "NARRATOR_DATABASE_URL" in message
        assert "s3cret" not in message
        assert "\n" not in message


class TestOutage:
    async def test_calls_fail_as_unavailable_during_an_outage_and_work_after_it(
        self, own_postgres: postgres.PostgresServer
    ) -> None:
        url = own_postgres.create_database("game")
        store = await PostgresStore.open(url, pool_size=4, timeout=1.0)
        try:
            await store.create_session(session())
            await store.claim_turn(turn("t1", status=TurnStatus.RUNNING))
            own_postgres.halt()
            calls = [
                store.check_writable(),
                store.get_session("s1", 5),
                store.save_turn(turn("t1")),
                store.claim_turn(turn("t2", status=TurnStatus.RUNNING)),
                store.running_turns(float("inf")),
            ]
            for call in calls:
                with pytest.raises(StoreUnavailable):
                    await call
            own_postgres.restart()
            await store.check_writable()  # the first call after the outage works
            await store.save_turn(turn("t1"))
            got = await store.get_session("s1", 5)
            assert got is not None
            assert [t.status for t in got.recent_turns] == [TurnStatus.COMPLETED]
        finally:
            await store.close()


class TestSettings:
    def test_the_pool_follows_the_stream_limit_unless_set(self) -> None:
        assert Settings(max_streams=256).database_pool == 16
        assert Settings(max_streams=64).database_pool == 4
        assert Settings(max_streams=1).database_pool == 4
        assert Settings(max_streams=10_000).database_pool == 16
        assert Settings(max_streams=10_000, database_pool_size=40).database_pool == 40

    def test_the_url_must_be_a_postgresql_one_and_stays_secret(self) -> None:
        assert Settings.from_env({"NARRATOR_DATABASE_URL": "postgres://u:p@h/db"}).database_url
        with pytest.raises(SettingsError) as caught:
            Settings.from_env({"NARRATOR_DATABASE_URL": "mysql://u:hunter2@h/db"})
        assert "NARRATOR_DATABASE_URL: value error, must be a postgresql:// URL" in str(
            caught.value
        )
        assert "hunter2" not in str(caught.value)


class TestPrivateServer:
    def test_it_runs_unprivileged_on_loopback_and_tcp_needs_the_password(
        self, postgres_server: postgres.PostgresServer
    ) -> None:
        status = Path(f"/proc/{postgres_server.process.pid}/status").read_text()
        uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
        assert uid != 0
        assert (postgres_server.directory / f".s.PGSQL.{postgres_server.port}").exists()
        with postgres_server.connect() as conn:
            row = conn.execute("SHOW listen_addresses").fetchone()
        assert row == ("127.0.0.1",)
        no_password = f"postgresql://{postgres.SUPERUSER}@127.0.0.1:{postgres_server.port}/postgres"
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(no_password, connect_timeout=5)

    def test_it_never_outlives_the_process_that_started_it(self) -> None:
        # (a directory the server's user can reach: pytest's tmp_path is root's alone)
        directory = Path(tempfile.mkdtemp(prefix="narrator-pg-"))
        try:
            helper = subprocess.Popen(
                [sys.executable, "-m", "narrator_server.testing.postgres", str(directory), "--fast"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            assert helper.stdout is not None
            started = json.loads(helper.stdout.readline())
            server = Path(f"/proc/{started['pid']}/stat")
            assert server.exists()
            helper.kill()  # SIGKILL: the helper cannot stop the server itself
            helper.wait()
            for _ in range(600):  # the server's fast shutdown
                if not server.exists() or server.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("PostgreSQL outlived the process that started it")
        finally:
            shutil.rmtree(directory, ignore_errors=True)

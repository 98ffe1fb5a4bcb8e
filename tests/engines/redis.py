"""A private Redis for the test run, emptied for each test that asks."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from narrator_server.testing import redis_server

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def redis_instance() -> Iterator[redis_server.RedisServer]:
    """One server for the whole run."""
    server = redis_server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def redis_url(redis_instance: redis_server.RedisServer) -> str:
    """The URL of the run's server, emptied (and running) before this test."""
    if redis_instance.process is None or redis_instance.process.poll() is not None:
        redis_instance.restart()
    redis_instance.resume()
    with socket.create_connection(("127.0.0.1", redis_instance.port), timeout=5) as s:
        s.sendall(b"FLUSHALL\r\n")
        assert s.recv(16).startswith(b"+OK")
    return redis_instance.url

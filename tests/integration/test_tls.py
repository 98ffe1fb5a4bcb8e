"""TLS and mTLS through a real server, with certificates the test makes."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import grpc
import pytest

from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator_server.app import App, StartupError

from ..certs import Pki, make_pki
from ..support import add_key, bearer, settings
from .rpcs import REQUESTS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path
    from typing import Any


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    directory = tmp_path / "pki"
    directory.mkdir()
    return make_pki(directory)


@contextlib.asynccontextmanager
async def tls_server(tmp_path: Path, pki: Pki, **overrides: Any) -> AsyncIterator[App]:
    tls = {"tls_cert_file": pki.server_cert, "tls_key_file": pki.server_key, "auth": "required"}
    config = settings(tmp_path, **(tls | overrides))
    app = App(config)
    await app.start()
    try:
        yield app
    finally:
        await app.stop(grace=0)


async def create_session(
    port: int, credentials: grpc.ChannelCredentials | None, token: str
) -> grpc.StatusCode:
    """CreateSession over a new channel: OK, or the code it failed with."""
    address = f"127.0.0.1:{port}"
    channel = (
        grpc.aio.insecure_channel(address)
        if credentials is None
        else grpc.aio.secure_channel(address, credentials)
    )
    async with channel:
        stub = pb_grpc.NarratorServiceStub(channel)
        try:
            await stub.CreateSession(REQUESTS["CreateSession"](""), metadata=bearer(token))
        except grpc.aio.AioRpcError as error:
            return error.code()
    return grpc.StatusCode.OK


async def test_tls_serves_clients_that_trust_its_ca(tmp_path: Path, pki: Pki) -> None:
    async with tls_server(tmp_path, pki) as app:
        token = await add_key(app, "studio")
        trusted = grpc.ssl_channel_credentials(Pki.read(pki.ca))
        assert await create_session(app.port, trusted, token) is grpc.StatusCode.OK
        assert await create_session(app.port, trusted, "nrk_wrong") is (
            grpc.StatusCode.UNAUTHENTICATED  # TLS does not replace the key
        )
        assert await create_session(app.port, None, token) is grpc.StatusCode.UNAVAILABLE
        stranger = grpc.ssl_channel_credentials(Pki.read(pki.stranger_cert))
        assert await create_session(app.port, stranger, token) is grpc.StatusCode.UNAVAILABLE


async def test_mtls_requires_a_client_certificate_from_its_ca(tmp_path: Path, pki: Pki) -> None:
    async with tls_server(tmp_path, pki, tls_client_ca_file=pki.ca) as app:
        token = await add_key(app, "studio")
        root = Pki.read(pki.ca)
        with_client = grpc.ssl_channel_credentials(
            root, Pki.read(pki.client_key), Pki.read(pki.client_cert)
        )
        assert await create_session(app.port, with_client, token) is grpc.StatusCode.OK
        without = grpc.ssl_channel_credentials(root)
        assert await create_session(app.port, without, token) is grpc.StatusCode.UNAVAILABLE
        foreign = grpc.ssl_channel_credentials(
            root, Pki.read(pki.stranger_key), Pki.read(pki.stranger_cert)
        )
        assert await create_session(app.port, foreign, token) is grpc.StatusCode.UNAVAILABLE


async def test_unusable_certificate_files_stop_the_start_with_a_clear_message(
    tmp_path: Path, pki: Pki
) -> None:
    cases = {
        "NARRATOR_TLS_CERT_FILE": {"tls_cert_file": tmp_path / "missing.pem"},
        "not a PEM certificate chain and its private key": {"tls_key_file": pki.client_key},
        "NARRATOR_TLS_CLIENT_CA_FILE holds no PEM CA certificate": {
            "tls_client_ca_file": pki.server_key
        },
    }
    for message, overrides in cases.items():
        with pytest.raises(StartupError, match=message):
            async with tls_server(tmp_path, pki, **overrides):
                pass

"""Who may reach the service: the authentication mode, TLS credentials, and the key refresh.

The composition root (`app.py`) calls these; they hold the startup decisions an operator
must be told about (one line each) and the background task that keeps every server's keys
and usage in step with the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from typing import TYPE_CHECKING

import grpc

from .api.auth import AuthMode
from .core.errors import StoreUnavailable

if TYPE_CHECKING:
    from pathlib import Path

    from .core.keyring import KeyRing
    from .core.keys import KeyStore
    from .settings import Settings

log = logging.getLogger(__name__)


class AccessError(Exception):
    """The service must not start this way; the message says why and what to do."""


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve beyond this machine


def auth_mode(settings: Settings, keyring: KeyRing) -> AuthMode:
    """NARRATOR_AUTH applied to where the server listens and whether any key exists; logs the
    outcome in one line. Raises `AccessError` for an open server beyond loopback."""
    if settings.auth == "off":
        log.warning(
            "authentication is off (NARRATOR_AUTH=off): anyone who reaches the port may call, "
            "as one tenant"
        )
        return AuthMode.OPEN
    if settings.auth == "required":
        return _required(keyring, AuthMode.REQUIRED)
    if not is_loopback(settings.host):
        if keyring.empty:
            raise AccessError(
                f"refusing to listen on {settings.host} (beyond loopback) with no API key: "
                "create one with `narrator keys create NAME`, or set NARRATOR_AUTH=off to "
                "serve without authentication"
            )
        return _required(keyring, AuthMode.REQUIRED)
    if not keyring.empty:
        return _required(keyring, AuthMode.UNTIL_FIRST_KEY)
    log.warning(
        "authentication is off until the first API key exists: no key yet and the server "
        "listens on loopback only (`narrator keys create NAME` turns it on)"
    )
    return AuthMode.UNTIL_FIRST_KEY


def _required(keyring: KeyRing, mode: AuthMode) -> AuthMode:
    if keyring.active:
        log.info("authentication required", extra={"active_keys": keyring.active})
    else:
        log.warning("authentication required, and no API key is active: every call is "
                    "refused until one is created (`narrator keys create NAME`)")  # fmt: skip
    return mode


def _read(path: Path, variable: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise AccessError(f"cannot read {variable} {path}: {error.strerror}") from None


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS from the certificate files (mTLS when a client CA is set); None for plaintext.
    The files are checked here, so a wrong one stops the start with a clear message."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    cert = _read(settings.tls_cert_file, "NARRATOR_TLS_CERT_FILE")
    key = _read(settings.tls_key_file, "NARRATOR_TLS_KEY_FILE")
    check = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        # An empty password: an encrypted key fails here instead of prompting on a terminal.
        check.load_cert_chain(settings.tls_cert_file, settings.tls_key_file, password=b"")
    except (ssl.SSLError, ValueError) as error:
        raise AccessError(
            "NARRATOR_TLS_CERT_FILE and NARRATOR_TLS_KEY_FILE are not a PEM certificate chain "
            f"and its private key ({error})"
        ) from None
    ca = None
    if settings.tls_client_ca_file is not None:
        ca = _read(settings.tls_client_ca_file, "NARRATOR_TLS_CLIENT_CA_FILE")
        try:
            check.load_verify_locations(cadata=ca.decode("ascii", "replace"))
        except (ssl.SSLError, ValueError) as error:
            raise AccessError(
                f"NARRATOR_TLS_CLIENT_CA_FILE holds no PEM CA certificate ({error})"
            ) from None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
    )


class KeyRefresh:
    """Every `period` seconds: pick up created and revoked keys, write the usage counted
    since the last round (one batch). `stop()` writes what is left."""

    def __init__(self, keyring: KeyRing, store: KeyStore, period: float) -> None:
        self._keyring = keyring
        self._store = store
        self._period = period
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="key-refresh")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            await self.once()

    async def once(self) -> None:
        try:
            await self._keyring.refresh()
            if self._keyring.usage.pending:
                await self._keyring.usage.flush(self._store)
        except StoreUnavailable as error:
            if not self._failing:
                log.error("cannot refresh API keys; the last known ones stay in force",
                          extra={"error": str(error)})  # fmt: skip
            self._failing = True
            return
        if self._failing:
            log.info("API keys are refreshed again")
        self._failing = False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(StoreUnavailable):
            await self._keyring.usage.flush(self._store)

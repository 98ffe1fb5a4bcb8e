"""Server interceptor: who is calling (API key), whether they may call now (request quotas).

Every NarratorService call passes here; health and reflection do not. The caller is set for
the RPC's task (`caller.CURRENT`) and for its audit line (`caller.AUDIT`), so it must run
inside the telemetry interceptor: that one's span and log line then cover refused calls too.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import grpc

from ..core.errors import NarratorError, Unauthenticated
from ..core.models import LOCAL, Caller
from .caller import AUDIT, CURRENT, player_of
from .errors import to_status
from .interceptor import TRACED_PREFIX

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from ..core.keyring import KeyRing
    from ..core.quotas import Quotas

log = logging.getLogger(__name__)
MAX_TOKEN_CHARS = 256


class AuthMode(enum.Enum):
    REQUIRED = "required"  # every call needs a valid key
    OPEN = "open"  # nobody needs a key (NARRATOR_AUTH=off)
    UNTIL_FIRST_KEY = "until-first-key"  # open while no key exists (auto, on loopback)


def bearer_token(metadata: Any) -> str:
    """The token of `authorization: Bearer <token>` ("" when absent or malformed)."""
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str) and len(value) <= MAX_TOKEN_CHARS:
            scheme, _, token = value.strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, keyring: KeyRing, quotas: Quotas, mode: AuthMode) -> None:
        self._keyring = keyring
        self._quotas = quotas
        self._mode = mode
        self._was_open = mode is AuthMode.OPEN or (
            mode is AuthMode.UNTIL_FIRST_KEY and keyring.empty
        )

    def _open(self) -> bool:
        if self._mode is AuthMode.UNTIL_FIRST_KEY:
            is_open = self._keyring.empty
            if self._was_open and not is_open:
                log.warning("an API key exists now: every call needs one from here on")
            self._was_open = is_open
            return is_open
        return self._mode is AuthMode.OPEN

    async def _admit(self, request: Any, context: Any) -> Caller:
        metadata = context.invocation_metadata()
        player = player_of(metadata)
        if self._open():
            caller: Caller | None = Caller(LOCAL.tenant, LOCAL.key_id, player)
        else:
            caller = self._keyring.authenticate(bearer_token(metadata), player)
        audit = AUDIT.get()
        if audit is not None:
            audit.caller = caller
        if caller is None:
            raise Unauthenticated()
        await self._quotas.admit(caller, str(getattr(request, "session_id", "") or ""))
        return caller

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], details: Any
    ) -> Any:
        handler = await continuation(details)
        if handler is None or not details.method.startswith(TRACED_PREFIX):
            return handler
        serializers = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary), **serializers
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream), **serializers
            )
        return handler

    async def _caller(self, request: Any, context: Any) -> Caller:
        """Who calls, or the call aborted (out of the except block: an abort raised inside it
        would keep the refusal, its traceback and these frames in a reference cycle)."""
        try:
            return await self._admit(request, context)
        except NarratorError as error:
            refused = to_status(error)
        await context.abort_with_status(refused)
        raise AssertionError("unreachable: abort raises")

    def _unary(self, behavior: Any) -> Callable[[Any, Any], Awaitable[Any]]:
        async def guarded(request: Any, context: Any) -> Any:
            caller = await self._caller(request, context)
            token = CURRENT.set(caller)
            try:
                return await behavior(request, context)
            finally:
                CURRENT.reset(token)

        return guarded

    def _stream(self, behavior: Any) -> Callable[[Any, Any], AsyncGenerator[Any]]:
        async def guarded(request: Any, context: Any) -> AsyncGenerator[Any]:
            caller = await self._caller(request, context)
            token = CURRENT.set(caller)
            try:
                async with aclosing(behavior(request, context)) as messages:
                    async for message in messages:
                        yield message
            finally:
                # A stream abandoned by its client ends in the loop's finalizer, in another
                # context: there is nothing to reset there.
                with contextlib.suppress(ValueError):
                    CURRENT.reset(token)

        return guarded

"""`NarratorClient`: a typed async client over the generated stubs."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import grpc

from narrator.v1 import memory_pb2, scene_pb2, session_pb2, turn_pb2
from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc

from .errors import NarratorError
from .events import Event, TurnResult, decode

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
    from types import TracebackType


def character(
    name: str, description: str = "", disposition: str = "", *, pronouns: str = ""
) -> scene_pb2.Character:
    """A character present in the scene; `pronouns` like "she/her" (else the narrator reads
    them from the description)."""
    return scene_pb2.Character(
        name=name, description=description, disposition=disposition, pronouns=pronouns
    )


def scene(
    location: str = "",
    characters: Iterable[scene_pb2.Character] = (),
    facts: Iterable[str] = (),
    attributes: Mapping[str, str] | None = None,
) -> scene_pb2.Scene:
    """The scene as the game engine sees it now."""
    return scene_pb2.Scene(
        location=location, characters=characters, facts=facts, attributes=attributes or {}
    )


class NarratorClient:
    """`async with NarratorClient("127.0.0.1:50051") as dm:` then sessions and turns.

    `narrate()` and `decide()` are async iterators of events; leaving the loop early (or
    cancelling the task) cancels the call, and the server stores the turn as cancelled.
    Failures raise `NarratorError`.

    `api_key` is sent as `authorization: Bearer <key>` on every call; `player` names the
    player a game backend acts for (`x-narrator-player`, for per-player quotas; see
    `with_player`). TLS: `tls=True` verifies the server against the system's roots, or pass
    the PEM bytes of `root_certificates` (the CA that signed the server); for mTLS add the
    client's `certificate_chain` and `private_key`. `server_name` overrides the name checked
    against the server's certificate (when the address is an IP the certificate lacks).
    """

    def __init__(
        self,
        address: str = "127.0.0.1:50051",
        *,
        api_key: str | None = None,
        player: str = "",
        tls: bool = False,
        root_certificates: bytes | None = None,
        certificate_chain: bytes | None = None,
        private_key: bytes | None = None,
        server_name: str | None = None,
        timeout: float | None = 60.0,
    ) -> None:
        # Save games (ExportSession) may be up to 8 MiB: above gRPC's default 4 MiB.
        options: list[tuple[str, Any]] = [("grpc.max_receive_message_length", 9 * 1024 * 1024)]
        if (certificate_chain is None) != (private_key is None):
            raise ValueError("certificate_chain and private_key go together (mTLS)")
        if tls or root_certificates is not None or certificate_chain is not None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates, private_key, certificate_chain
            )
            if server_name:
                options.append(("grpc.ssl_target_name_override", server_name))
            self._channel = grpc.aio.secure_channel(address, credentials, options)
        else:
            self._channel = grpc.aio.insecure_channel(address, options)
        self._stub = pb_grpc.NarratorServiceStub(self._channel)
        self._timeout = timeout
        self._api_key = api_key
        self._owns_channel = True
        self._metadata = self._metadata_for(player)

    def _metadata_for(self, player: str) -> tuple[tuple[str, str], ...]:
        metadata = []
        if self._api_key:
            metadata.append(("authorization", f"Bearer {self._api_key}"))
        if player:
            metadata.append(("x-narrator-player", player))
        return tuple(metadata)

    def with_player(self, player: str) -> NarratorClient:
        """The same client (same channel, key and options) acting for `player`: its calls
        count against that player's quotas. Closing it leaves the channel open."""
        view = copy.copy(self)
        view._owns_channel = False
        view._metadata = self._metadata_for(player)
        return view

    async def __aenter__(self) -> NarratorClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_channel:
            await self._channel.close()

    async def create_session(
        self,
        world: str,
        player_name: str,
        *,
        tone: str = "",
        player_description: str = "",
        seed: int = 0,
    ) -> session_pb2.Session:
        request = pb.CreateSessionRequest(
            setting=session_pb2.Setting(world=world, tone=tone),
            player=session_pb2.PlayerCharacter(name=player_name, description=player_description),
            seed=seed,
        )
        response = await self._unary(self._stub.CreateSession, request)
        return response.session  # type: ignore[no-any-return]

    async def get_session(
        self, session_id: str, recent_turn_limit: int = 10
    ) -> session_pb2.Session:
        request = pb.GetSessionRequest(session_id=session_id, recent_turn_limit=recent_turn_limit)
        response = await self._unary(self._stub.GetSession, request)
        return response.session  # type: ignore[no-any-return]

    async def delete_session(self, session_id: str) -> None:
        await self._unary(self._stub.DeleteSession, pb.DeleteSessionRequest(session_id=session_id))

    def narrate(
        self,
        session_id: str,
        action: str,
        scene: scene_pb2.Scene | None = None,
        *,
        turn_id: str = "",
        resume_after_seq: int = 0,
        timeout: float | None = None,
        regenerate: bool = False,
    ) -> AsyncGenerator[Event, None]:
        """TurnStarted, TextDelta..., TurnCompleted. With a `turn_id` the turn is resumable:
        call again with the same id and the last seq you have to continue it. `regenerate`
        replaces the session's last turn (a re-roll)."""
        request = pb.NarrateRequest(
            session_id=session_id,
            action=action,
            scene=scene,
            turn_id=turn_id,
            resume_after_seq=resume_after_seq,
            regenerate=regenerate,
        )
        return self._stream(self._stub.Narrate, request, timeout)

    def decide(
        self,
        session_id: str,
        question: str,
        options: Iterable[turn_pb2.DecisionOption | tuple[str, str] | tuple[str, str, str]],
        *,
        default_option_id: str = "",
        scene: scene_pb2.Scene | None = None,
        turn_id: str = "",
        resume_after_seq: int = 0,
        timeout: float | None = None,
        regenerate: bool = False,
    ) -> AsyncGenerator[Event, None]:
        """TurnStarted, rationale TextDelta..., DecisionMade, TurnCompleted. Options are
        `DecisionOption` messages or (id, description[, arguments JSON schema]) tuples."""
        request = pb.DecideRequest(
            session_id=session_id,
            question=question,
            options=[
                o
                if isinstance(o, turn_pb2.DecisionOption)
                else turn_pb2.DecisionOption(
                    id=o[0], description=o[1], arguments_schema=o[2] if len(o) > 2 else ""
                )
                for o in options
            ],
            default_option_id=default_option_id,
            scene=scene,
            turn_id=turn_id,
            resume_after_seq=resume_after_seq,
            regenerate=regenerate,
        )
        return self._stream(self._stub.Decide, request, timeout)

    # --- memory: lore, turn contexts, save games -------------------------------------------

    async def put_lore(
        self,
        session_id: str,
        content: str,
        keys: Iterable[str] = (),
        *,
        priority: int = 0,
        always_on: bool = False,
        entry_id: str = "",
    ) -> memory_pb2.LoreEntry:
        """Adds a lore entry (or replaces the one with `entry_id`); returns it as stored."""
        entry = memory_pb2.LoreEntry(
            entry_id=entry_id, keys=list(keys), content=content, priority=priority,
            always_on=always_on,
        )  # fmt: skip
        request = pb.PutLoreEntryRequest(session_id=session_id, entry=entry)
        return (await self._unary(self._stub.PutLoreEntry, request)).entry  # type: ignore[no-any-return]

    async def list_lore(self, session_id: str) -> list[memory_pb2.LoreEntry]:
        """Every lore entry of the session, by priority then most recent (all pages)."""
        entries: list[memory_pb2.LoreEntry] = []
        token = ""
        while True:
            request = pb.ListLoreEntriesRequest(session_id=session_id, page_token=token)
            page = await self._unary(self._stub.ListLoreEntries, request)
            entries.extend(page.entries)
            token = page.next_page_token
            if not token:
                return entries

    async def delete_lore(self, session_id: str, entry_id: str) -> None:
        request = pb.DeleteLoreEntryRequest(session_id=session_id, entry_id=entry_id)
        await self._unary(self._stub.DeleteLoreEntry, request)

    async def turn_context(self, session_id: str, turn_id: str = "") -> pb.GetTurnContextResponse:
        """The prompt sections a turn's model request held; "" previews the next turn's."""
        request = pb.GetTurnContextRequest(session_id=session_id, turn_id=turn_id)
        return await self._unary(self._stub.GetTurnContext, request)  # type: ignore[no-any-return]

    async def export_session(self, session_id: str) -> str:
        """The session as a save game (a JSON document)."""
        request = pb.ExportSessionRequest(session_id=session_id)
        return (await self._unary(self._stub.ExportSession, request)).document  # type: ignore[no-any-return]

    async def import_session(self, document: str) -> session_pb2.Session:
        """A new session from a save game."""
        request = pb.ImportSessionRequest(document=document)
        return (await self._unary(self._stub.ImportSession, request)).session  # type: ignore[no-any-return]

    @staticmethod
    async def collect(events: AsyncIterator[Event]) -> TurnResult:
        """Reads a whole turn; checks that seq has no gap."""
        result = TurnResult()
        async for event in events:
            result.add(event)
        return result

    async def _unary(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as error:
            raise NarratorError.from_rpc(error) from None

    async def _stream(
        self, method: Any, request: Any, timeout: float | None
    ) -> AsyncGenerator[Event, None]:
        call = method(request, timeout=timeout or self._timeout, metadata=self._metadata)
        try:
            async for message in call:
                event = decode(message)
                if event is not None:  # an event kind newer than this client: skipped
                    yield event
        except grpc.aio.AioRpcError as error:
            raise NarratorError.from_rpc(error) from None
        finally:
            call.cancel()  # no-op when the stream already ended

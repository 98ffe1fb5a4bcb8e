"""The least a turn can cost on this stack: the parts no Narrator code can remove.

1. A bare `grpc.aio` server (its own process, no interceptors, no work) streaming a turn's
   three messages (started, one delta, completed): the server's CPU per call.
2. The chat provider's upstream request alone (this process; the fake upstream in its own):
   one 1-token streamed answer to a prompt the size of a 50-turn history, CPU per request.
3. A paced token read by a bare protocol on the server's event loop (uvloop where installed;
   its own process) that only counts the SSE events of `--streams` streams at 20 ms a token:
   the CPU of a token's wake-up and read, what `make bench-tokens` measures for Narrator's
   whole path.
4. The same reads, each token's own work done in the protocol's callback with Narrator's
   parts (the SSE parser, moderation's windows, the lexicon's check of each window) and no
   generator between them: what a token would cost if the pipeline pushed it (gRPC aside).

Compare with the per-turn CPU `bench/compare.py --per-turn-only` prints for the whole turn.
Prints numbers; asserts nothing.

    .venv/bin/python bench/floor.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
import urllib.parse
from contextlib import aclosing
from typing import Any

import grpc
from arms import control_fake, cpu_seconds, start_fake

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator.v1 import turn_pb2
from narrator_server import event_loop
from narrator_server.core.models import (
    ContentRating,
    PlayerCharacter,
    Scene,
    Session,
    Setting,
    TurnKind,
)
from narrator_server.core.moderation import ModerationConfig
from narrator_server.core.ports import ChatMessage, ChatRequest, Deadline, TurnContext
from narrator_server.core.windows import Windows
from narrator_server.moderation.lexicon import default_lexicon
from narrator_server.providers.factory import openai_client
from narrator_server.providers.openai_chat import OpenAIProvider
from narrator_server.providers.sse import ChunkParser

TURN = (
    pb.NarrateResponse(started=turn_pb2.TurnStarted(turn_id="t" * 32, provider="openai")),
    pb.NarrateResponse(delta=turn_pb2.TextDelta(seq=1, text="Hello")),
    pb.NarrateResponse(completed=turn_pb2.TurnCompleted(text="Hello")),
)


class Bare(pb_grpc.NarratorServiceServicer):  # type: ignore[misc]
    async def Narrate(self, request: Any, context: Any) -> Any:
        for message in TURN:
            yield message


def serve(ports: Any) -> None:
    async def main() -> None:
        server = grpc.aio.server()
        pb_grpc.add_NarratorServiceServicer_to_server(Bare(), server)
        ports.put(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        await server.wait_for_termination()

    asyncio.run(main())


async def grpc_floor(calls: int) -> float:
    spawn = multiprocessing.get_context("spawn")  # callers may have run gRPC: no fork
    ports: Any = spawn.Queue()
    process = spawn.Process(target=serve, args=(ports,), daemon=True)
    process.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ports.get()}") as channel:
            stub = pb_grpc.NarratorServiceStub(channel)
            request = pb.NarrateRequest(session_id="s" * 32, action="I open the door")
            for _ in range(200):
                assert len([m async for m in stub.Narrate(request)]) == len(TURN)
            start = cpu_seconds(process.pid)
            for _ in range(calls):
                async for _ in stub.Narrate(request):
                    pass
            return (cpu_seconds(process.pid) - start) / calls
    finally:
        process.kill()


async def upstream_floor(calls: int) -> float:
    fake, upstream = await start_fake()
    try:
        await asyncio.to_thread(_reply_one_token, upstream)
        provider = OpenAIProvider(openai_client(upstream, "bench"), "fake-dm")
        history = [ChatMessage("user" if i % 2 else "assistant", "word " * 60) for i in range(100)]
        session = Session("s", Setting("a crypt"), PlayerCharacter("Ash"), 1, 0.0)
        request = ChatRequest(
            messages=(ChatMessage("system", "You are the DM."), *history),
            context=TurnContext(session, "t", 0, TurnKind.NARRATION, "I look", Scene()),
            deadline=Deadline(),
            max_tokens=50,
            temperature=0.8,
        )

        async def one() -> None:
            async with aclosing(provider.stream(request)) as events:
                async for _ in events:
                    pass

        for _ in range(100):
            await one()
        start = time.process_time()
        for _ in range(calls):
            await one()
        return (time.process_time() - start) / calls
    finally:
        await fake.stop()


def _reply_one_token(upstream: str) -> None:
    control_fake(upstream, tokens=[1, 1], pace=0.0)


class _Count(asyncio.Protocol):
    """Counts the SSE events its connection receives; does nothing else with them."""

    def __init__(self) -> None:
        self.events = 0

    def data_received(self, data: bytes) -> None:
        self.events += data.count(b"data:")


class _Push(_Count):
    """Does a token's own work as its read arrives: de-chunks the body, parses its SSE lines,
    feeds moderation's windows and checks each window closed with the lexicon."""

    def __init__(self) -> None:
        super().__init__()
        self._raw = b""
        self._body = False
        self._parser = ChunkParser()
        config = ModerationConfig()  # the defaults a server uses
        self._windows = Windows(config.window_chars, config.hold_s, tick_s=config.tick_s)
        self._lexicon = default_lexicon()

    def data_received(self, data: bytes) -> None:
        raw = self._raw + data
        if not self._body:
            end = raw.find(b"\r\n\r\n")
            if end < 0:
                self._raw = raw
                return
            raw, self._body = raw[end + 4 :], True
        while (line := raw.find(b"\r\n")) >= 0:
            size = int(raw[:line], 16)
            if size == 0 or len(raw) < line + 4 + size:
                break
            text = self._parser.feed(raw[line + 2 : line + 2 + size])
            raw = raw[line + 4 + size :]
            if text:
                self.events += 1
                for window in self._windows.feed(text, time.monotonic()):
                    self._lexicon.refused(window, ContentRating.TEEN)
        self._raw = raw


def _read_paced(upstream: str, streams: int, result: Any, push: bool) -> None:
    async def main() -> float:
        url = urllib.parse.urlsplit(upstream)
        asked = [{"role": "user", "content": "I look"}]
        body = json.dumps({"model": "fake-dm", "stream": True, "messages": asked}).encode()
        head = (
            f"POST {url.path}/chat/completions HTTP/1.1\r\nHost: {url.netloc}\r\n"
            "Authorization: Bearer bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        loop = asyncio.get_running_loop()
        readers = []
        for _ in range(streams):
            protocol = _Push if push else _Count
            transport, reader = await loop.create_connection(protocol, url.hostname, url.port)
            transport.write(head + body)
            readers.append(reader)
        await asyncio.sleep(2.0)  # every stream under way
        events, cpu = sum(r.events for r in readers), time.process_time()
        await asyncio.sleep(5.0)  # well within each answer (600 tokens: 12 s)
        return (time.process_time() - cpu) / max(1, sum(r.events for r in readers) - events)

    result.put(event_loop.run(main(), "auto"))  # the loop a server would run


async def token_floor(streams: int, push: bool) -> float:
    fake, upstream = await start_fake()
    try:
        await asyncio.to_thread(control_fake, upstream, tokens=[600, 600], pace=0.02)
        result: Any = multiprocessing.Queue()
        reader = multiprocessing.Process(target=_read_paced, args=(upstream, streams, result, push))
        reader.start()
        try:
            cpu: float = await asyncio.to_thread(result.get, True, 60)
        finally:
            reader.join(10)
        return cpu
    finally:
        await fake.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--streams", type=int, default=100, help="paced streams (part 3)")
    args = parser.parse_args()
    rpc = await grpc_floor(args.calls)
    print(f"bare grpc.aio stream of a turn's 3 messages: {rpc * 1e6:.0f} µs server CPU per call")
    post = await upstream_floor(args.calls // 2)
    print(f"the provider's upstream request, 1-token answer: {post * 1e6:.0f} µs CPU per request")
    token = await token_floor(args.streams, push=False)
    print(f"a paced token read by a bare protocol, {args.streams} streams at 20 ms:"
          f" {token * 1e6:.1f} µs CPU per token")  # fmt: skip
    pushed = await token_floor(args.streams, push=True)
    print(f"the same, parsed, windowed and checked in the read's callback: {pushed * 1e6:.1f} µs"
          " CPU per token")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())

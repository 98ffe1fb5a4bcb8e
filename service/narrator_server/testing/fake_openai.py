"""A fake OpenAI upstream: a real HTTP/1.1 server on 127.0.0.1 speaking the chat-completions
wire format (SSE chunks, usage chunk, `[DONE]`, JSON errors), scriptable per request and
recording what it received. `python -m narrator_server.testing.fake_openai` runs one."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .fake_moderations import FakeModerations
from .replies import Reply

if TYPE_CHECKING:
    from collections.abc import Callable

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Received:
    """One request as the fake saw it, and how the exchange ended."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    reply: Reply
    chunks_sent: int = 0
    client_disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    # When the client closed the connection mid-answer (time.monotonic()), if it did.
    disconnected_at: float | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class FakeOpenAI:
    """`async with FakeOpenAI() as fake:` then `fake.base_url`, `fake.script(...)`,
    `fake.received`. Unscripted requests get `default` (or a valid decision for JSON schemas).

    Another process controls it over HTTP: `POST /_fake/default` with `Reply` fields as JSON
    sets the default answer; `GET /_fake/disconnects` returns (and forgets) the
    `time.monotonic()` of each client disconnect seen mid-answer (benchmarks time cancels)."""

    def __init__(
        self,
        default: Reply | None = None,
        faults: Callable[[Reply], Reply] | None = None,
    ) -> None:
        self.default = default or Reply()
        # Chaos: turns each unscripted answer into a (possibly) faulty one.
        self.faults = faults
        self.received: list[Received] = []
        self.keep_records = True  # off for long benchmark runs
        self.disconnects: collections.deque[float] = collections.deque(maxlen=10_000)
        # GET /v1/models: the ids listed (none: nothing to check) or an error status.
        self.models: list[str] = []
        self.models_status = 200
        self.model_lists = 0
        # POST /v1/moderations: scripted scores, failures, what it received.
        self.moderations = FakeModerations()
        self.connections = 0  # accepted so far (a client that reuses its connection: 1)
        self._rng = random.Random(0)
        # Requests being answered now, and the most at once (a concurrency cap's evidence).
        self.in_flight = 0
        self.max_in_flight = 0
        self._script: list[Reply] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue answers for the next requests, in order."""
        self._script.extend(replies)

    async def __aenter__(self) -> FakeOpenAI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        if self._script:
            return self._script.pop(0)
        reply = self.default
        schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")
        if schema:
            branch = schema["properties"]["decision"]["anyOf"][0]
            option_id = branch["properties"]["option_id"]["enum"][0]
            reply = Reply.decision(option_id, {}, "The fake upstream decides quickly.")
        return self.faults(reply) if self.faults else reply

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # stop() cancels open exchanges; the task ends here either way
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serves one request; False when the connection should close."""
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        _, path, _ = lines[0].split(" ", 2)
        headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:] if h)}
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        body = json.loads(raw) if raw else {}
        if path.startswith("/_fake/"):
            return await self._control(path, body, writer)
        if path.endswith("/models"):
            return await self._models(writer)
        if path.endswith("/moderations"):
            status, answer = await self.moderations.answer(body)
            return await self._json(writer, status, answer)
        reply = self._next_reply(body)
        got = Received(path, headers, body, reply)
        if self.keep_records:
            self.received.append(got)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(got, reader, writer)
        finally:
            self.in_flight -= 1
            got.finished.set()

    async def _control(self, path: str, body: dict[str, Any], writer: asyncio.StreamWriter) -> bool:
        answer: object = {}
        if path == "/_fake/default":
            fields = {f.name for f in dataclasses.fields(Reply)}
            values: dict[str, Any] = {
                k: tuple(v) if isinstance(v, list) and k in ("tokens", "usage") else v
                for k, v in body.items()
                if k in fields
            }
            self.default = Reply(**values)
            self._rng.seed(0)  # every arm of a benchmark gets the same answer lengths
        elif path == "/_fake/disconnects":
            answer = list(self.disconnects)
            self.disconnects.clear()
        payload = json.dumps(answer).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        return True

    async def _models(self, writer: asyncio.StreamWriter) -> bool:
        """GET /v1/models: `models` with `models_status` (neither scripted nor recorded)."""
        self.model_lists += 1
        status = self.models_status
        if status == 200:
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                    for m in self.models]  # fmt: skip
            answer: object = {"object": "list", "data": data}
        else:
            answer = Reply.error(status).error_body
        return await self._json(writer, status, answer)

    @staticmethod
    async def _json(writer: asyncio.StreamWriter, status: int, answer: object) -> bool:
        payload = json.dumps(answer).encode()
        writer.write(
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\ncontent-type: "
            f"application/json\r\ncontent-length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        return True

    def _disconnected(self, got: Received) -> None:
        if got.disconnected_at is None:
            got.disconnected_at = time.monotonic()
            self.disconnects.append(got.disconnected_at)
        got.client_disconnected.set()

    async def _watch(self, got: Received, reader: asyncio.StreamReader) -> None:
        """Notices at once a client that closes the connection while it is being answered
        (a write would only fail later). No client pipelines requests, so nothing but the
        end of the stream can arrive meanwhile."""
        with contextlib.suppress(ConnectionError):
            while await reader.read(1024):
                pass
        self._disconnected(got)

    async def _answer(
        self, got: Received, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        watch = asyncio.get_running_loop().create_task(self._watch(got, reader))
        try:
            return await self._answer_watched(got, watch, writer)
        finally:
            watch.cancel()  # and wait: the next request of the connection reads next
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    async def _answer_watched(
        self, got: Received, watch: asyncio.Task[None], writer: asyncio.StreamWriter
    ) -> bool:
        reply = got.reply
        await asyncio.sleep(reply.first_byte_delay)
        if reply.drop_before_response:
            return False
        if reply.status != 200 or not got.path.endswith("/chat/completions"):
            status = reply.status if reply.status != 200 else 404
            payload = json.dumps(reply.error_body or {"error": {"message": "not found"}}).encode()
            extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
            writer.write(
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\ncontent-type: "
                f"application/json\r\ncontent-length: {len(payload)}\r\n{extra}\r\n".encode()
                + payload
            )
            await writer.drain()
            return True
        if not got.body.get("stream"):
            return await self._answer_whole(got, writer)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\ncache-control: no-cache\r\n\r\n"
        )
        model = str(got.body.get("model", "fake-model"))
        if reply.raw_events is not None:
            for data in reply.raw_events:
                self._event(writer, data)
            self._event(writer, "[DONE]")
            writer.write(b"0\r\n\r\n")
            return await self._drain(got, writer)
        pieces = reply.pieces(self._rng)
        for i, piece in enumerate(pieces):
            if got.disconnected_at is not None:
                return False
            if i == reply.stall_after:
                await watch  # a stall: send nothing more and wait until the client gives up
                return False
            if i == reply.drop_after:
                await writer.drain()
                return False
            if reply.gate is not None and i == reply.gate_after:
                await writer.drain()
                await reply.gate.wait()
            if i == reply.malformed_after:
                self._event(writer, "{this is not json")
            if i:
                await asyncio.sleep(reply.pace)
            delta = _delta(piece, reply.as_tool_call, reply.as_refusal, i)
            self._event(writer, json.dumps(_chunk(model, delta)))
            got.chunks_sent += 1
            if not await self._drain(got, writer):
                return False
        if reply.stall_after is not None and reply.stall_after >= len(pieces):
            await watch
            return False
        finish = _chunk(model, {}, reply.finish_reason)
        self._event(writer, json.dumps(finish))
        wants_usage = (got.body.get("stream_options") or {}).get("include_usage")
        if wants_usage and reply.send_usage:
            usage = _chunk(model, None)
            usage["usage"] = _usage(reply, got, len(pieces))
            self._event(writer, json.dumps(usage))
        self._event(writer, "[DONE]")
        writer.write(b"0\r\n\r\n")
        return await self._drain(got, writer)

    async def _answer_whole(self, got: Received, writer: asyncio.StreamWriter) -> bool:
        reply = got.reply
        pieces = reply.pieces(self._rng)
        message = {"role": "assistant", "content": "".join(pieces)}
        payload = json.dumps(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": got.body.get("model", "fake-model"),
                "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
                "usage": _usage(reply, got, len(pieces)),
            }
        ).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        return await self._drain(got, writer)

    @staticmethod
    def _event(writer: asyncio.StreamWriter, data: str) -> None:
        event = f"data: {data}\n\n".encode()
        writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")

    async def _drain(self, got: Received, writer: asyncio.StreamWriter) -> bool:
        try:
            await writer.drain()
        except ConnectionError:
            self._disconnected(got)
            return False
        return True


def _delta(piece: str, as_tool_call: bool, as_refusal: bool, index: int) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": "assistant"} if index == 0 else {}
    if as_refusal:
        delta["refusal"] = piece
    elif as_tool_call:
        function = {"arguments": piece} | ({"name": "decide"} if index == 0 else {})
        call = {"index": 0, "function": function} | (
            {"id": "call_1", "type": "function"} if index == 0 else {}
        )
        delta["tool_calls"] = [call]
    else:
        delta["content"] = piece
    return delta


def _chunk(model: str, delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }


def _usage(reply: Reply, got: Received, pieces: int) -> dict[str, Any]:
    if reply.usage is not None:
        prompt, completion = reply.usage
    else:
        prompt = sum(len(str(m.get("content", ""))) // 4 for m in got.body.get("messages", []))
        completion = pieces
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if reply.cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cached_tokens}
    return usage


async def _main(port: int, words: int, pace: float, tokens: str) -> None:
    text = " ".join(f"word{i}" for i in range(words)) + "."
    low, _, high = tokens.partition("-")
    length = (int(low), int(high or low)) if tokens else None
    fake = FakeOpenAI(Reply(text=text, pace=pace, tokens=length))
    fake.keep_records = False
    await fake.start(port)
    print(f"fake OpenAI upstream on {fake.base_url}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Run the fake OpenAI upstream.")
    parser.add_argument("--port", type=int, default=8089, help="0 picks a free port")
    parser.add_argument("--words", type=int, default=60, help="words in each default answer")
    parser.add_argument("--pace", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument(
        "--tokens", default="", help="LOW-HIGH: answers of one-token chunks, in sentences"
    )
    args = parser.parse_args()
    asyncio.run(_main(args.port, args.words, args.pace, args.tokens))

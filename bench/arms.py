"""The processes and clients of `bench/compare.py`: the fake upstream, Narrator servers, a
LiteLLM proxy, and one client per arm that plays turns and times them.

Every server runs in its own process; this process is the load generator. CPU and RSS come
from /proc for the server's whole process tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import openai

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator.v1 import scene_pb2, session_pb2

if TYPE_CHECKING:
    from collections.abc import Callable

PAGE = os.sysconf("SC_PAGE_SIZE")
HERE = Path(__file__).resolve().parent.parent
ACTION = "I wade deeper into the crypt, sword raised"
SCENE = scene_pb2.Scene(
    location="the flooded crypt",
    characters=[
        scene_pb2.Character(name="Mirela", description="a smuggler", disposition="wary"),
        scene_pb2.Character(name="Grub", description="a goblin chief", disposition="hostile"),
    ],
    facts=["the door behind you is locked", "the water is rising"],
    attributes={"weather": "stormy", "health": "7/10"},
)
# What a direct caller sends: about the prompt Narrator builds (instructions, campaign, the
# recent turns within 3000 estimated tokens, scene and action).
SYSTEM = (
    "You are the Dungeon Master of a solo dungeon-crawler. Narrate in the second person, "
    "present tense, addressing the player character. Describe what happens as a result of "
    "the player's action in two to five vivid sentences, in the campaign's tone."
)
CAMPAIGN = "Campaign world: a drowned city ruled by smugglers\nTone: grim\nPlayer character: Ash"
SCENE_TEXT = (
    "Scene now:\nLocation: the flooded crypt\nPresent: Mirela (a smuggler, wary)\n"
    "Present: Grub (a goblin chief, hostile)\nFact: the door behind you is locked\n"
    "Fact: the water is rising\nweather: stormy\nhealth: 7/10\n\nPlayer action: "
)
HISTORY_TOKENS = 3000
LITELLM_KEY = "sk-bench-" + "0" * 48


# --- processes ----------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def cpu_seconds(pid: int) -> float:
    """CPU seconds of every thread of the process tree, to the nanosecond (schedstat)."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


async def spawn(*args: str, env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    """`python ARGS` from this venv; its address is the last word of its first stdout line."""
    process, address = await _spawn(args[-1], [sys.executable, *args], env)
    return process.process, address


async def stop(process: asyncio.subprocess.Process) -> None:
    await Process(process, "").stop()


@dataclass
class Process:
    """A child process whose tree's CPU time and RSS can be read."""

    process: asyncio.subprocess.Process
    label: str

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def rss_mb(self) -> float:
        total = 0
        for pid in _tree(self.process.pid):
            with contextlib.suppress(OSError):
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        return total / 2**20

    async def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def _spawn(label: str, argv: list[str], env: dict[str, str]) -> tuple[Process, str]:
    """Starts a process that prints its address on its first stdout line."""
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
    if not line:
        raise RuntimeError(f"{label} did not start")
    return Process(process, label), line.split()[-1]


def _clean_env() -> dict[str, str]:
    drop = ("NARRATOR_", "OTEL_", "OPENAI_", "PYTHONPATH")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


async def start_fake() -> tuple[Process, str]:
    argv = [sys.executable, "-m", "narrator_server.testing.fake_openai", "--port", "0"]
    fake, url = await _spawn("fake upstream", argv, _clean_env())
    return fake, url


def control_fake(upstream: str, **reply: Any) -> Any:
    """Sets the fake upstream's default answer (or, with no fields, reads its disconnects)."""
    root = upstream.removesuffix("/v1")
    if reply:
        data = json.dumps(reply).encode()
        request = urllib.request.Request(f"{root}/_fake/default", data, method="POST")
    else:
        request = urllib.request.Request(f"{root}/_fake/disconnects")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def start_narrator(
    root: Path, upstream: str, data_dir: str, extra: dict[str, str]
) -> tuple[Process, str]:
    python = root / ".venv/bin/python"
    env = _clean_env() | {
        "PYTHONPATH": f"{root / 'service'}:{root / 'clients/python'}",
        "NARRATOR_PORT": "0",
        "NARRATOR_METRICS_PORT": "0",
        "NARRATOR_DATA_DIR": data_dir,
        "OPENAI_BASE_URL": upstream,
        "OPENAI_API_KEY": "bench",
        "NARRATOR_MODEL": "fake-dm",
        "NARRATOR_FALLBACK": "false",
    }
    argv = [str(python if python.exists() else sys.executable), "-m", "narrator_server"]
    return await _spawn("narrator", argv, env | extra)


def _get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=2):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_litellm(venv: Path, upstream: str, data_dir: str) -> tuple[Process, str]:
    config = Path(data_dir) / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: fake-dm\n    litellm_params:\n"
        f"      model: openai/fake-dm\n      api_base: {upstream}\n      api_key: bench\n"
    )
    port = _free_port()
    argv = [str(venv / "bin/litellm"), "--config", str(config), "--host", "127.0.0.1"]
    env = _clean_env() | {
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_MASTER_KEY": LITELLM_KEY,  # it refuses to start without one
    }
    process = await asyncio.create_subprocess_exec(
        *argv, "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        await asyncio.sleep(0.2)
        with contextlib.suppress(OSError):
            await asyncio.to_thread(_get, f"{url}/health/liveliness")
            return Process(process, "litellm"), f"{url}/v1"
    process.kill()
    raise RuntimeError("the LiteLLM proxy did not start")


# --- measures -------------------------------------------------------------------------------


@dataclass
class Measure:
    """What the clients saw during one load on one arm, and what the server spent. Counted
    as text arrives, so turns cut by the end of a timed load still count what they said."""

    tokens: int = 0
    turns: int = 0
    errors: int = 0
    wall: float = 0.0
    ttft: list[float] = field(default_factory=list)
    # The TTFT of each stream's turns after its first: the load's steady state, without the
    # burst of every stream's first turn starting at once.
    later_ttft: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    cpu: float | None = None
    rss_mb: float | None = None
    # Called when a turn's first text arrives (the per-turn CPU reads the server's there).
    on_first: Callable[[], None] | None = field(default=None, repr=False, compare=False)


class Turn:
    """One turn being timed: call `text` as each piece arrives, `end` when it completes."""

    def __init__(self, measure: Measure) -> None:
        self._m = measure
        self._last = self.started = time.monotonic()
        self._first = True
        self.parts: list[str] = []

    def text(self, piece: str) -> None:
        now = time.monotonic()
        m = self._m
        if self._first:
            m.ttft.append(now - self.started)
            self._first = False
            if m.on_first is not None:
                m.on_first()
        else:
            m.gaps.append(now - self._last)
        self._last = now
        m.tokens += len(piece.split())  # the fake's tokens are whole words
        self.parts.append(piece)

    def end(self) -> str:
        self._m.turns += 1
        return "".join(self.parts)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: list[float]) -> float:
    clean = [v for v in values if v == v]
    return statistics.median(clean) if clean else float("nan")


# --- clients ----------------------------------------------------------------------------


class NarratorArm:
    """Turns through Narrator's gRPC API; each worker plays one session."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = pb_grpc.NarratorServiceStub(self.channel)

    async def worker(self) -> Any:
        response = await self.stub.CreateSession(
            pb.CreateSessionRequest(
                setting=session_pb2.Setting(world="a drowned city ruled by smugglers", tone="grim"),
                player=session_pb2.PlayerCharacter(name="Ash", description="a disgraced knight"),
            )
        )
        return response.session.session_id

    async def turn(self, session_id: Any, measure: Measure) -> None:
        request = pb.NarrateRequest(session_id=session_id, action=ACTION, scene=SCENE)
        turn = Turn(measure)
        async for message in self.stub.Narrate(request):
            if message.WhichOneof("event") == "delta":
                turn.text(message.delta.text)
        turn.end()

    async def cancel_one(self, session_id: Any) -> float:
        call = self.stub.Narrate(
            pb.NarrateRequest(session_id=session_id, action=ACTION, scene=SCENE)
        )
        async for message in call:
            if message.WhichOneof("event") == "delta":
                break
        cancelled = time.monotonic()
        call.cancel()
        return cancelled

    async def close(self) -> None:
        await self.channel.close()


class OpenAIArm:
    """Turns through the openai SDK (to the upstream itself, or to a proxy); each worker keeps
    its own history, as a game calling the model directly would. The SSE lines are read raw
    and parsed with json.loads, as Narrator does: the load generator must not be the
    bottleneck it measures (the SDK's model object per chunk would be)."""

    def __init__(self, base_url: str, api_key: str = "bench") -> None:
        self.client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0)

    async def worker(self) -> Any:
        return []

    @staticmethod
    def _messages(history: list[tuple[str, str]]) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": CAMPAIGN}]
        for action, text in history:
            messages.append({"role": "user", "content": f"Player action: {action}"})
            messages.append({"role": "assistant", "content": text})
        messages.append({"role": "user", "content": SCENE_TEXT + ACTION})
        return messages

    def _open(self, history: list[tuple[str, str]]) -> Any:
        return self.client.chat.completions.with_streaming_response.create(
            model="fake-dm",
            messages=self._messages(history),  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=600,
            temperature=0.8,
        )

    @staticmethod
    def _text(line: str) -> str:
        if not line.startswith("data:") or line.endswith("[DONE]"):
            return ""
        choices = json.loads(line[5:]).get("choices")
        return (choices[0].get("delta") or {}).get("content") or "" if choices else ""

    async def turn(self, history: Any, measure: Measure) -> None:
        turn = Turn(measure)
        async with self._open(history) as response:
            async for line in response.iter_lines():
                piece = self._text(line)
                if piece:
                    turn.text(piece)
        history.append((ACTION, turn.end()))
        while sum(len(a) + len(t) + 32 for a, t in history) // 4 > HISTORY_TOKENS:
            history.pop(0)

    async def cancel_one(self, history: Any) -> float:
        async with self._open(history) as response:
            async for line in response.iter_lines():
                if self._text(line):
                    break
            cancelled = time.monotonic()
        return cancelled

    async def close(self) -> None:
        await self.client.close()


Arm = NarratorArm | OpenAIArm


# --- load generator processes ----------------------------------------------------------


def client_for(kind: str, address: str) -> NarratorArm | OpenAIArm:
    """A client of the arm: `narrator`, `openai` (direct) or `litellm` (the proxy's key)."""
    if kind == "narrator":
        return NarratorArm(address)
    return OpenAIArm(address, LITELLM_KEY if kind == "litellm" else "bench")


def play_part(kind: str, address: str, streams: int, start_at: float, seconds: float) -> Measure:
    """One load generator process's share of a load: `streams` streams playing turns from
    `start_at` (time.monotonic(), the same clock in every process) for `seconds`."""
    return asyncio.run(_play_part(kind, address, streams, start_at, seconds))


async def _play_part(
    kind: str, address: str, streams: int, start_at: float, seconds: float
) -> Measure:
    arm = client_for(kind, address)
    measure = Measure()
    try:
        workers = [await arm.worker() for _ in range(streams)]
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))

        async def play(worker: Any, own: Measure) -> None:
            while True:
                try:
                    await arm.turn(worker, own)
                except Exception:
                    own.errors += 1
                    await asyncio.sleep(0.05)

        streamed = [Measure() for _ in workers]  # one a stream: its first turn is known
        tasks = [asyncio.ensure_future(play(w, m)) for w, m in zip(workers, streamed, strict=True)]
        await asyncio.sleep(max(0.0, start_at + seconds - time.monotonic()))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await arm.close()
    for own in streamed:
        measure.tokens += own.tokens
        measure.turns += own.turns
        measure.errors += own.errors
        measure.ttft += own.ttft
        measure.later_ttft += own.ttft[1:]
        measure.gaps += own.gaps
    measure.wall = seconds
    return measure

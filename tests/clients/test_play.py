"""`make play` against a real server: the game's loop with scripted input, and the game as a
process for Ctrl+C and end of input."""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
import sys
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console

from narrator import NarratorClient
from narrator.dungeon import ROOMS, START, apply_decision, new_dungeon
from narrator.play import COMMANDS, Game
from narrator.typewriter import Typewriter
from narrator.v1 import session_pb2

from ..support import serve, settings

if TYPE_CHECKING:
    from pathlib import Path

DECISION = re.compile(r"→ (attack|flee|parley) (\{.*?\}) \((model|repaired|fallback)\)")


def scripted(lines: list[str]) -> tuple[list[str], object]:
    prompts: list[str] = []
    queue = list(lines)

    async def read(prompt: str) -> str | None:
        prompts.append(prompt)
        return queue.pop(0) if queue else None

    return prompts, read


async def play(tmp_path: Path, lines: list[str], width: int = 60) -> tuple[str, list[str], Game]:
    """Plays the lines in a new game; the printed output, the prompts and the game."""
    output = io.StringIO()
    console = Console(file=output, width=width, color_system=None)
    async with (
        serve(settings(tmp_path)) as s,
        NarratorClient(f"127.0.0.1:{s.app.port}") as client,
    ):
        session = await client.create_session("a drowned city", "Ash", tone="grim", seed=3)
        game = Game(client, console, session.session_id)
        prompts, read = scripted(lines)
        await game.run(read)  # type: ignore[arg-type]
        game.stored = await client.get_session(session.session_id, 50)  # type: ignore[attr-defined]
    return " ".join(output.getvalue().split(" ")), prompts, game


async def test_rooms_are_described_on_arrival_and_commands_stay_local(tmp_path: Path) -> None:
    out, prompts, game = await play(tmp_path, ["/help", "/dance", "", "/go", "/go sideways",
                                               "I wade towards Mirela", "/go north", "/quit"])  # fmt: skip
    first = out.split("\n", 1)[0]
    assert "(offline · narrator-offline-1)" in first
    out = " ".join(out.split())  # as one line, whatever the wrapping
    arrival = out.split("Exits:")[0]
    assert "flooded antechamber" in arrival
    assert "dim light" in arrival  # the room is described, not just named
    for command in COMMANDS:
        assert command.names[0] in out
    assert "Unknown command /dance: /help lists them." in out
    assert "Exits: north (the goblin shrine), east (the smugglers' dock)." in out
    assert "No way sideways from here" in out
    assert "You go north." in out
    shrine = out.split("You go north.")[1]
    assert "goblin shrine" in shrine
    assert "Grub" in shrine
    assert prompts[-1] == "[the goblin shrine] > "
    stored = game.stored  # type: ignore[attr-defined]
    # Only the narrated lines became turns: two arrivals and one action.
    assert [t.input for t in stored.recent_turns] == [
        "I enter the flooded antechamber", "I wade towards Mirela", "I enter the goblin shrine",
    ]  # fmt: skip


async def test_a_decision_prints_as_json_and_changes_the_room(tmp_path: Path) -> None:
    lines = ["/decide", "I look around", "/decide", "/go north", "/decide", "I wait"]
    out, _, game = await play(tmp_path, lines)
    decisions = DECISION.findall(" ".join(out.split()))
    # The wary smuggler runs, the hostile goblin attacks (with a weapon, as JSON).
    assert [d[0] for d in decisions] == ["flee", "attack"]
    assert "There is no one here to decide anything." in out
    for option_id, arguments, _ in decisions:
        parsed = json.loads(arguments)
        assert isinstance(parsed, dict)
        if option_id == "attack":
            assert isinstance(parsed["weapon"], str)
    # The scene sent after each decision is the room as the decision left it.
    turns = list(game.stored.recent_turns)  # type: ignore[attr-defined]
    decided = [i for i, t in enumerate(turns) if t.kind == session_pb2.TURN_KIND_DECISION]
    assert [turns[i].decision.option_id for i in decided] == [d[0] for d in decisions]
    for (option_id, _, _), i in zip(decisions, decided, strict=True):
        characters = turns[i + 1].scene.characters
        if option_id == "flee":
            assert not characters
            assert "Mirela is gone; the flooded antechamber is empty now." in " ".join(out.split())
        else:
            expected = {"attack": "hostile", "parley": "friendly"}[option_id]
            assert [c.disposition for c in characters] == [expected]
    assert "{'" not in out  # no Python reprs


def test_decisions_change_the_room() -> None:
    rooms = new_dungeon()
    assert apply_decision(rooms["shrine"], "parley") == "Grub is friendly now."
    assert rooms["shrine"].creature is not None
    assert rooms["shrine"].creature.disposition == "friendly"
    assert (
        apply_decision(rooms["shrine"], "flee") == "Grub is gone; the goblin shrine is empty now."
    )
    assert rooms["shrine"].creature is None
    assert not rooms["shrine"].scene().characters
    assert ROOMS["shrine"].creature is not None  # the template dungeon is untouched
    assert apply_decision(rooms["shrine"], "attack") == ""


def test_more_than_three_rooms_all_reachable() -> None:
    assert len(ROOMS) > 3
    seen, todo = {START}, [START]
    while todo:
        for key in ROOMS[todo.pop()].exits.values():
            assert key in ROOMS
            if key not in seen:
                seen.add(key)
                todo.append(key)
    assert seen == set(ROOMS)


def test_wide_characters_wrap_by_cell_width() -> None:
    output = io.StringIO()
    typewriter = Typewriter(Console(file=output, width=21, color_system=None))
    deltas = ["The ", "torch", "light ", "flick", "ers. ", "我打开门，然后慢慢走进去 ",
              "and 🔥🔥😱 emoji ", "supercalifragilisticexpialidocious-and-then-some ", "end."]  # fmt: skip
    for delta in deltas:
        typewriter.write(delta)
    typewriter.flush()
    lines = output.getvalue().split("\n")
    assert all(cell_len(line) <= 20 for line in lines), lines
    assert max(cell_len(line) for line in lines) >= 18  # lines are filled, not cut early
    assert "torchlight" in lines[0]  # a word sent in two deltas stays whole
    assert "".join(lines).replace(" ", "") == "".join(deltas).replace(" ", "")


async def run_game(address: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "narrator.play", "--address", address,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def read_until(stream: asyncio.StreamReader, marker: bytes) -> bytes:
    seen = b""
    while marker not in seen:
        chunk = await stream.read(256)
        assert chunk, seen.decode(errors="replace")
        seen += chunk
    return seen


async def test_ctrl_c_skips_the_telling_and_at_the_prompt_leaves_with_status_0(
    tmp_path: Path,
) -> None:
    async with serve(settings(tmp_path, offline_pace_ms=30)) as s:
        game = await run_game(f"127.0.0.1:{s.app.port}")
        assert game.stdout is not None
        await read_until(game.stdout, b"(offline")  # the arrival is being told
        game.send_signal(signal.SIGINT)
        await read_until(game.stdout, b"[the flooded antechamber] > ")
        game.send_signal(signal.SIGINT)
        out, err = await game.communicate()
        assert game.returncode == 0, err.decode()
        assert b"is saved on the server" in out
        assert b"Traceback" not in err


async def test_end_of_input_leaves_with_status_0(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        game = await run_game(f"127.0.0.1:{s.app.port}")
        out, err = await game.communicate(b"/help\n")
        assert game.returncode == 0, err.decode()
        assert b"/decide" in out
        assert b"is saved on the server" in out

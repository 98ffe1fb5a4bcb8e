"""`make play`: a small terminal dungeon narrated by the service, streamed word by word.

Type what you do. `/decide` asks the DM what the creature in the room does, `/next` walks to
the next room, `/context` shows what the narrator knew for the last turn, `/quit` leaves.
Ctrl+C skips the narration being told.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.panel import Panel

from . import DecisionMade, NarratorClient, NarratorError, TextDelta, TurnStarted, character, scene
from .context import render

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from narrator.v1 import scene_pb2

    from . import Event


@dataclass
class Room:
    location: str
    creature: tuple[str, str, str]
    facts: list[str] = field(default_factory=list)


ROOMS = [
    Room("the flooded antechamber", ("Mirela", "a smuggler with a shuttered lantern", "wary"),
         ["the water is knee-deep and cold", "a rusted gate blocks the way north"]),
    Room("the goblin shrine", ("Grub", "a goblin chief in a crown of teeth", "hostile"),
         ["candles burn around a cracked idol", "the floor is slick with wax"]),
    Room("the sunken library", ("Old Perrin", "a ghostly archivist", "friendly"),
         ["the shelves lean like drowned trees", "one book glows faintly"]),
]  # fmt: skip
OPTIONS: list[tuple[str, str] | tuple[str, str, str]] = [
    ("attack", "the creature attacks the player",
     json.dumps({"type": "object", "properties": {"weapon": {"type": "string"}},
                 "required": ["weapon"]})),
    ("flee", "the creature flees deeper into the dungeon"),
    ("parley", "the creature offers to talk or trade"),
]  # fmt: skip


class Typewriter:
    """Prints streamed text as it arrives, wrapping between words, never inside one."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.column = 0

    def write(self, text: str) -> None:
        width = max(20, self.console.width - 1)
        for piece in re.findall(r"\s+|\S+", text):
            if piece.isspace():
                if "\n" in piece:
                    self.console.print()
                    self.column = 0
                elif self.column:
                    self.console.print(" ", end="")
                    self.column += 1
                continue
            if self.column + len(piece) > width:
                self.console.print()
                self.column = 0
            self.console.print(piece, end="", highlight=False, markup=False)
            self.column += len(piece)


class Game:
    def __init__(self, client: NarratorClient, console: Console) -> None:
        self.client = client
        self.console = console
        self.room = 0
        self.telling: asyncio.Task[None] | None = None
        self.last_turn = ""

    def scene(self) -> scene_pb2.Scene:
        room = ROOMS[self.room]
        return scene(room.location, [character(*room.creature)], room.facts, {"light": "dim"})

    async def tell(self, events: AsyncIterator[Event]) -> None:
        typewriter = Typewriter(self.console)
        async for event in events:
            if isinstance(event, TurnStarted):
                self.last_turn = event.turn_id
                self.console.print(f"[dim]({event.provider} · {event.model})[/dim]")
            elif isinstance(event, TextDelta):
                typewriter.write(event.text)
            elif isinstance(event, DecisionMade):
                self.console.print(
                    f"\n[bold magenta]→ {event.option_id}[/] {event.arguments or ''} "
                    f"[dim]({event.source})[/dim]",
                    end="",
                )
        self.console.print("\n")

    async def turn(self, events: AsyncIterator[Event]) -> None:
        self.telling = asyncio.create_task(self.tell(events))
        try:
            await self.telling
        except asyncio.CancelledError:
            self.console.print("\n[dim](skipped)[/dim]\n")
        except NarratorError as error:
            self.console.print(f"\n[red]{error}[/red]\n")
        finally:
            self.telling = None

    def skip(self) -> None:
        if self.telling is not None:
            self.telling.cancel()

    async def run(self, session_id: str) -> None:
        while True:
            room = ROOMS[self.room]
            try:
                line = await asyncio.to_thread(input, f"[{room.location}] > ")
            except EOFError:
                return
            line = line.strip()
            if line in ("/quit", "/q"):
                return
            if line == "/next":
                self.room = (self.room + 1) % len(ROOMS)
                self.console.print(f"[cyan]You move on to {ROOMS[self.room].location}.[/cyan]\n")
            elif line == "/context":
                context = await self.client.turn_context(session_id, self.last_turn)
                self.console.print(render(context), markup=False, highlight=False)
            elif line == "/decide":
                name = room.creature[0]
                await self.turn(self.client.decide(
                    session_id, f"What does {name} do now?", OPTIONS, scene=self.scene()
                ))  # fmt: skip
            elif line:
                await self.turn(self.client.narrate(session_id, line, self.scene()))


async def main_async(address: str, api_key: str = "", root: bytes | None = None) -> None:
    console = Console()
    async with NarratorClient(address, api_key=api_key or None, root_certificates=root) as client:
        try:
            session = await client.create_session(
                "a drowned city of smugglers and old gods", "Ash",
                tone="grim", player_description="a disgraced knight with a cursed blade",
            )  # fmt: skip
        except NarratorError as error:
            console.print(f"[red]cannot start a session at {address}: {error}[/red]")
            if error.code.name == "UNAUTHENTICATED":
                console.print("Set NARRATOR_API_KEY to a key from `narrator keys create NAME`.")
            else:
                console.print("Is the server running? Start it with `make run`.")
            raise SystemExit(1) from None
        console.print(Panel(__doc__.strip() if __doc__ else "", title="Narrator", expand=False))
        game = Game(client, console)
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, game.skip)
        await game.run(session.session_id)
        console.print(f"[dim]Session {session.session_id} is saved on the server.[/dim]")


def main() -> None:
    parser = argparse.ArgumentParser(description="Play a dungeon narrated by the Narrator service.")
    parser.add_argument(
        "--address", default=os.environ.get("NARRATOR_ADDRESS", "127.0.0.1:50051"),
        help="server address (default: $NARRATOR_ADDRESS or 127.0.0.1:50051)",
    )  # fmt: skip
    parser.add_argument(
        "--ca-file", default=os.environ.get("NARRATOR_TLS_CA_FILE", ""),
        help="connect with TLS, trusting this CA's PEM file (default: $NARRATOR_TLS_CA_FILE)",
    )  # fmt: skip
    args = parser.parse_args()
    try:
        root = Path(args.ca_file).read_bytes() if args.ca_file else None
    except OSError as error:
        raise SystemExit(f"cannot read the CA file {args.ca_file}: {error.strerror}") from None
    # The key comes from the environment only: a command line is visible to other users.
    asyncio.run(main_async(args.address, os.environ.get("NARRATOR_API_KEY", ""), root))


if __name__ == "__main__":
    main()

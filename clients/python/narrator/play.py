"""`make play`: a small terminal dungeon narrated by the service, streamed word by word.

Type what you do; lines starting with `/` are the game's own commands (`/help` lists them).
Ctrl+C skips the narration being told, and at the prompt leaves the game.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from . import DecisionMade, NarratorClient, NarratorError, TextDelta, TurnStarted
from .context import render
from .dungeon import OPTIONS, START, apply_decision, new_dungeon
from .typewriter import Typewriter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from . import Event
    from .dungeon import Room

    Reader = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True)
class Command:
    """A game command: handled here, never sent to the narrator."""

    names: tuple[str, ...]
    usage: str
    help: str
    run: Callable[[Game, str], Awaitable[None]]


class Game:
    def __init__(self, client: NarratorClient, console: Console, session_id: str) -> None:
        self.client = client
        self.console = console
        self.session_id = session_id
        self.rooms = new_dungeon()
        self.here = START
        self.done = False
        self.telling: asyncio.Task[None] | None = None
        self._quit = asyncio.Event()
        self.last_turn = ""

    @property
    def room(self) -> Room:
        return self.rooms[self.here]

    # The loop.

    async def run(self, read: Reader) -> None:
        """Describes the first room, then plays line by line until /quit, EOF or Ctrl+C."""
        await self.arrive()
        while not self.done:
            line = await self._read(read, f"[{self.room.location}] > ")
            if line is None:
                return
            await self.play(line.strip())

    async def _read(self, read: Reader, prompt: str) -> str | None:
        reading = asyncio.ensure_future(read(prompt))
        quitting = asyncio.ensure_future(self._quit.wait())
        await asyncio.wait({reading, quitting}, return_when=asyncio.FIRST_COMPLETED)
        quitting.cancel()
        if not reading.done():
            reading.cancel()
            self.console.print()
            return None
        return reading.result()

    async def play(self, line: str) -> None:
        if not line:
            return
        if line.startswith("/"):
            name, _, arg = line.partition(" ")
            command = COMMAND_NAMES.get(name.lower())
            if command is None:
                self.console.print(f"[yellow]Unknown command {escape(name)}: /help lists them.[/]")
                return
            await command.run(self, arg.strip())
            return
        await self.turn(self.client.narrate(self.session_id, line, self.room.scene()))

    def interrupt(self) -> None:
        """Ctrl+C: skips the narration being told; at the prompt, leaves the game."""
        if self.telling is not None:
            self.telling.cancel()
        else:
            self.done = True
            self._quit.set()

    async def turn(self, events: AsyncIterator[Event]) -> None:
        self.telling = asyncio.create_task(self.tell(events))
        try:
            await self.telling
        except asyncio.CancelledError:
            self.console.print("\n[dim](skipped)[/dim]\n")
        except NarratorError as error:
            self.console.print(f"\n[red]{escape(str(error))}[/red]\n")
        finally:
            self.telling = None

    async def tell(self, events: AsyncIterator[Event]) -> None:
        typewriter = Typewriter(self.console)
        async for event in events:
            if isinstance(event, TurnStarted):
                self.last_turn = event.turn_id
                who = f"[dim]({escape(event.provider)} · {escape(event.model)})[/]"
                self.console.print(who, highlight=False)
            elif isinstance(event, TextDelta):
                typewriter.write(event.text)
            elif isinstance(event, DecisionMade):
                typewriter.flush()
                arguments = json.dumps(event.arguments, ensure_ascii=False)
                self.console.print(
                    f"\n[bold magenta]→ {escape(event.option_id)}[/] {escape(arguments)} "
                    f"[dim]({escape(event.source)})[/dim]",
                    end="",
                )
                self.decided(event.option_id)
        typewriter.flush()
        self.console.print("\n")

    def decided(self, option_id: str) -> None:
        change = apply_decision(self.room, option_id)
        if change:
            self.console.print(f"\n[cyan]{escape(change)}[/cyan]", end="")

    async def arrive(self) -> None:
        """A room is described when you enter it."""
        action = f"I enter {self.room.location}"
        await self.turn(self.client.narrate(self.session_id, action, self.room.scene()))

    # The commands (the table is COMMANDS below).

    async def help(self, _: str) -> None:
        for command in COMMANDS:
            usage = " ".join([" | ".join(command.names), command.usage]).strip()
            self.console.print(f"  [bold]{escape(usage)}[/bold]  {escape(command.help)}")
        self.console.print("  Anything else is what you do, told by the narrator.")

    async def look(self, _: str) -> None:
        await self.turn(self.client.narrate(self.session_id, "I look around", self.room.scene()))

    async def go(self, where: str) -> None:
        exits = self.room.exits
        if not where:
            listed = ", ".join(f"{d} ({self.rooms[k].location})" for d, k in exits.items())
            self.console.print(f"Exits: {escape(listed)}. Type /go and a direction.")
            return
        key = exits.get(where.lower())
        if key is None:
            self.console.print(f"[yellow]No way {escape(where)} from here: /go lists them.[/]")
            return
        self.here = key
        self.console.print(f"[cyan]You go {escape(where.lower())}.[/cyan]")
        await self.arrive()

    async def next_room(self, _: str) -> None:
        await self.go(next(iter(self.room.exits)))

    async def decide(self, _: str) -> None:
        creature = self.room.creature
        if creature is None:
            self.console.print("There is no one here to decide anything.")
            return
        question = f"What does {creature.name} do now?"
        events = self.client.decide(self.session_id, question, OPTIONS, scene=self.room.scene())
        await self.turn(events)

    async def context(self, _: str) -> None:
        context = await self.client.turn_context(self.session_id, self.last_turn)
        self.console.print(render(context), markup=False, highlight=False)

    async def quit(self, _: str) -> None:
        self.done = True


COMMANDS: tuple[Command, ...] = (
    Command(("/help", "/?"), "", "this list", Game.help),
    Command(("/look",), "", "look around (narrated)", Game.look),
    Command(("/go",), "[direction]", "walk through an exit; alone, lists the exits", Game.go),
    Command(("/next",), "", "walk through the first exit", Game.next_room),
    Command(("/decide",), "", "ask the DM what the creature here does", Game.decide),
    Command(("/context",), "", "what the narrator knew when it told the last turn", Game.context),
    Command(("/quit", "/q"), "", "leave (Ctrl+C or Ctrl+D at the prompt too)", Game.quit),
)
COMMAND_NAMES = {name: command for command in COMMANDS for name in command.names}


class TerminalLines:
    """Lines typed at the terminal, read without blocking the event loop and without a
    thread (the loop watches stdin), so leaving the game never waits for a pending read."""

    def __init__(self) -> None:
        self._buffer = b""
        self._eof = False

    async def __call__(self, prompt: str) -> str | None:
        sys.stdout.write(prompt)
        sys.stdout.flush()
        while b"\n" not in self._buffer and not self._eof:
            await self._more()
        line, newline, self._buffer = self._buffer.partition(b"\n")
        if not (line or newline):
            return None
        return line.decode(errors="replace").rstrip("\r")

    async def _more(self) -> None:
        fd = sys.stdin.fileno()
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        try:
            loop.add_reader(fd, readable)
        except (NotImplementedError, PermissionError, ValueError):
            # No way to watch stdin (a regular file, or Windows): it does not block for long.
            data = await asyncio.to_thread(os.read, fd, 4096)
        else:
            try:
                await ready
            finally:
                loop.remove_reader(fd)
            data = os.read(fd, 4096)
        self._eof = not data
        self._buffer += data


async def main_async(
    address: str, api_key: str = "", root: bytes | None = None, read: Reader | None = None
) -> None:
    console = Console()
    async with NarratorClient(address, api_key=api_key or None, root_certificates=root) as client:
        try:
            session = await client.create_session(
                "a drowned city of smugglers and old gods", "Ash",
                tone="grim", player_description="a disgraced knight with a cursed blade",
            )  # fmt: skip
        except NarratorError as error:
            console.print(f"[red]cannot start a session at {address}: {escape(str(error))}[/red]")
            if error.code.name == "UNAUTHENTICATED":
                console.print("Set NARRATOR_API_KEY to a key from `narrator keys create NAME`.")
            else:
                console.print("Is the server running? Start it with `make run`.")
            raise SystemExit(1) from None
        console.print(Panel(__doc__.strip() if __doc__ else "", title="Narrator", expand=False))
        game = Game(client, console, session.session_id)
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, game.interrupt)
        await game.run(read or TerminalLines())
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
    key = os.environ.get("NARRATOR_API_KEY", "")
    with contextlib.suppress(KeyboardInterrupt):  # where the loop cannot take Ctrl+C itself
        asyncio.run(main_async(args.address, key, root))


if __name__ == "__main__":
    main()

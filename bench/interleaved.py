"""What the interleaved benches (`per_turn_ab.py`, `per_token_ab.py`) share: the arms' servers
on one fake upstream, the `--narrator` option and the table of medians."""

from __future__ import annotations

import contextlib
import statistics
import tempfile
from typing import TYPE_CHECKING

from arms import Process, start_narrator
from compare import ArmSpec, narrator_spec

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def narrators(
    specs: list[ArmSpec], upstream: str
) -> AsyncIterator[list[tuple[str, Process, str]]]:
    """One server a spec, each with its own data directory: (name, process, address)."""
    with contextlib.ExitStack() as dirs:
        started: list[tuple[str, Process, str]] = []
        try:
            for spec in specs:
                assert spec.root is not None
                data = dirs.enter_context(tempfile.TemporaryDirectory(prefix="narrator-ab-"))
                server, address = await start_narrator(spec.root, upstream, data, dict(spec.env))
                started.append((spec.name, server, address))
            yield started
        finally:
            for _, server, _ in started:
                await server.stop()


def add_narrator_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--narrator", action="append", type=narrator_spec, default=[],
                        help="NAME=ROOT[,VAR=VALUE...], as compare.py takes it (default: this"
                             " tree, as 'now')")  # fmt: skip


def narrator_specs(args: argparse.Namespace) -> list[ArmSpec]:
    """The `--narrator` arms given, or this tree alone."""
    return list(args.narrator) or [narrator_spec("now=")]


def add_load_options(parser: argparse.ArgumentParser, *, rounds: int, tokens: int, about: str
                     ) -> None:  # fmt: skip
    """The options of a load of paced streams: `--rounds`, `--streams`, `--pace`, `--tokens`
    (`about` says what `--tokens` must be)."""
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--pace", type=float, default=0.02, help="seconds between tokens")
    parser.add_argument("--tokens", type=int, default=tokens, help=about)


def print_medians(
    results: dict[str, list[float]], what: str, unit: str, scale: float = 1.0
) -> None:
    """A table of each arm's median and mean (values divided by `scale`, shown in `unit`)."""
    print(f"| arm | {what}, median | mean | runs |\n|---|---|---|---|")
    for name, values in results.items():
        median, mean = statistics.median(values) / scale, statistics.mean(values) / scale
        print(f"| {name} | {median:.2f} {unit} | {mean:.2f} {unit} | {len(values)} |")

"""The offline narrator's prose over a scripted 50-turn session, and its CPU cost per turn.

Plays `narrator_server.testing.prose_session.SCRIPT` through a real server (in this process,
port 0, offline narrator, no pacing) for a few seeds and prints the repeated-sentence rate,
distinct word trigrams, the longest verbatim echo of an action, pronoun use, first-person
leaks and non-English words spliced into the prose. Then plans a turn over the stored
50-turn history, as the server does, and times the narrator's pure functions on it (they run
on the event loop), warm and as the first turn after a restart. Prints numbers; asserts
nothing.

    .venv/bin/python bench/prose_quality.py [--seeds 7 1 2] [--show 7] [--repeat 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from narrator_server.api.convert import scene_from_pb
from narrator_server.app import App
from narrator_server.core.memory import CampaignMemory
from narrator_server.core.models import DecisionOption, Scene, TurnKind
from narrator_server.core.planning import MemoryPlanner, TurnSpec
from narrator_server.core.ports import Deadline
from narrator_server.providers.offline import action, compose, prose
from narrator_server.settings import Settings
from narrator_server.testing import prose_session
from narrator_server.testing.prose_session import SCRIPT, Played, measure


def show(played: list[Played]) -> None:
    for i, p in enumerate(played, 1):
        print(f"\n[{i}] {p.step.room} > {p.step.action}")
        print(p.text + (f"  -> {p.option_id}" if p.option_id else ""))


def micros(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered) * 1e6:6.0f} µs   p99 {p99 * 1e6:6.0f} µs"


async def cpu_per_turn(app: App, session_id: str, repeat: int) -> None:
    """Times the narrator on turn 51 of the session: its whole stored history in reach."""
    assert app.store is not None
    session = await app.store.get_session(session_id, 0)
    assert session is not None
    planner = MemoryPlanner(CampaignMemory(app.store))
    steps = [s for s in SCRIPT if not s.decide]
    contexts = []
    for step in steps:
        spec = TurnSpec(session_id, TurnKind.NARRATION, step.action, scene_of(step.room))
        request, _ = await planner.plan(session, spec, "bench", Deadline())
        contexts.append(request.context)
    narration, continuation, cold = [], [], []
    for i in range(repeat):
        ctx = contexts[i % len(contexts)]
        start = time.perf_counter()
        prose.narration(ctx)
        narration.append(time.perf_counter() - start)
        start = time.perf_counter()
        prose.continuation(ctx, "The water stirs as you")
        continuation.append(time.perf_counter() - start)
        # The first turn after a restart: nothing of the history parsed yet.
        action.parse.cache_clear()
        compose._keys_of_turn.cache_clear()
        start = time.perf_counter()
        prose.narration(ctx)
        cold.append(time.perf_counter() - start)
    decision_step = next(s for s in SCRIPT if s.decide)
    options = tuple(DecisionOption(i, d) for i, d in prose_session.OPTIONS)
    spec = TurnSpec(
        session_id, TurnKind.DECISION, decision_step.action, scene_of(decision_step.room), options
    )
    request, _ = await planner.plan(session, spec, "bench", Deadline())
    decision = []
    for _ in range(repeat):
        start = time.perf_counter()
        prose.choose(request.context)
        decision.append(time.perf_counter() - start)
    history = len(getattr(request.context, "recent", ())) or session.turn_count
    print(f"\nCPU per turn with a {history}-turn history ({repeat} runs each):")
    print(f"  narration     {micros(narration)}")
    print(f"  cold start    {micros(cold)}   (first turn after a restart: empty caches)")
    print(f"  continuation  {micros(continuation)}")
    print(f"  decision      {micros(decision)}")


def scene_of(room: str) -> Scene:
    return scene_from_pb(prose_session.ROOMS[room])


async def main(seeds: list[int], show_seed: int | None, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Settings(
            host="127.0.0.1", port=0, data_dir=Path(tmp), offline_pace_ms=0, metrics_port=-1
        )
        app = App(config)
        port = await app.start()
        try:
            print(
                f"{'seed':>5} {'turns':>5} {'sent.':>5} {'repeated':>8} {'rep/10':>6} "
                f"{'trigrams':>8} {'echo':>5} {'pron.ok':>7} {'they':>5} {'wrong':>5} "
                f"{'1st-p':>5} {'foreign':>7}"
            )
            last_session = ""
            for seed in seeds:
                last_session, played = await prose_session.play(f"127.0.0.1:{port}", seed)
                q = measure(played)
                print(
                    f"{seed:>5} {q.turns:>5} {q.sentences:>5} {q.repeated_rate:>8.1%} "
                    f"{q.repeats_within_10:>6} {q.distinct_trigrams:>8.2f} {q.longest_echo:>5} "
                    f"{q.pronouns.expected:>7} {q.pronouns.they:>5} {q.pronouns.wrong:>5} "
                    f"{q.first_person_leaks:>5} {q.spliced_foreign:>7}"
                )
                if seed == show_seed:
                    show(played)
            print(
                "\nrepeated: sentences equal to any earlier one in the session; rep/10: within "
                "the last 10 turns;\ntrigrams: distinct/total word trigrams; echo: longest run "
                "of an action's characters in its narration;\npron.ok: she/he forms for "
                "Mirela, Tamsin (she) and Grub, Old Perrin (he) in sentences naming one of "
                "them;\nthey: 'they' forms there; wrong: the other gender's forms; 1st-p: "
                "I/me/my outside quotes;\nforeign: words or emoji of non-English actions "
                "spliced into the prose"
            )
            await cpu_per_turn(app, last_session, repeat)
        finally:
            await app.stop(grace=0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 1, 2, 3, 4])
    parser.add_argument("--show", type=int, default=None, help="print the session of this seed")
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.seeds, args.show, args.repeat))

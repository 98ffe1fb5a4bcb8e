"""Memory recall over a long campaign: does the narrator still know what was planted early?

A scripted 200-turn offline campaign (the offline narrator and the offline summarizer, the
real SQLite store, the default budgets) plants 30 facts in its first 40 turns — 15 in the
player's actions (promises, debts, deals, hidden things) and 15 as keyed lore entries among
500 — and needs each one once, late, in a turn whose action names it. A fact is recalled
when its detail (a word the needing action does not contain) is in that turn's prompt,
outside the action and the scene. Filler turns in between name other people, places, items
and lore keys, so the memory has to choose.

Prints: recall (goal >= 95%), prompt tokens per turn along the campaign (should stay flat),
and the recall time per turn (the memory's one store read and the prompt assembly) with 200
turns and 500 lore entries (goal <= 2 ms).

    python bench/memory_recall.py [--turns 200] [--lore 500]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from narrator_server.core.memory import TurnInput
from narrator_server.core.memory_models import LoreEntry, SectionKind
from narrator_server.core.models import LOCAL, Character, PlayerCharacter, Scene, Setting, TurnKind
from narrator_server.core.narrator import Narrator, NarratorConfig
from narrator_server.providers.chain import ProviderChain, UpstreamSlots
from narrator_server.providers.offline import OfflineProvider
from narrator_server.store.sqlite import SqliteStore
from narrator_server.turnlog.local import LocalTurnLog

# (planting action, needing action, the detail that must be remembered)
ACTION_FACTS = [
    ("I promise Captain Vey that I will bring back the jade compass",
     "I look for Captain Vey at the docks", "jade compass"),
    ("I swear to Sister Amara that I will guard the ember lantern",
     "I light the ember lantern", "Sister Amara"),
    ("I strike a deal with Fenwick the fence: my silver ring for a map of the sewers",
     "I go back to Fenwick the fence", "silver ring"),
    ("I admit that I owe Brother Tomas forty gold crowns",
     "Brother Tomas blocks my path", "forty gold crowns"),
    ("I vow to avenge Lady Irisel before the harvest moon",
     "I ask the guards about Lady Irisel", "harvest moon"),
    ("I agree to meet Old Perrin at the Drowned Bell tavern",
     "I walk into the Drowned Bell tavern", "Old Perrin"),
    ("I hide the obsidian key under the altar of Saint Berun",
     "I search for the obsidian key", "Saint Berun"),
    ("I give my word to Captain Orsolya that the Red Fleet will not be harmed",
     "I meet Captain Orsolya again", "Red Fleet"),
    ("I swear to return the Heartstone to the temple of Vaal",
     "I hold up the Heartstone", "Vaal"),
    ("I bargain with the witch Morwen: one memory for safe passage through the Mire",
     "I call out to the witch Morwen", "safe passage"),
    ("I pledge my sword to Duke Caradoc until the siege of Harrowgate ends",
     "A herald of Duke Caradoc finds me", "Harrowgate"),
    ("I promise the orphan Pip a seat on the next ship to Calder",
     "I look for the orphan Pip", "Calder"),
    ("I agree to carry the sealed letter to Magister Quill",
     "I knock on the door of Magister Quill", "sealed letter"),
    ("I owe the ferryman Grell a favour for crossing the Styx Canal",
     "Grell the ferryman waves at me", "Styx Canal"),
    ("I swear on the Blue Crown never to harm a Tidecaller",
     "A Tidecaller steps out of the fog", "Blue Crown"),
]  # fmt: skip
# (key, lore content, needing action, detail)
LORE_FACTS = [
    ("Mirela", "Mirela is secretly the heir of the drowned king.",
     "I ask Mirela about her past", "heir of the drowned king"),
    ("Black Gate", "The Black Gate opens only under a new moon.",
     "I push against the Black Gate", "new moon"),
    ("Ashen Tower", "The Ashen Tower is guarded by a blind gargoyle.",
     "I climb toward the Ashen Tower", "blind gargoyle"),
    ("Whisperwood", "Whisperwood trees repeat the last lie told beneath them.",
     "I enter Whisperwood", "last lie"),
    ('Gorran', "Gorran the smith forged the king's cursed blade.",
     'I visit Gorran', 'cursed blade'),
    ("Sunken Library", "The Sunken Library keeps one dry room, behind the map of stars.",
     "I swim into the Sunken Library", "map of stars"),
    ("Lady Vex", "Lady Vex pays in counterfeit silver.",
     "Lady Vex offers me a purse", "counterfeit silver"),
    ('Thornwall', "Thornwall's bridge collapses under more than three riders.",
     'We ride toward Thornwall', 'three riders'),
    ("Emberfall", "Emberfall burned because its mayor sold the water rights.",
     "I ask a beggar about Emberfall", "water rights"),
    ("Kestrel", "Kestrel is a spy for the Salt Court.",
     "Kestrel joins my table", "Salt Court"),
    ("Saltmarsh", "Saltmarsh eels are poisonous when cooked.",
     "I buy eels in Saltmarsh", "poisonous"),
    ("Iron Choir", "The Iron Choir sings to keep the dead asleep.",
     "I hear the Iron Choir", "dead asleep"),
    ("Hollow King", "The Hollow King cannot cross running water.",
     "The Hollow King rides after me", "running water"),
    ("Pale Lantern", "The Pale Lantern shows the way to whoever holds it last.",
     "I raise the Pale Lantern", "holds it last"),
    ("Wyrm Road", "The Wyrm Road is tolled by bandits in blue masks.",
     "I set out on the Wyrm Road", "blue masks"),
]  # fmt: skip
NPCS = [
    "Hobb", "Tamsin", "Ulric", "Neve", "Bram", "Odile", "Corvin", "Yara", "Edric", "Sable",
    "Wren", "Marek", "Ilsa", "Doran", "Petra", "Fitch", "Greta", "Lorne", "Mab", "Quint",
    "Rook", "Selka", "Tobin", "Ursa", "Vance", "Wynn", "Xander", "Ysolde", "Zeb", "Agna",
]  # fmt: skip
PLACES = [
    "the flooded crypt", "the goblin shrine", "the fish market", "the old quay", "the bell tower",
    "the smugglers' cave", "the chapel ruins", "the salt mine", "the hanging gardens",
    "the sewer junction", "the moonlit pier", "the abandoned mill", "the watch house",
    "the copper bridge", "the fog bank", "the archive stairs", "the wreck of the Gull",
]  # fmt: skip
ITEMS = [
    "rope", "torch", "lockpick", "rusty lever", "wooden crate", "iron door", "cracked mirror",
    "bone dice", "wet map", "oil flask", "brass bell", "chain", "old boot", "wine jug",
    "loose brick", "copper coin", "fishing net", "candle stub", "trapdoor", "rotten plank",
]  # fmt: skip
VERBS = ["look at", "pick up", "kick", "examine", "push", "listen at", "wipe", "drop", "inspect"]


def filler_action(rng: random.Random, lore_keys: list[str]) -> str:
    roll = rng.random()
    if roll < 0.25:
        return f"I talk to {rng.choice(NPCS)} about the {rng.choice(ITEMS)}"
    if roll < 0.35:
        return f"I ask about {rng.choice(lore_keys)}"
    if roll < 0.45:
        return f"I walk to {rng.choice(PLACES)}"
    return f"I {rng.choice(VERBS)} the {rng.choice(ITEMS)}"


def filler_lore(rng: random.Random, n: int) -> list[tuple[str, str, int, bool]]:
    syllables = ["ka", "ro", "th", "el", "mar", "un", "vi", "dor", "sa", "quel", "br", "is"]
    out = []
    for i in range(n):
        name = "".join(rng.choice(syllables) for _ in range(3)).capitalize() + f" {i}"
        always = i < 4
        content = f"{name} is a {rng.choice(['river', 'house', 'order', 'saint', 'ruin'])} " + (
            "whose story matters. " * rng.randint(1, 4)
        )
        out.append((name, content.strip(), rng.randint(-3, 3), always))
    return out


def plan(turns: int, rng: random.Random) -> tuple[dict[int, str], dict[int, int], dict[int, int]]:
    """Which turn plants and needs which fact: planted in turns 2..40, needed in 100..end."""
    facts = len(ACTION_FACTS) + len(LORE_FACTS)
    plant_turns = sorted(rng.sample(range(2, 41), facts))
    need_turns = sorted(rng.sample(range(100, turns), facts))
    order = list(range(facts))
    rng.shuffle(order)
    plants = dict(zip(plant_turns, order, strict=True))
    rng.shuffle(order)
    needs = dict(zip(need_turns, order, strict=True))
    return {}, plants, needs


def scene_for(rng: random.Random) -> Scene:
    npc = rng.choice(NPCS)
    return Scene(rng.choice(PLACES), (Character(npc, "a local", rng.choice(["wary", "friendly"])),),
                 (f"the {rng.choice(ITEMS)} lies nearby",))  # fmt: skip


async def campaign(turns: int, lore_count: int, data: Path, seed: int) -> None:
    rng = random.Random(seed)
    store = await SqliteStore.open(data / "bench.sqlite3")
    chain = ProviderChain([], OfflineProvider(0.0), UpstreamSlots(8))
    config = NarratorConfig(model_summaries=False)  # no upstream: the offline summarizer
    narrator = Narrator(chain, store, LocalTurnLog(), config)
    memory = narrator.memory
    budgets = memory.config.budgets
    session = await narrator.create_session(
        LOCAL, Setting("a drowned city of smugglers and old gods", "grim"),
        PlayerCharacter("Ash", "a disgraced knight"), 7,
    )  # fmt: skip
    sid = session.session_id
    filler = filler_lore(rng, lore_count - len(LORE_FACTS))
    for key, content, priority, always in filler:
        await narrator.put_lore(
            LOCAL, sid, LoreEntry("", () if always else (key,), content, priority, always)
        )
    filler_keys = [k for k, *_ in filler[4:]]
    _, plants, needs = plan(turns, rng)
    recalled: list[tuple[str, bool, int]] = []
    tokens: dict[int, int] = {}
    for index in range(1, turns + 1):
        action = filler_action(rng, filler_keys)
        detail = ""
        if index in plants:
            fact = plants[index]
            if fact < len(ACTION_FACTS):
                action = ACTION_FACTS[fact][0]
            else:
                key, content, _, _ = LORE_FACTS[fact - len(ACTION_FACTS)]
                await narrator.put_lore(LOCAL, sid, LoreEntry("", (key,), content))
        if index in needs:
            fact = needs[index]
            if fact < len(ACTION_FACTS):
                _, action, detail = ACTION_FACTS[fact]
            else:
                _, _, action, detail = LORE_FACTS[fact - len(ACTION_FACTS)]
        turn_id = f"turn-{index}"
        events = narrator.narrate(LOCAL, sid, action, scene_for(rng), turn_id=turn_id)
        async for _ in events:
            pass
        await memory.summarizer.wait_idle()
        view = await narrator.turn_context(LOCAL, sid, turn_id)
        tokens[index] = view.total_tokens
        if detail:
            memory_text = " ".join(
                s.text
                for s in view.sections
                if s.kind not in (SectionKind.INPUT, SectionKind.SCENE)
            )
            recalled.append((detail, detail.casefold() in memory_text.casefold(), index))
    found = sum(ok for _, ok, _ in recalled)
    print(
        f"campaign: {turns} turns, {lore_count} lore entries, budgets: prompt {budgets.prompt}, "
        f"history {budgets.history}, lore {budgets.lore}, summary {budgets.summary} tokens"
    )
    print(f"recall: {found}/{len(recalled)} = {100 * found / len(recalled):.1f}% (goal >= 95%)")
    for detail, ok, index in recalled:
        if not ok:
            print(f"  missed at turn {index}: {detail!r}")
    marks = [m for m in (10, 25, 50, 100, 150, turns) if m in tokens]
    print("prompt tokens per turn: " + ", ".join(f"turn {m}: {tokens[m]}" for m in marks))
    later = [tokens[i] for i in range(50, turns + 1)]
    print(
        f"  turns 50-{turns}: min {min(later)}, mean {statistics.mean(later):.0f}, max {max(later)}"
    )
    await measure_recall(narrator, session, rng, filler_keys)
    await narrator.drain()
    await store.close()


async def measure_recall(
    narrator: Narrator, session: object, rng: random.Random, keys: list[str]
) -> None:
    """The memory's work before a turn's first token: one store read, lore matching and the
    prompt's assembly (wall time, and the event loop's share of CPU)."""
    from narrator_server.core.models import Session

    assert isinstance(session, Session)
    memory = narrator.memory
    walls, cpus = [], []
    for i in range(300):
        asked = TurnInput(
            TurnKind.NARRATION,
            f"I ask about {rng.choice(keys)} and the {rng.choice(ITEMS)}",
            scene_for(rng),
        )
        wall, cpu = time.perf_counter(), time.thread_time()
        await memory.recall(session, asked, f"probe-{i}", preview=True)
        cpus.append(time.thread_time() - cpu)
        walls.append(time.perf_counter() - wall)
    walls, cpus = walls[50:], cpus[50:]  # warm
    print(
        f"recall time per turn: wall median {statistics.median(walls) * 1e3:.2f} ms, "
        f"p95 {sorted(walls)[int(len(walls) * 0.95)] * 1e3:.2f} ms (goal <= 2 ms); "
        f"event-loop CPU median {statistics.median(cpus) * 1e3:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--lore", type=int, default=500)
    parser.add_argument("--seed", type=int, default=11, help="another campaign of the same shape")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        asyncio.run(campaign(args.turns, args.lore, Path(data), args.seed))


if __name__ == "__main__":
    main()

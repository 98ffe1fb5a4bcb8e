"""The dungeon of `make play`: rooms, their exits and creatures, and what a decision does to
the room (a creature that flees leaves; one that attacks turns hostile)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .client import character, scene

if TYPE_CHECKING:
    from narrator.v1 import scene_pb2


@dataclass
class Creature:
    name: str
    description: str
    disposition: str
    pronouns: str = ""


@dataclass
class Room:
    location: str
    creature: Creature | None
    facts: list[str]
    # Direction -> the room's key in the dungeon.
    exits: dict[str, str]
    attributes: dict[str, str] = field(default_factory=dict)

    def scene(self) -> scene_pb2.Scene:
        present = []
        if self.creature is not None:
            c = self.creature
            present.append(character(c.name, c.description, c.disposition, pronouns=c.pronouns))
        return scene(self.location, present, self.facts, self.attributes)


ROOMS: dict[str, Room] = {
    "antechamber": Room(
        "the flooded antechamber",
        Creature("Mirela", "a smuggler with a shuttered lantern; she is wary", "wary"),
        ["the water is knee-deep and cold", "a rusted gate blocks the way north"],
        {"north": "shrine", "east": "dock"},
        {"light": "dim"},
    ),
    "shrine": Room(
        "the goblin shrine",
        Creature("Grub", "a goblin chief in a crown of teeth", "hostile", "he/him"),
        ["candles burn around a cracked idol", "the floor is slick with wax"],
        {"south": "antechamber", "north": "library"},
    ),
    "library": Room(
        "the sunken library",
        Creature("Old Perrin", "a ghostly archivist, an old man", "friendly"),
        ["the shelves lean like drowned trees", "one book glows faintly"],
        {"south": "shrine", "down": "ossuary"},
    ),
    "ossuary": Room(
        "the bone ossuary",
        Creature("the Rattler", "a skeleton that will not stay still", "hostile", "it/its"),
        ["skulls are stacked to the ceiling", "a cold draught comes from below"],
        {"up": "library"},
    ),
    "dock": Room(
        "the smugglers' dock",
        Creature("Tamsin", "a ferrywoman who hums to herself", "neutral"),
        ["a narrow boat bobs at the pier", "fog hides the far side of the canal"],
        {"west": "antechamber", "across": "market"},
        {"time_of_day": "night"},
    ),
    "market": Room(
        "the night market",
        Creature("Vesna", "a fortune-teller who speaks of herself in riddles", "afraid"),
        ["lanterns sway over empty stalls", "somewhere a bell tolls thirteen"],
        {"across": "dock"},
    ),
}
START = "antechamber"

OPTIONS: list[tuple[str, str] | tuple[str, str, str]] = [
    ("attack", "the creature attacks the player",
     json.dumps({"type": "object", "properties": {"weapon": {"type": "string"}},
                 "required": ["weapon"]})),
    ("flee", "the creature flees deeper into the dungeon"),
    ("parley", "the creature offers to talk or trade"),
]  # fmt: skip


def new_dungeon() -> dict[str, Room]:
    """A fresh copy: the game changes its rooms as it goes."""
    return copy.deepcopy(ROOMS)


def apply_decision(room: Room, option_id: str) -> str:
    """Changes the room after the creature's decision; says what changed ("" if nothing)."""
    creature = room.creature
    if creature is None:
        return ""
    if option_id == "flee":
        room.creature = None
        return f"{creature.name} is gone; {room.location} is empty now."
    mood = {"attack": "hostile", "parley": "friendly"}.get(option_id)
    if mood and mood != creature.disposition:
        creature.disposition = mood
        return f"{creature.name} is {mood} now."
    return ""

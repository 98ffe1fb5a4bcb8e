"""JSON forms of the scene and decision columns."""

from __future__ import annotations

import json

from ..core.models import Character, Decision, DecisionSource, Recovery, Scene


def scene_to_json(scene: Scene) -> str:
    return json.dumps(
        {
            "location": scene.location,
            "characters": [[c.name, c.description, c.disposition] for c in scene.characters],
            "facts": list(scene.facts),
            "attributes": [list(kv) for kv in scene.attributes],
        },
        ensure_ascii=False,
    )


def scene_from_json(text: str) -> Scene:
    data = json.loads(text)
    return Scene(
        location=data["location"],
        characters=tuple(Character(*c) for c in data["characters"]),
        facts=tuple(data["facts"]),
        attributes=tuple((k, v) for k, v in data["attributes"]),
    )


def decision_to_json(decision: Decision | None) -> str | None:
    if decision is None:
        return None
    return json.dumps([decision.option_id, decision.arguments_json, decision.source.value])


def decision_from_json(text: str | None) -> Decision | None:
    if text is None:
        return None
    option_id, arguments_json, source = json.loads(text)
    return Decision(option_id, arguments_json, DecisionSource(source))


def recoveries_to_json(recoveries: tuple[Recovery, ...]) -> str:
    return json.dumps([[r.provider, r.model, r.after_seq] for r in recoveries])


def recoveries_from_json(text: str) -> tuple[Recovery, ...]:
    return tuple(Recovery(*r) for r in json.loads(text))

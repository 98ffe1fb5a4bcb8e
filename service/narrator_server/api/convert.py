"""Protobuf <-> domain mapping. Pure functions; no rules beyond the shape of the data."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from narrator.v1 import scene_pb2, session_pb2, turn_pb2

from ..core import models

_KIND = {
    models.TurnKind.NARRATION: session_pb2.TURN_KIND_NARRATION,
    models.TurnKind.DECISION: session_pb2.TURN_KIND_DECISION,
}
_STATUS = {
    models.TurnStatus.COMPLETED: session_pb2.TURN_STATUS_COMPLETED,
    models.TurnStatus.CANCELLED: session_pb2.TURN_STATUS_CANCELLED,
    models.TurnStatus.FAILED: session_pb2.TURN_STATUS_FAILED,
}
FINISH = {
    models.FinishReason.UNSPECIFIED: turn_pb2.FINISH_REASON_UNSPECIFIED,
    models.FinishReason.STOP: turn_pb2.FINISH_REASON_STOP,
    models.FinishReason.LENGTH: turn_pb2.FINISH_REASON_LENGTH,
    models.FinishReason.CONTENT_FILTER: turn_pb2.FINISH_REASON_CONTENT_FILTER,
}
_SOURCE = {
    models.DecisionSource.MODEL: turn_pb2.DECISION_SOURCE_MODEL,
    models.DecisionSource.REPAIRED: turn_pb2.DECISION_SOURCE_REPAIRED,
    models.DecisionSource.FALLBACK: turn_pb2.DECISION_SOURCE_FALLBACK,
}


def scene_from_pb(scene: scene_pb2.Scene) -> models.Scene:
    return models.Scene(
        location=scene.location,
        characters=tuple(
            models.Character(c.name, c.description, c.disposition) for c in scene.characters
        ),
        facts=tuple(scene.facts),
        attributes=tuple(sorted(scene.attributes.items())),
    )


def scene_to_pb(scene: models.Scene) -> scene_pb2.Scene:
    return scene_pb2.Scene(
        location=scene.location,
        characters=[
            scene_pb2.Character(name=c.name, description=c.description, disposition=c.disposition)
            for c in scene.characters
        ],
        facts=list(scene.facts),
        attributes=dict(scene.attributes),
    )


def options_from_pb(
    options: list[turn_pb2.DecisionOption],
) -> tuple[models.DecisionOption, ...]:
    return tuple(models.DecisionOption(o.id, o.description, o.arguments_schema) for o in options)


def _timestamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def usage_to_pb(usage: models.Usage) -> turn_pb2.Usage:
    return turn_pb2.Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)


def decision_to_pb(decision: models.Decision) -> turn_pb2.Decision:
    return turn_pb2.Decision(
        option_id=decision.option_id,
        arguments_json=decision.arguments_json,
        source=_SOURCE[decision.source],
    )


def recoveries_to_pb(recoveries: tuple[models.Recovery, ...]) -> list[turn_pb2.Recovery]:
    return [
        turn_pb2.Recovery(provider=r.provider, model=r.model, after_seq=r.after_seq)
        for r in recoveries
    ]


def turn_to_pb(turn: models.Turn) -> session_pb2.Turn:
    return session_pb2.Turn(
        turn_id=turn.turn_id,
        kind=_KIND[turn.kind],
        input=turn.input,
        scene=scene_to_pb(turn.scene),
        text=turn.text,
        decision=decision_to_pb(turn.decision) if turn.decision else None,
        status=_STATUS[turn.status],
        provider=turn.provider,
        model=turn.model,
        usage=usage_to_pb(turn.usage),
        create_time=_timestamp(turn.created_at),
        recoveries=recoveries_to_pb(turn.recoveries),
    )


def session_to_pb(session: models.Session) -> session_pb2.Session:
    return session_pb2.Session(
        session_id=session.session_id,
        setting=session_pb2.Setting(world=session.setting.world, tone=session.setting.tone),
        player=session_pb2.PlayerCharacter(
            name=session.player.name, description=session.player.description
        ),
        seed=session.seed,
        turn_count=session.turn_count,
        recent_turns=[turn_to_pb(t) for t in session.recent_turns],
        create_time=_timestamp(session.created_at),
    )

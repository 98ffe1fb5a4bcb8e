"""Protobuf <-> domain mapping. Pure functions; no rules beyond the shape of the data."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from narrator.v1 import memory_pb2, narrator_service_pb2, scene_pb2, session_pb2, turn_pb2

from ..core import memory_models, models
from ..core.encoding import encodable_all

_KIND = {
    models.TurnKind.NARRATION: session_pb2.TURN_KIND_NARRATION,
    models.TurnKind.DECISION: session_pb2.TURN_KIND_DECISION,
}
_STATUS = {
    models.TurnStatus.COMPLETED: session_pb2.TURN_STATUS_COMPLETED,
    models.TurnStatus.CANCELLED: session_pb2.TURN_STATUS_CANCELLED,
    models.TurnStatus.FAILED: session_pb2.TURN_STATUS_FAILED,
    models.TurnStatus.RUNNING: session_pb2.TURN_STATUS_RUNNING,
    models.TurnStatus.INTERRUPTED: session_pb2.TURN_STATUS_INTERRUPTED,
}
STATUS = _STATUS
KIND = _KIND
_RATING = {
    models.ContentRating.EVERYONE: session_pb2.CONTENT_RATING_EVERYONE,
    models.ContentRating.TEEN: session_pb2.CONTENT_RATING_TEEN,
    models.ContentRating.MATURE: session_pb2.CONTENT_RATING_MATURE,
}
_RATING_FROM = {v: k for k, v in _RATING.items()}
_REASON = {
    models.RecoveryReason.UNSPECIFIED: turn_pb2.RECOVERY_REASON_UNSPECIFIED,
    models.RecoveryReason.UPSTREAM_FAILED: turn_pb2.RECOVERY_REASON_UPSTREAM_FAILED,
    models.RecoveryReason.STALLED: turn_pb2.RECOVERY_REASON_STALLED,
    models.RecoveryReason.TAKEOVER: turn_pb2.RECOVERY_REASON_TAKEOVER,
    models.RecoveryReason.LAST_CHANCE: turn_pb2.RECOVERY_REASON_LAST_CHANCE,
}
# A GetSession response stays under the clients' default 4 MiB message limit.
MAX_SESSION_BYTES = 3 * 1024 * 1024
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
            models.Character(c.name, c.description, c.disposition, c.pronouns)
            for c in scene.characters
        ),
        facts=tuple(scene.facts),
        attributes=tuple(sorted(scene.attributes.items())),
    )


def scene_to_pb(scene: models.Scene) -> scene_pb2.Scene:
    return scene_pb2.Scene(
        location=scene.location,
        characters=[
            scene_pb2.Character(
                name=c.name,
                description=c.description,
                disposition=c.disposition,
                pronouns=c.pronouns,
            )
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


def rating_from_pb(value: int) -> models.ContentRating | None:
    """The rating a request asked for; None for UNSPECIFIED (the server's default)."""
    return _RATING_FROM.get(value)  # type: ignore[call-overload, no-any-return]


def usage_to_pb(usage: models.Usage) -> turn_pb2.Usage:
    return turn_pb2.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        estimated=usage.estimated,
        cached_input_tokens=usage.cached_input_tokens,
    )


def decision_to_pb(decision: models.Decision) -> turn_pb2.Decision:
    return turn_pb2.Decision(
        option_id=decision.option_id,
        arguments_json=decision.arguments_json,
        source=_SOURCE[decision.source],
    )


def recoveries_to_pb(recoveries: tuple[models.Recovery, ...]) -> list[turn_pb2.Recovery]:
    return [
        turn_pb2.Recovery(
            provider=r.provider, model=r.model, after_seq=r.after_seq, reason=_REASON[r.reason]
        )
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
        finish_reason=FINISH[turn.finish_reason],
        superseded=turn.superseded,
        replaces_turn_id=turn.replaces_turn_id,
    )


def session_to_pb(
    session: models.Session, max_bytes: int = MAX_SESSION_BYTES
) -> session_pb2.Session:
    """The session with as many of its recent turns as fit in `max_bytes` (newest kept)."""
    message = session_pb2.Session(
        session_id=session.session_id,
        setting=session_pb2.Setting(world=session.setting.world, tone=session.setting.tone),
        player=session_pb2.PlayerCharacter(
            name=session.player.name, description=session.player.description
        ),
        seed=session.seed,
        turn_count=session.turn_count,
        create_time=_timestamp(session.created_at),
        content_rating=_RATING[session.content_rating],
    )
    budget = max_bytes - message.ByteSize()
    kept: list[session_pb2.Turn] = []
    for turn in reversed(session.recent_turns):
        try:
            pb = turn_to_pb(turn)
        except UnicodeEncodeError:  # stored before lone surrogates were refused
            pb = turn_to_pb(encodable_all(turn))
        budget -= pb.ByteSize() + 8  # the field's tag and length
        if budget < 0:
            break
        kept.append(pb)
    message.recent_turns.extend(reversed(kept))
    return message


_SECTION = {
    memory_models.SectionKind.SYSTEM: memory_pb2.CONTEXT_SECTION_KIND_SYSTEM,
    memory_models.SectionKind.CAMPAIGN: memory_pb2.CONTEXT_SECTION_KIND_CAMPAIGN,
    memory_models.SectionKind.SUMMARY: memory_pb2.CONTEXT_SECTION_KIND_SUMMARY,
    memory_models.SectionKind.LORE: memory_pb2.CONTEXT_SECTION_KIND_LORE,
    memory_models.SectionKind.HISTORY: memory_pb2.CONTEXT_SECTION_KIND_HISTORY,
    memory_models.SectionKind.SCENE: memory_pb2.CONTEXT_SECTION_KIND_SCENE,
    memory_models.SectionKind.INPUT: memory_pb2.CONTEXT_SECTION_KIND_INPUT,
}


def lore_from_pb(entry: memory_pb2.LoreEntry) -> memory_models.LoreEntry:
    return memory_models.LoreEntry(
        entry_id=entry.entry_id,
        keys=tuple(entry.keys),
        content=entry.content,
        priority=entry.priority,
        always_on=entry.always_on,
    )


def lore_to_pb(entry: memory_models.LoreEntry) -> memory_pb2.LoreEntry:
    return memory_pb2.LoreEntry(
        entry_id=entry.entry_id,
        keys=list(entry.keys),
        content=entry.content,
        priority=entry.priority,
        always_on=entry.always_on,
        update_time=_timestamp(entry.updated_at),
    )


def context_to_pb(
    view: memory_models.TurnContextView,
) -> narrator_service_pb2.GetTurnContextResponse:
    return narrator_service_pb2.GetTurnContextResponse(
        turn_id=view.turn_id,
        sections=[
            memory_pb2.ContextSection(
                kind=_SECTION[s.kind],
                title=s.title,
                text=s.text,
                tokens=s.tokens,
                lore_entry_id=s.lore_entry_id,
                matched_key=s.matched_key,
                turn_id=s.turn_id,
            )
            for s in view.sections
        ],
        total_tokens=view.total_tokens,
        budget_tokens=view.budget_tokens,
    )

"""A turn's events and its end as compact JSON, for the entries of its Redis stream.

Each entry is one event (`k` its kind) or the end of the turn (`k` = "end", with the error the
turn ended with, if any). Errors travel as their class name and message; the follower raises
the same domain error (`TurnAborted` for one it does not know).
"""

from __future__ import annotations

import json
from typing import Any

from ..core import errors
from ..core.compact_json import dumps as _dumps
from ..core.models import (
    Decision,
    DecisionMade,
    DecisionSource,
    FinishReason,
    Recovery,
    RecoveryReason,
    TextDelta,
    TurnCompleted,
    TurnEvent,
    TurnKind,
    TurnStarted,
    Usage,
)
from ..core.turnlog import TurnInfo

# Errors a follower on another server re-raises as themselves (message and retry hint kept).
_ERRORS: dict[str, type[errors.NarratorError]] = {
    cls.__name__: cls
    for cls in (
        errors.TurnAborted,
        errors.FailedPrecondition,
        errors.DeadlineExceeded,
        errors.UpstreamUnavailable,
        errors.UpstreamRateLimited,
        errors.UpstreamRejected,
        errors.UpstreamMisconfigured,
        errors.RequestRejected,
        errors.StreamInterrupted,
        errors.Overloaded,
        errors.StoreUnavailable,
        errors.CoordinationUnavailable,
    )
}


class End:
    """The last entry of a turn's stream: the turn ended (with `error` for its followers)."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def encode(event: TurnEvent | End) -> str:
    if isinstance(event, TextDelta):
        return _dumps({"k": "d", "s": event.seq, "t": event.text})
    if isinstance(event, TurnStarted):
        return _dumps({"k": "s", "id": event.turn_id, "p": event.provider, "m": event.model})
    if isinstance(event, DecisionMade):
        d = event.decision
        return _dumps({"k": "x", "o": d.option_id, "a": d.arguments_json, "src": d.source.value})
    if isinstance(event, TurnCompleted):
        u = event.usage
        return _dumps(
            {
                "k": "c",
                "f": event.finish_reason.value,
                "u": [u.input_tokens, u.output_tokens, u.estimated, u.cached_input_tokens],
                "t": event.text,
                "r": [[r.provider, r.model, r.after_seq, r.reason.value] for r in event.recoveries],
            }
        )
    return _dumps({"k": "end", **_error(event.error)})


def _error(error: BaseException | None) -> dict[str, Any]:
    if error is None:
        return {}
    return {
        "e": type(error).__name__,
        "msg": str(error),
        "ra": getattr(error, "retry_after", None),
    }


def decode(text: str | bytes) -> TurnEvent | End:
    data = json.loads(text)
    kind = data["k"]
    if kind == "d":
        return TextDelta(int(data["s"]), str(data["t"]))
    if kind == "s":
        return TurnStarted(str(data["id"]), str(data["p"]), str(data["m"]))
    if kind == "x":
        return DecisionMade(Decision(data["o"], data["a"], DecisionSource(data["src"])))
    if kind == "c":
        i, o, estimated, cached = data["u"]
        return TurnCompleted(
            FinishReason(data["f"]),
            Usage(int(i), int(o), bool(estimated), int(cached)),
            str(data["t"]),
            tuple(Recovery(p, m, int(s), RecoveryReason(r)) for p, m, s, r in data["r"]),
        )
    if kind == "end":
        return End(_error_from(data))
    raise ValueError(f"unknown turn log entry kind {kind!r}")


def _error_from(data: dict[str, Any]) -> BaseException | None:
    name = data.get("e")
    if name is None:
        return None
    message = str(data.get("msg", ""))
    cls = _ERRORS.get(str(name), errors.TurnAborted)
    retry_after = data.get("ra")
    if issubclass(cls, errors.UpstreamError):
        return cls(message, retry_after=retry_after)
    if retry_after is not None and issubclass(
        cls, errors.Overloaded | errors.StoreUnavailable | errors.CoordinationUnavailable
    ):
        return cls(message, float(retry_after))
    return cls(message)


def encode_info(info: TurnInfo) -> str:
    return _dumps({"sid": info.session_id, "tid": info.turn_id, "k": info.kind.value,
                   "in": info.input, "r": info.resumable})  # fmt: skip


def decode_info(text: str | bytes) -> TurnInfo:
    data = json.loads(text)
    return TurnInfo(
        data["sid"], data["tid"], TurnKind(data["k"]), data["in"], bool(data.get("r", True))
    )

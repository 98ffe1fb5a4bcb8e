"""Bad requests get INVALID_ARGUMENT (or NOT_FOUND) with field violations, and store nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import turn_pb2

from ..support import SCENE, details, new_session, serve, settings

if TYPE_CHECKING:
    from pathlib import Path


def option(option_id: str, schema: str = "") -> turn_pb2.DecisionOption:
    return turn_pb2.DecisionOption(id=option_id, description="x", arguments_schema=schema)


NARRATE_CASES = {
    "empty action": (dict(action="   "), "action"),
    "100 kB action": (dict(action="a" * 100_000), "action"),
}
DECIDE_CASES = {
    "no options": (dict(options=[]), "options"),
    "duplicate ids": (dict(options=[option("a"), option("a")]), "options[1].id"),
    "bad id": (dict(options=[option("has space")]), "options[0].id"),
    "schema not json": (dict(options=[option("a", "{nope")]), "options[0].arguments_schema"),
    "schema not a schema": (
        dict(options=[option("a", '{"type": "banana"}')]),
        "options[0].arguments_schema",
    ),
    "schema not for an object": (
        dict(options=[option("a", '{"type": "string"}')]),
        "options[0].arguments_schema",
    ),
    "unknown default": (dict(options=[option("a")], default_option_id="b"), "default_option_id"),
    "empty question": (dict(options=[option("a")], question=""), "question"),
}


async def expect_invalid(call: Any, field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in call:
            pass
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    (bad_request,) = details(caught.value)
    assert field in [v.field for v in bad_request.field_violations]
    assert len(caught.value.details() or "") < 2000


@pytest.mark.parametrize("case", NARRATE_CASES)
async def test_bad_narrate_requests(tmp_path: Path, case: str) -> None:
    fields, field = NARRATE_CASES[case]
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        request = pb.NarrateRequest(session_id=session_id, scene=SCENE, **fields)
        await expect_invalid(s.stub.Narrate(request), field)
        session = await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))
        assert session.session.turn_count == 0


@pytest.mark.parametrize("case", DECIDE_CASES)
async def test_bad_decide_requests(tmp_path: Path, case: str) -> None:
    fields, field = DECIDE_CASES[case]
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        request = pb.DecideRequest(session_id=session_id, question="What now?", scene=SCENE)
        for key, value in fields.items():
            if key == "options":
                request.options.extend(value)
            else:
                setattr(request, key, value)
        await expect_invalid(s.stub.Decide(request), field)
        session = await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))
        assert session.session.turn_count == 0


async def test_unknown_session_is_not_found(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in s.stub.Narrate(pb.NarrateRequest(session_id="missing", action="hi")):
                pass
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            request = pb.DecideRequest(session_id="missing", question="q", options=[option("a")])
            async for _ in s.stub.Decide(request):
                pass
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND


async def test_all_violations_are_reported_together(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in s.stub.Narrate(pb.NarrateRequest()):
                pass
        fields = {v.field for v in details(caught.value)[0].field_violations}
        assert fields == {"session_id", "action"}


async def test_a_default_option_whose_arguments_cannot_be_built_is_refused(tmp_path: Path) -> None:
    schema = '{"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}}, "required": ["code"]}'
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        request = pb.DecideRequest(session_id=session_id, question="Which code?")
        request.options.extend([option("a", schema), option("b")])
        await expect_invalid(s.stub.Decide(request), "options[0].arguments_schema")
        request.default_option_id = "b"  # a fallback without arguments is always possible
        async for _ in s.stub.Decide(request):
            pass

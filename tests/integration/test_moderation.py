"""Content ratings through a real server: the input check (INVALID_ARGUMENT, nothing stored),
the output check (CONTENT_FILTER at the last safe sentence, stored as such), with the local
filter and with the fake upstream's /v1/moderations (and its fallback), and offline
narration at every rating."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2, turn_pb2
from narrator_server.settings import UpstreamSettings
from narrator_server.testing.replies import Reply

from ..support import SCENE, collect, details, serve, settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

R = session_pb2
CF = turn_pb2.FINISH_REASON_CONTENT_FILTER
GORE = "The door opens. A troll waits. Its entrails spill across the stones. You run."


def with_upstream(tmp_path: Path, upstream: FakeOpenAI, **extra: Any) -> Any:
    up = UpstreamSettings("openai", upstream.base_url, "fake-dm-1", "sk-test")
    return settings(tmp_path, upstreams=(up,), retry_max_attempts=1, **extra)


async def session(stub: Any, rating: int, description: str = "a knight") -> str:
    response = await stub.CreateSession(
        pb.CreateSessionRequest(
            setting=R.Setting(world="a drowned city", tone="grim"),
            player=R.PlayerCharacter(name="Ash", description=description),
            seed=3,
            content_rating=rating,
        )
    )
    return str(response.session.session_id)


async def narrate(stub: Any, sid: str, action: str) -> Any:
    return await collect(
        stub.Narrate(pb.NarrateRequest(session_id=sid, action=action, scene=SCENE))
    )


async def stored(stub: Any, sid: str) -> list[Any]:
    response = await stub.GetSession(pb.GetSessionRequest(session_id=sid))
    return list(response.session.recent_turns)


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    return caught.value


async def test_a_refused_action_names_field_and_category_and_stores_nothing(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with serve(with_upstream(tmp_path, upstream, moderation="local")) as s:
        sid = await session(s.stub, R.CONTENT_RATING_EVERYONE)
        error = await refused(narrate(s.stub, sid, "I kick the bloody corpse, you bastard"))
        (bad,) = details(error)
        (violation,) = bad.field_violations
        assert violation.field == "action"
        assert "(violence)" in violation.description
        assert "everyone" in violation.description
        assert "corpse" not in violation.description
        assert "corpse" not in str(error.details())
        assert await stored(s.stub, sid) == []
        assert upstream.received == []  # nothing was asked of the model
        # The same action is fine at teen; a slur is refused at mature too.
        teen = await session(s.stub, R.CONTENT_RATING_TEEN)
        assert (await narrate(s.stub, teen, "I kick the bloody corpse")).of("completed")
        mature = await session(s.stub, R.CONTENT_RATING_MATURE)
        error = await refused(narrate(s.stub, mature, "I tell him how to build a pipe bomb"))
        assert "(illicit)" in details(error)[0].field_violations[0].description
        # A character the rating refuses creates no session.
        error = await refused(session(s.stub, R.CONTENT_RATING_EVERYONE, "a naked brute"))
        assert details(error)[0].field_violations[0].field == "player.description"


@pytest.mark.parametrize(
    ("rating", "expected_text", "finish"),
    [
        (R.CONTENT_RATING_EVERYONE, "The door opens. A troll waits.", CF),
        (R.CONTENT_RATING_TEEN, "The door opens. A troll waits.", CF),
        (R.CONTENT_RATING_MATURE, GORE, turn_pb2.FINISH_REASON_STOP),
    ],
)
async def test_the_output_stops_at_the_last_safe_sentence_and_is_stored(
    tmp_path: Path, upstream: FakeOpenAI, rating: int, expected_text: str, finish: int
) -> None:
    upstream.default = Reply(text=GORE)
    async with serve(with_upstream(tmp_path, upstream, moderation="local")) as s:
        sid = await session(s.stub, rating)
        got = await narrate(s.stub, sid, "I open the door")
        assert got.text == expected_text  # nothing after the last safe sentence was sent
        (completed,) = got.of("completed")
        assert (completed.finish_reason, completed.text) == (finish, expected_text)
        system = upstream.received[0].body["messages"][0]
        name = R.ContentRating.Name(rating).removeprefix("CONTENT_RATING_")
        assert system["role"] == "system"
        assert f"Content rating: {name}" in system["content"]  # the rating shapes the prompt
        (turn,) = await stored(s.stub, sid)
        assert (turn.status, turn.finish_reason, turn.text) == (
            R.TURN_STATUS_COMPLETED,
            finish,
            expected_text,
        )


async def test_openai_moderation_checks_input_and_output_windows(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.default = Reply(text=GORE)
    upstream.moderations.flag("entrails", {"violence/graphic": 0.8})
    upstream.moderations.flag("stab the priest", {"violence": 0.95})
    async with serve(with_upstream(tmp_path, upstream, moderation="openai")) as s:
        sid = await session(s.stub, R.CONTENT_RATING_TEEN)
        got = await narrate(s.stub, sid, "I open the door")
        assert got.text == "The door opens. A troll waits."
        assert got.of("completed")[0].finish_reason == CF
        received = upstream.moderations.received
        assert received[:3] in (["Ash", "a knight", "I open the door"],
                                ["a knight", "Ash", "I open the door"])  # fmt: skip
        assert any("entrails" in r for r in received[3:])  # the output, in windows
        assert upstream.moderations.models_asked[-1] == "omni-moderation-latest"
        # Violence 0.95 is refused at everyone only.
        everyone = await session(s.stub, R.CONTENT_RATING_EVERYONE)
        asked = len(upstream.received)
        error = await refused(narrate(s.stub, everyone, "I stab the priest"))
        assert len(upstream.received) == asked  # no chat request for a refused action
        assert "(violence)" in details(error)[0].field_violations[0].description
        assert (await stored(s.stub, everyone)) == []


async def test_a_failing_moderation_endpoint_falls_back_to_the_local_filter(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.default = Reply(text=GORE)
    upstream.moderations.status = 500
    async with serve(with_upstream(tmp_path, upstream, moderation="openai")) as s:
        sid = await session(s.stub, R.CONTENT_RATING_TEEN)  # the endpoint failed: cooling down
        assert len(upstream.moderations.received) == 2  # the name and description, at once
        got = await narrate(s.stub, sid, "I open the door")  # the turn is not failed
        assert got.text == "The door opens. A troll waits."  # the lexicon refused the gore
        assert got.of("completed")[0].finish_reason == CF
        assert len(upstream.moderations.received) == 2  # not asked again while cooling down
        error = await refused(narrate(s.stub, sid, "I disembowel the troll"))
        assert "(violence/graphic)" in details(error)[0].field_violations[0].description


@pytest.mark.parametrize(
    "rating", [R.CONTENT_RATING_EVERYONE, R.CONTENT_RATING_TEEN, R.CONTENT_RATING_MATURE]
)
async def test_offline_narration_is_never_cut_at_any_rating(tmp_path: Path, rating: int) -> None:
    async with serve(settings(tmp_path, moderation="local")) as s:
        sid = await session(s.stub, rating)
        for action in ["I attack Grub with my sword", "I search the bodies", "I drink the potion",
                       "I kill the goblin chief", "I bandage my wound", "I look around"] * 2:  # fmt: skip
            got = await narrate(s.stub, sid, action)
            (completed,) = got.of("completed")
            assert completed.finish_reason == turn_pb2.FINISH_REASON_STOP
            assert completed.text == got.text
            assert got.text


async def test_a_slow_endpoint_is_checked_alongside_the_stream(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    """Checks slower than the model: the whole text still arrives, in order, and windows that
    closed while two checks ran were checked together (fewer requests than sentences)."""
    text = " ".join(f"The torch flickers {i} times." for i in range(20))
    upstream.default = Reply(text=text)
    upstream.moderations.delay = 0.03
    async with serve(with_upstream(tmp_path, upstream, moderation="openai")) as s:
        sid = await session(s.stub, R.CONTENT_RATING_TEEN)
        before = len(upstream.moderations.received)
        got = await narrate(s.stub, sid, "I wait")
        assert got.text == text
        (completed,) = got.of("completed")
        assert (completed.finish_reason, completed.text) == (turn_pb2.FINISH_REASON_STOP, text)
        output_checks = len(upstream.moderations.received) - before - 1  # less the input
        assert 1 < output_checks < 20

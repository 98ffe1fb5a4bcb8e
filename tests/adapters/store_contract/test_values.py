"""Values round-trip exactly: every field of a turn, the whole uint64 seed range, times,
Unicode; text no database can hold (U+0000, lone surrogates) never fails a write."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.models import Character, PlayerCharacter, Scene, Setting, TurnStatus

from .builders import full_turn, session, turn, unset_fields

if TYPE_CHECKING:
    from narrator_server.core.storage import SessionStore

UNICODE = [
    "naïve café — «quoted» ‘single’ “double”",
    "日本語のナレーション、竜が目を覚ます。",
    "مرحبا بالعالم والتنين",  # right to left
    "🐉🗡️👩🏽‍🚀 flags 🇫🇷 and a ZWJ family 👨‍👩‍👧",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 astral, e\u0301 combining, \u200b zero width",
    "quotes ' \" ` and backslashes \\ \\\\ and '); DROP TABLE turns; --",
    '{"looks": ["like", "json"]} \t tabs \n newlines \r\n',
    "%s %(name)s ? :1 $1 placeholders",
]


class TestValues:
    async def test_every_field_of_a_turn_round_trips(self, store: SessionStore) -> None:
        full = full_turn()
        assert unset_fields(full) == []  # a new Turn field must be added to full_turn
        await store.create_session(session())
        await store.save_turn(full)
        assert await store.get_turn("s1", full.turn_id) == full
        got = await store.get_session("s1", 1)
        assert got is not None
        assert got.recent_turns == (full,)

    async def test_a_claimed_turn_round_trips_too(self, store: SessionStore) -> None:
        running = full_turn()
        await store.create_session(session())
        assert await store.claim_turn(running) is None
        assert await store.get_turn("s1", running.turn_id) == running

    @pytest.mark.parametrize("seed", [0, 1, 2**31, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1])
    async def test_seeds_cover_the_whole_uint64_range(self, store: SessionStore, seed: int) -> None:
        await store.create_session(session(seed=seed))
        got = await store.get_session("s1", 0)
        assert got is not None
        assert got.seed == seed

    async def test_times_keep_their_fraction(self, store: SessionStore) -> None:
        at = 1_712_345_678.123456
        await store.create_session(session(created_at=at))
        await store.save_turn(turn("t1", at=at + 0.000001))
        got = await store.get_session("s1", 1)
        assert got is not None
        assert got.created_at == at
        assert got.recent_turns[0].created_at == at + 0.000001

    @pytest.mark.parametrize("text", UNICODE)
    async def test_unicode_round_trips_in_every_text_field(
        self, store: SessionStore, text: str
    ) -> None:
        made = session(setting=Setting(text, text), player=PlayerCharacter(text, text))
        scene = Scene(text, (Character(text, text, text, text),), (text,), ((text, text),))
        stored = turn("t1", input=text, text=text, scene=scene)
        await store.create_session(made)
        await store.save_turn(stored)
        got = await store.get_session("s1", 5)
        assert got is not None
        assert (got.setting, got.player) == (made.setting, made.player)
        assert got.recent_turns == (stored,)

    async def test_text_no_database_can_hold_never_fails_a_write(self, store: SessionStore) -> None:
        # U+0000 (PostgreSQL text refuses it) and a lone surrogate (not encodable as UTF-8:
        # a model's JSON escapes can produce one). Adapters may drop or replace them.
        bad = "before\x00after \ud83d alone"
        await store.create_session(session(setting=Setting(bad, bad)))
        await store.claim_turn(turn("t1", status=TurnStatus.RUNNING, input=bad))
        await store.save_turn(turn("t1", input=bad, text=bad, scene=Scene(bad, (), (bad,))))
        got = await store.get_session("s1", 5)
        assert got is not None
        readable = re.compile("[\x00\ud800-\udfff\ufffd]")
        assert readable.sub("", got.setting.world) == "beforeafter  alone"
        (saved,) = got.recent_turns
        assert saved.status is TurnStatus.COMPLETED
        for value in (saved.input, saved.text, saved.scene.location, saved.scene.facts[0]):
            assert readable.sub("", value) == "beforeafter  alone"

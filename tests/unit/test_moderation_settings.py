"""NARRATOR_MODERATION and what the composition makes of it."""

from __future__ import annotations

import pytest

from narrator_server.compose import moderation_summary, moderator, narrator_config
from narrator_server.core.models import ContentRating
from narrator_server.core.output_check import OutputCheck
from narrator_server.moderation.fallback import FallbackModerator
from narrator_server.moderation.lexicon import LexiconModerator
from narrator_server.providers.factory import openai_client
from narrator_server.settings import Settings, SettingsError


def built(env: dict[str, str]) -> tuple[str, bool, object]:
    s = Settings.from_env(env)
    clients = [openai_client(u.base_url, u.api_key) for u in s.upstreams]
    m = moderator(s, clients)
    if m is None:
        return "off", False, None
    return m.name, m.instant, getattr(m, "_inner", None)


def test_auto_picks_openai_only_for_openais_own_api() -> None:
    name, instant, inner = built({"OPENAI_API_KEY": "sk-x"})
    assert (name, instant, isinstance(inner, FallbackModerator)) == ("openai", False, True)
    env = {"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "https://api.openai.com/v1"}
    assert built(env)[0] == "openai"
    assert built({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"})[:2] == ("local", True)
    assert built({})[:2] == ("local", True)


def test_openai_local_and_off_are_forced() -> None:
    local_server = {"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}
    assert built({**local_server, "NARRATOR_MODERATION": "openai"})[0] == "openai"
    assert built({"OPENAI_API_KEY": "sk-x", "NARRATOR_MODERATION": "local"})[0] == "local"
    assert built({"OPENAI_API_KEY": "sk-x", "NARRATOR_MODERATION": "OFF"})[0] == "off"
    with pytest.raises(SettingsError, match="NARRATOR_MODERATION=openai needs"):
        Settings.from_env({"NARRATOR_MODERATION": "openai"})


def test_the_hold_back_settings_reach_the_core() -> None:
    s = Settings.from_env(
        {"NARRATOR_MODERATION_HOLD_MS": "80", "NARRATOR_MODERATION_WINDOW_CHARS": "100"}
    )
    config = narrator_config(s).moderation
    assert (config.hold_s, config.window_chars) == (0.08, 100)
    with pytest.raises(SettingsError, match="NARRATOR_MODERATION_WINDOW_CHARS"):
        Settings.from_env({"NARRATOR_MODERATION_WINDOW_CHARS": "5"})


def test_a_turns_held_text_goes_out_on_a_tick_of_half_the_hold() -> None:
    config = narrator_config(Settings.from_env({"NARRATOR_MODERATION_HOLD_MS": "1000"}))
    check = OutputCheck(
        LexiconModerator(), ContentRating.TEEN, config.moderation, clock=lambda: 20.3
    )
    # A turn's first complete words go at once; the rest is held.
    assert check.feed("The torch gutters") == ["The torch "]
    assert check.feed(" as") == []
    # Held from 20.3 s, the hold ends at 21.3 s; ticks of 0.5 s: the window is due at 21.
    assert check.windows.due() == 21.0


def test_the_startup_log_says_who_checks() -> None:
    assert moderation_summary(Settings.from_env({"OPENAI_API_KEY": "sk-x"})) == (
        "openai (omni-moderation-latest at api.openai.com)"
    )
    assert moderation_summary(Settings.from_env({})) == "local"
    assert moderation_summary(Settings.from_env({"NARRATOR_MODERATION": "off"})) == "off"

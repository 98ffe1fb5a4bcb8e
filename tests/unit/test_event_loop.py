"""`NARRATOR_EVENT_LOOP`: which loop the server runs on."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest
import uvloop

from narrator_server import event_loop
from narrator_server.settings import Settings, SettingsError


async def _running() -> str:
    return event_loop.name(asyncio.get_running_loop())


def test_auto_and_uvloop_run_on_uvloop_asyncio_on_its_own_loop() -> None:
    assert event_loop.factory("auto") is uvloop.new_event_loop
    assert event_loop.run(_running(), "auto") == "uvloop"
    assert event_loop.run(_running(), "uvloop") == "uvloop"
    assert event_loop.factory("asyncio") is asyncio.new_event_loop
    assert event_loop.run(_running(), "asyncio") == "asyncio"


def test_without_uvloop_auto_falls_back_and_uvloop_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a)
    )
    assert event_loop.factory("auto") is asyncio.new_event_loop
    with pytest.raises(event_loop.LoopUnavailable, match="uvloop is not installed"):
        event_loop.factory("uvloop")


def test_the_setting_takes_only_the_loops_it_names() -> None:
    assert Settings.from_env({}).event_loop == "auto"
    assert Settings.from_env({"NARRATOR_EVENT_LOOP": "asyncio"}).event_loop == "asyncio"
    with pytest.raises(SettingsError, match="NARRATOR_EVENT_LOOP"):
        Settings.from_env({"NARRATOR_EVENT_LOOP": "libev"})

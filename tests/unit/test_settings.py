from __future__ import annotations

from pathlib import Path

import pytest

from narrator_server.compose import narrator_config
from narrator_server.settings import Settings, SettingsError, UpstreamSettings


def test_defaults_are_the_embedded_service() -> None:
    s = Settings.from_env({})
    assert (s.port, s.fallback, s.uses_upstream, s.data_dir) == (50051, True, False, Path(".data"))


def test_environment_overrides() -> None:
    s = Settings.from_env(
        {"NARRATOR_PORT": "6000", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1",
         "NARRATOR_FALLBACK": "off", "NARRATOR_MODEL": "llama3",
         "NARRATOR_UPSTREAM_TRANSPORT": "httpx"}
    )  # fmt: skip
    assert (s.port, s.uses_upstream, s.fallback, s.model) == (6000, True, False, "llama3")
    assert (s.upstream_transport, Settings.from_env({}).upstream_transport) == ("httpx", "fast")
    assert s.upstreams == (UpstreamSettings("127.0.0.1:1", "http://127.0.0.1:1/v1", "llama3", ""),)


def test_an_upstream_chain_reads_each_key_from_its_variable() -> None:
    s = Settings.from_env(
        {
            "NARRATOR_UPSTREAMS": '[{"name": "a", "base_url": "http://a/v1", "api_key_env": "KA"},'
            ' {"name": "b", "model": "m2"}]',
            "KA": "sk-a",
            "NARRATOR_MODEL": "m1",
        }
    )
    assert s.upstreams == (
        UpstreamSettings("a", "http://a/v1", "m1", "sk-a"),
        UpstreamSettings("b", "", "m2", ""),
    )
    assert "sk-a" not in repr(s)


def test_the_key_never_shows_in_repr() -> None:
    assert "sk-secret" not in repr(Settings.from_env({"OPENAI_API_KEY": "sk-secret"}))


@pytest.mark.parametrize(
    "env",
    [
        {"NARRATOR_PORT": "abc"},
        {"NARRATOR_FALLBACK": "maybe"},
        {"NARRATOR_MAX_TOKENS": "0"},
        {"NARRATOR_UPSTREAM_TRANSPORT": "h2"},
        {"NARRATOR_UPSTREAMS": "{not a list"},
        {"NARRATOR_UPSTREAMS": '[{"name": "a", "api_key_env": "MISSING_KEY"}]'},
    ],
)
def test_bad_values_are_explained(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)


def test_span_batches_are_small_and_soon_unless_the_standard_variables_say() -> None:
    from narrator_server.telemetry.setup import TelemetryRuntime

    def batching(env: dict[str, str]) -> tuple[object, ...]:
        settings = Settings.from_env({"NARRATOR_DATA_DIR": "/nonexistent"} | env)
        processor = TelemetryRuntime.span_processor(settings)
        inner = processor._batch_processor
        got = inner._schedule_delay_millis, inner._max_export_batch_size, inner._max_queue_size
        processor.shutdown()
        return got

    assert batching({}) == (1000, 128, 2048)
    given = {"OTEL_BSP_SCHEDULE_DELAY": "250", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "64",
             "OTEL_BSP_MAX_QUEUE_SIZE": "512"}  # fmt: skip
    assert batching(given) == (250, 64, 512)
    with pytest.raises(SettingsError, match="OTEL_BSP_MAX_EXPORT_BATCH_SIZE"):
        Settings.from_env(
            {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "600", "OTEL_BSP_MAX_QUEUE_SIZE": "500"}
        )


def test_the_summary_fold_setting_reaches_the_memory() -> None:
    assert narrator_config(Settings.from_env({})).memory.fold_after == 4
    s = Settings.from_env({"NARRATOR_SUMMARY_FOLD_TURNS": "8"})
    assert narrator_config(s).memory.fold_after == 8
    for wrong in ("0", "51"):
        with pytest.raises(SettingsError, match="NARRATOR_SUMMARY_FOLD_TURNS"):
            Settings.from_env({"NARRATOR_SUMMARY_FOLD_TURNS": wrong})

"""The one settings object, read from the environment. Nothing else reads os.environ."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """A variable is set to a value that cannot be used."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE | _FALSE:
        return value in _TRUE
    raise SettingsError(f"{name} must be true or false, not {value!r}")


def _number(env: Mapping[str, str], name: str, default: float, low: float = 0) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {value!r}") from None
    if number < low:
        raise SettingsError(f"{name} must be at least {low}, not {value!r}")
    return number


@dataclass(frozen=True)
class UpstreamSettings:
    """One OpenAI-compatible upstream of the chain."""

    name: str
    base_url: str = ""
    model: str = "gpt-4o-mini"
    api_key: str = field(default="", repr=False)


def _upstreams(env: Mapping[str, str], default_model: str) -> tuple[UpstreamSettings, ...]:
    """NARRATOR_UPSTREAMS (a JSON list), else the single upstream of OPENAI_* (if any)."""
    text = env.get("NARRATOR_UPSTREAMS", "").strip()
    if not text:
        key, url = env.get("OPENAI_API_KEY", ""), env.get("OPENAI_BASE_URL", "")
        return (UpstreamSettings("openai", url, default_model, key),) if key or url else ()
    try:
        entries = json.loads(text)
        assert isinstance(entries, list)
        chain = []
        for i, entry in enumerate(entries):
            name = str(entry.get("name") or f"upstream{i + 1}")
            key_variable = str(entry.get("api_key_env") or "")
            if key_variable and key_variable not in env:
                raise SettingsError(f"NARRATOR_UPSTREAMS[{i}]: {key_variable} is not set")
            chain.append(
                UpstreamSettings(
                    name=name,
                    base_url=str(entry.get("base_url") or ""),
                    model=str(entry.get("model") or default_model),
                    api_key=env.get(key_variable, "") if key_variable else "",
                )
            )
    except (ValueError, AssertionError, AttributeError) as error:
        shape = '{"name", "base_url", "model", "api_key_env"}'
        raise SettingsError(
            f"NARRATOR_UPSTREAMS must be a JSON list of {shape} objects ({error})"
        ) from None
    if len({u.name for u in chain}) != len(chain) or "offline" in {u.name for u in chain}:
        raise SettingsError("NARRATOR_UPSTREAMS names must be unique and not 'offline'")
    return tuple(chain)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 50051
    data_dir: Path = Path(".data")
    model: str = "gpt-4o-mini"
    fallback: bool = True
    offline_pace_ms: float = 40.0
    max_input_chars: int = 4000
    history_token_budget: int = 3000
    max_tokens: int = 600
    temperature: float = 0.8
    retry_max_attempts: int = 4
    retry_initial_wait_s: float = 0.25
    retry_max_wait_s: float = 8.0
    max_retry_after_s: float = 20.0
    upstream_timeout_s: float = 60.0
    shutdown_grace_s: float = 10.0
    log_level: str = "INFO"
    log_json: bool = True
    telemetry: bool = True
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    # Standard OpenTelemetry variables the service itself acts on; the SDK reads the rest.
    otlp_endpoint: str = ""
    otel_service_name: str = ""
    capture_content: bool = False

    upstreams: tuple[UpstreamSettings, ...] = ()
    first_token_timeout_s: float = 20.0
    inter_token_timeout_s: float = 15.0
    breaker_failures: int = 5
    breaker_failure_rate: float = 0.5
    breaker_cooldown_s: float = 30.0
    max_streams: int = 256
    max_upstream_requests: int = 128
    resume_window_s: float = 10.0
    max_recoveries: int = 2

    @property
    def uses_upstream(self) -> bool:
        """At least one OpenAI-compatible upstream is configured."""
        return bool(self.upstreams)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        d = cls()
        return cls(
            host=env.get("NARRATOR_HOST", d.host),
            port=int(_number(env, "NARRATOR_PORT", d.port)),
            data_dir=Path(env.get("NARRATOR_DATA_DIR") or d.data_dir),
            model=env.get("NARRATOR_MODEL") or d.model,
            fallback=_bool(env, "NARRATOR_FALLBACK", d.fallback),
            offline_pace_ms=_number(env, "NARRATOR_OFFLINE_PACE_MS", d.offline_pace_ms),
            max_input_chars=int(_number(env, "NARRATOR_MAX_INPUT_CHARS", d.max_input_chars, 1)),
            history_token_budget=int(
                _number(env, "NARRATOR_HISTORY_TOKENS", d.history_token_budget)
            ),
            max_tokens=int(_number(env, "NARRATOR_MAX_TOKENS", d.max_tokens, 1)),
            temperature=_number(env, "NARRATOR_TEMPERATURE", d.temperature),
            retry_max_attempts=int(
                _number(env, "NARRATOR_RETRY_ATTEMPTS", d.retry_max_attempts, 1)
            ),
            retry_initial_wait_s=_number(
                env, "NARRATOR_RETRY_INITIAL_WAIT_S", d.retry_initial_wait_s
            ),
            retry_max_wait_s=_number(env, "NARRATOR_RETRY_MAX_WAIT_S", d.retry_max_wait_s),
            max_retry_after_s=_number(env, "NARRATOR_MAX_RETRY_AFTER_S", d.max_retry_after_s),
            upstream_timeout_s=_number(env, "NARRATOR_UPSTREAM_TIMEOUT_S", d.upstream_timeout_s),
            shutdown_grace_s=_number(env, "NARRATOR_SHUTDOWN_GRACE_S", d.shutdown_grace_s),
            log_level=env.get("NARRATOR_LOG_LEVEL", d.log_level).upper(),
            log_json=env.get("NARRATOR_LOG_FORMAT", "json").strip().lower() != "text",
            telemetry=_bool(env, "NARRATOR_TELEMETRY", d.telemetry),
            metrics_host=env.get("NARRATOR_METRICS_HOST") or d.metrics_host,
            metrics_port=int(_number(env, "NARRATOR_METRICS_PORT", d.metrics_port, -1)),
            otlp_endpoint=env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
            otel_service_name=env.get("OTEL_SERVICE_NAME", ""),
            capture_content=_bool(env, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", False),
            upstreams=_upstreams(env, env.get("NARRATOR_MODEL") or d.model),
            first_token_timeout_s=_number(
                env, "NARRATOR_FIRST_TOKEN_TIMEOUT_S", d.first_token_timeout_s, 0.001
            ),
            inter_token_timeout_s=_number(
                env, "NARRATOR_INTER_TOKEN_TIMEOUT_S", d.inter_token_timeout_s, 0.001
            ),
            breaker_failures=int(_number(env, "NARRATOR_BREAKER_FAILURES", d.breaker_failures, 1)),
            breaker_failure_rate=_number(
                env, "NARRATOR_BREAKER_FAILURE_RATE", d.breaker_failure_rate, 0.01
            ),
            breaker_cooldown_s=_number(env, "NARRATOR_BREAKER_COOLDOWN_S", d.breaker_cooldown_s),
            max_streams=int(_number(env, "NARRATOR_MAX_STREAMS", d.max_streams, 1)),
            max_upstream_requests=int(
                _number(env, "NARRATOR_MAX_UPSTREAM_REQUESTS", d.max_upstream_requests, 1)
            ),
            resume_window_s=_number(env, "NARRATOR_RESUME_WINDOW_S", d.resume_window_s),
            max_recoveries=int(_number(env, "NARRATOR_MAX_RECOVERIES", d.max_recoveries)),
        )

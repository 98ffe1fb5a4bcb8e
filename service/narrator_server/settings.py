"""The one settings object, read from the environment. Nothing else reads os.environ.

Every setting is one field below: its environment variable (the alias), its default (written
only here), its bounds. `Settings.from_env` validates them all and reports every bad variable
in one line each; constructing `Settings(...)` by field name (tests) reads no environment.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .event_loop import Choice as LoopChoice  # noqa: TC001 (pydantic reads it at runtime)

if TYPE_CHECKING:
    from collections.abc import Mapping


class SettingsError(ValueError):
    """One or more variables are set to values that cannot be used (one line each)."""


@dataclass(frozen=True)
class UpstreamSettings:
    """One OpenAI-compatible upstream of the chain."""

    name: str
    base_url: str = ""
    model: str = "gpt-4o-mini"
    api_key: str = field(default="", repr=False)

    @property
    def host(self) -> str:
        """Where it is, for logs: `host:port` of the base URL (OpenAI's own by default)."""
        return urlsplit(self.base_url).netloc if self.base_url else "api.openai.com"


class _UpstreamEntry(BaseModel):
    """One object of NARRATOR_UPSTREAMS, as written by the operator."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr = ""
    base_url: StrictStr = ""
    model: StrictStr = ""
    api_key_env: StrictStr = ""


_INTEGER = re.compile(r"[+-]?[0-9]+")
Seconds = Annotated[float, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseModel):
    """Every tunable of the service. Field aliases are the environment variables."""

    # No inf or nan anywhere: an infinite grace or timeout is never what an operator meant.
    model_config = ConfigDict(
        frozen=True, populate_by_name=True, extra="forbid", allow_inf_nan=False
    )

    # Listening and storage.
    host: str = Field("127.0.0.1", alias="NARRATOR_HOST", min_length=1)
    port: int = Field(50051, alias="NARRATOR_PORT", ge=0, le=65535)
    data_dir: Path = Field(Path(".data"), alias="NARRATOR_DATA_DIR")
    database_url: str = Field("", alias="NARRATOR_DATABASE_URL", repr=False)
    database_timeout_s: float = Field(5.0, alias="NARRATOR_DATABASE_TIMEOUT_S", gt=0, le=60)
    # 0: derived from NARRATOR_MAX_STREAMS (see `database_pool`).
    database_pool_size: int = Field(0, alias="NARRATOR_DATABASE_POOL_SIZE", ge=0, le=500)
    redis_url: str = Field("", alias="NARRATOR_REDIS_URL", repr=False)
    redis_timeout_s: float = Field(1.0, alias="NARRATOR_REDIS_TIMEOUT_S", gt=0, le=30)
    lease_s: float = Field(2.0, alias="NARRATOR_LEASE_S", ge=0.5, le=60)
    max_connection_age_s: Seconds = Field(0.0, alias="NARRATOR_MAX_CONNECTION_AGE_S")
    event_loop: LoopChoice = Field("auto", alias="NARRATOR_EVENT_LOOP")  # see event_loop.py

    # Callers.
    auth: Literal["auto", "required", "off"] = Field("auto", alias="NARRATOR_AUTH")
    tls_cert_file: Path | None = Field(None, alias="NARRATOR_TLS_CERT_FILE")
    tls_key_file: Path | None = Field(None, alias="NARRATOR_TLS_KEY_FILE")
    tls_client_ca_file: Path | None = Field(None, alias="NARRATOR_TLS_CLIENT_CA_FILE")
    key_refresh_s: float = Field(1.0, alias="NARRATOR_KEY_REFRESH_S", gt=0, le=2)

    # The model and the chain of upstreams.
    model: str = Field("gpt-4o-mini", alias="NARRATOR_MODEL", min_length=1)
    upstreams: tuple[UpstreamSettings, ...] = ()
    fallback: bool = Field(True, alias="NARRATOR_FALLBACK")
    offline_pace_ms: float = Field(40.0, alias="NARRATOR_OFFLINE_PACE_MS", ge=0, le=10_000)
    max_tokens: Positive = Field(600, alias="NARRATOR_MAX_TOKENS", le=32_768)
    temperature: float = Field(0.8, alias="NARRATOR_TEMPERATURE", ge=0, le=2)
    retry_max_attempts: Positive = Field(4, alias="NARRATOR_RETRY_ATTEMPTS", le=20)
    retry_initial_wait_s: Seconds = Field(0.25, alias="NARRATOR_RETRY_INITIAL_WAIT_S")
    retry_max_wait_s: Seconds = Field(8.0, alias="NARRATOR_RETRY_MAX_WAIT_S")
    max_retry_after_s: Seconds = Field(20.0, alias="NARRATOR_MAX_RETRY_AFTER_S")
    upstream_timeout_s: float = Field(60.0, alias="NARRATOR_UPSTREAM_TIMEOUT_S", gt=0)
    upstream_transport: Literal["fast", "httpx"] = Field(
        "fast", alias="NARRATOR_UPSTREAM_TRANSPORT"
    )
    first_token_timeout_s: float = Field(20.0, alias="NARRATOR_FIRST_TOKEN_TIMEOUT_S", gt=0)
    inter_token_timeout_s: float = Field(15.0, alias="NARRATOR_INTER_TOKEN_TIMEOUT_S", gt=0)
    stall_floor_s: float = Field(1.5, alias="NARRATOR_STALL_FLOOR_S", gt=0)
    stall_factor: float = Field(8.0, alias="NARRATOR_STALL_FACTOR", ge=1)
    breaker_failures: Positive = Field(5, alias="NARRATOR_BREAKER_FAILURES")
    breaker_failure_rate: float = Field(0.5, alias="NARRATOR_BREAKER_FAILURE_RATE", gt=0, le=1)
    breaker_cooldown_s: Seconds = Field(30.0, alias="NARRATOR_BREAKER_COOLDOWN_S")

    # Limits.
    max_streams: Positive = Field(256, alias="NARRATOR_MAX_STREAMS")
    max_upstream_requests: Positive = Field(128, alias="NARRATOR_MAX_UPSTREAM_REQUESTS")
    resume_window_s: Seconds = Field(10.0, alias="NARRATOR_RESUME_WINDOW_S", le=3600)
    max_recoveries: int = Field(2, alias="NARRATOR_MAX_RECOVERIES", ge=0, le=10)
    max_input_chars: Positive = Field(4000, alias="NARRATOR_MAX_INPUT_CHARS", le=100_000)
    shutdown_grace_s: Seconds = Field(10.0, alias="NARRATOR_SHUTDOWN_GRACE_S")
    watch_buffer: Positive = Field(2048, alias="NARRATOR_WATCH_BUFFER")
    max_turn_chars: int = Field(131_072, alias="NARRATOR_MAX_TURN_CHARS", ge=1000, le=1_000_000)
    schema_workers: Positive = Field(2, alias="NARRATOR_SCHEMA_WORKERS", le=32)
    schema_budget_ms: float = Field(250.0, alias="NARRATOR_SCHEMA_BUDGET_MS", ge=10, le=10_000)
    # 0: no trims, no collections when idle (see heap.py).
    heap_trim_s: Seconds = Field(1.0, alias="NARRATOR_HEAP_TRIM_S", le=3600)

    # Memory and the prompt.
    prompt_token_budget: Positive = Field(12_000, alias="NARRATOR_PROMPT_TOKENS", ge=500)
    history_token_budget: int = Field(3000, alias="NARRATOR_HISTORY_TOKENS", ge=0)
    lore_token_budget: int = Field(1000, alias="NARRATOR_LORE_TOKENS", ge=0)
    summary_token_budget: int = Field(500, alias="NARRATOR_SUMMARY_TOKENS", ge=0)
    # Turns out of the history window before a fold: each fold is a model request.
    summary_fold_turns: int = Field(4, alias="NARRATOR_SUMMARY_FOLD_TURNS", ge=1, le=50)
    lore_max_entries: Positive = Field(500, alias="NARRATOR_LORE_MAX_ENTRIES", le=10_000)

    # Content.
    content_rating: Literal["everyone", "teen", "mature"] = Field(
        "teen", alias="NARRATOR_CONTENT_RATING"
    )
    moderation: Literal["auto", "openai", "local", "off"] = Field(
        "auto", alias="NARRATOR_MODERATION"
    )
    moderation_model: str = Field(
        "omni-moderation-latest", alias="NARRATOR_MODERATION_MODEL", min_length=1
    )
    moderation_timeout_s: float = Field(2.0, alias="NARRATOR_MODERATION_TIMEOUT_S", gt=0, le=30)
    moderation_cooldown_s: Seconds = Field(30.0, alias="NARRATOR_MODERATION_COOLDOWN_S", le=3600)
    moderation_hold_ms: float = Field(150.0, alias="NARRATOR_MODERATION_HOLD_MS", ge=0, le=5000)
    moderation_window_chars: int = Field(
        160, alias="NARRATOR_MODERATION_WINDOW_CHARS", ge=20, le=4000
    )

    # Telemetry.
    log_level: LogLevel = Field("INFO", alias="NARRATOR_LOG_LEVEL")
    log_format: Literal["json", "text"] = Field("json", alias="NARRATOR_LOG_FORMAT")
    telemetry: bool = Field(True, alias="NARRATOR_TELEMETRY")
    metrics_host: str = Field("127.0.0.1", alias="NARRATOR_METRICS_HOST", min_length=1)
    metrics_port: int = Field(9464, alias="NARRATOR_METRICS_PORT", ge=-1, le=65535)
    # Standard OpenTelemetry variables the service itself acts on; the SDK reads the rest.
    otlp_endpoint: str = Field(
        "",
        validation_alias=AliasChoices(
            "otlp_endpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
    )
    otel_service_name: str = Field("", alias="OTEL_SERVICE_NAME")
    # Span batches: sooner and smaller than the SDK's defaults (5 s, 512), so that finished
    # spans do not pile up in memory under load (about 2 MB at 100 streams).
    span_delay_ms: int = Field(1000, alias="OTEL_BSP_SCHEDULE_DELAY", ge=1, le=60_000)
    span_batch: int = Field(128, alias="OTEL_BSP_MAX_EXPORT_BATCH_SIZE", ge=1, le=65_536)
    span_queue: int = Field(2048, alias="OTEL_BSP_MAX_QUEUE_SIZE", ge=1, le=1_048_576)
    capture_content: bool = Field(False, alias="OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")

    @field_validator("*", mode="before")
    @classmethod
    def _whole_numbers(cls, value: object, info: ValidationInfo) -> object:
        """A port, a count or a limit is written as a whole number ("1.0" is not one)."""
        name = info.field_name or ""
        integer = cls.model_fields[name].annotation is int
        if integer and isinstance(value, str) and not _INTEGER.fullmatch(value.strip()):
            raise PydanticCustomError("whole_number", "input should be a whole number")
        return value

    @field_validator("log_format", "auth", "content_rating", "moderation", mode="before")
    @classmethod
    def _fold_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        value = value.strip()
        if value and urlsplit(value).scheme not in ("postgresql", "postgres"):
            raise ValueError("must be a postgresql:// URL")
        return value

    @property
    def database_pool(self) -> int:
        """Connections per server: a call holds one for a few milliseconds, so a sixteenth
        of the streams (4 to 16) keeps several replicas within PostgreSQL's default 100."""
        return self.database_pool_size or min(16, max(4, self.max_streams // 16))

    @property
    def moderation_upstream(self) -> UpstreamSettings | None:
        """The upstream whose /v1/moderations checks text, if any: with `openai`, the first
        upstream; with `auto`, the first upstream when it is OpenAI's own API."""
        first = self.upstreams[0] if self.upstreams else None
        if first is None or self.moderation in ("local", "off"):
            return None
        if self.moderation == "auto" and first.host != "api.openai.com":
            return None
        return first

    @property
    def uses_upstream(self) -> bool:
        """At least one OpenAI-compatible upstream is configured."""
        return bool(self.upstreams)

    @property
    def log_json(self) -> bool:
        return self.log_format == "json"

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment asks for; `SettingsError` lists every bad variable."""
        env = os.environ if env is None else env
        names = _aliases()
        given = {k: v for k, v in env.items() if k in names and v.strip()}
        problems: list[str] = []
        try:
            given_upstreams = _upstreams(env, env.get("NARRATOR_MODEL", "").strip())
        except SettingsError as error:
            problems.append(str(error))
            given_upstreams = ()
        try:
            settings = cls.model_validate({**given, "upstreams": given_upstreams})
        except ValidationError as error:
            problems += [_explain(e, env) for e in error.errors()]
            raise SettingsError("\n".join(problems)) from None
        if problems:
            raise SettingsError("\n".join(problems))
        settings._check_pairs()
        return settings

    def _check_pairs(self) -> None:
        if self.moderation == "openai" and not self.upstreams:
            raise SettingsError(
                "NARRATOR_MODERATION=openai needs an OpenAI-compatible upstream "
                "(OPENAI_API_KEY / OPENAI_BASE_URL or NARRATOR_UPSTREAMS); use auto or local"
            )
        if self.span_batch > self.span_queue:
            raise SettingsError(
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE must not be larger than OTEL_BSP_MAX_QUEUE_SIZE"
            )
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise SettingsError(
                "NARRATOR_TLS_CERT_FILE and NARRATOR_TLS_KEY_FILE go together: set both or neither"
            )
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise SettingsError(
                "NARRATOR_TLS_CLIENT_CA_FILE (mTLS) needs NARRATOR_TLS_CERT_FILE and "
                "NARRATOR_TLS_KEY_FILE"
            )


_SECRET_VARIABLES = {"OPENAI_API_KEY", "NARRATOR_DATABASE_URL", "NARRATOR_REDIS_URL"}


def _aliases() -> set[str]:
    names: set[str] = set()
    for info in Settings.model_fields.values():
        alias = info.validation_alias or info.alias
        if isinstance(alias, AliasChoices):
            names.update(str(a) for a in alias.choices)
        elif alias:
            names.add(str(alias))
    return names


def _explain(error: Any, env: Mapping[str, str]) -> str:
    """One line: the variable, what is wrong, the value (never a secret's)."""
    name = str(error["loc"][0]) if error["loc"] else "settings"
    value = env.get(name, error.get("input"))
    shown = "(hidden)" if name in _SECRET_VARIABLES else repr(value)
    msg = str(error["msg"]).rstrip(".")
    return f"{name}: {msg[:1].lower() + msg[1:]}, not {shown}"


def _upstreams(env: Mapping[str, str], model: str) -> tuple[UpstreamSettings, ...]:
    """NARRATOR_UPSTREAMS (a JSON list), else the single upstream of OPENAI_* (if any)."""
    default_model = model or str(Settings.model_fields["model"].default)
    text = env.get("NARRATOR_UPSTREAMS", "").strip()
    if not text:
        key, url = env.get("OPENAI_API_KEY", "").strip(), env.get("OPENAI_BASE_URL", "").strip()
        if not (key or url):
            return ()
        if url and urlsplit(url).scheme not in ("http", "https"):
            raise SettingsError(f"OPENAI_BASE_URL: must be an http(s) URL, not {url!r}")
        return (
            UpstreamSettings(name=_name_for(url), base_url=url, model=default_model, api_key=key),
        )
    shape = 'a JSON list of {"name", "base_url", "model", "api_key_env"} objects'
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise SettingsError(f"NARRATOR_UPSTREAMS: must be {shape} ({error})") from None
    if not isinstance(raw, list) or not raw:
        raise SettingsError(f"NARRATOR_UPSTREAMS: must be {shape}, with at least one")
    chain = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise SettingsError(
                f'NARRATOR_UPSTREAMS[{i}]: must be a {{"name", "base_url", "model", '
                '"api_key_env"} object'
            )
        try:
            entry = _UpstreamEntry.model_validate(item)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            if first["type"] == "extra_forbidden":
                raise SettingsError(
                    f"NARRATOR_UPSTREAMS[{i}].{where}: unknown field (the fields are name, "
                    "base_url, model and api_key_env)"
                ) from None
            msg = str(first["msg"])
            raise SettingsError(
                f"NARRATOR_UPSTREAMS[{i}].{where}: {msg[:1].lower() + msg[1:]}"
            ) from None
        if entry.api_key_env and not env.get(entry.api_key_env, "").strip():
            raise SettingsError(f"NARRATOR_UPSTREAMS[{i}]: {entry.api_key_env} is not set")
        if entry.base_url and urlsplit(entry.base_url).scheme not in ("http", "https"):
            raise SettingsError(f"NARRATOR_UPSTREAMS[{i}].base_url: must be an http(s) URL")
        chain.append(
            UpstreamSettings(
                name=entry.name or _name_for(entry.base_url, f"upstream{i + 1}"),
                base_url=entry.base_url,
                model=entry.model or default_model,
                api_key=env.get(entry.api_key_env, "") if entry.api_key_env else "",
            )
        )
    names = [u.name for u in chain]
    if len(set(names)) != len(names) or "offline" in names:
        raise SettingsError("NARRATOR_UPSTREAMS: names must be unique and not 'offline'")
    return tuple(chain)


def _name_for(base_url: str, default: str = "openai") -> str:
    """An upstream's name when the operator gave none: OpenAI's, else its host."""
    host = urlsplit(base_url).netloc if base_url else ""
    if not host:
        return default
    return "openai" if host.endswith("openai.com") else host

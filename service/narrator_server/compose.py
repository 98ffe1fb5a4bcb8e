"""What the settings make of the core and of the gRPC server: pure functions, no I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core.assembly import Budgets
from .core.lore import LoreLimits
from .core.memory import MemoryConfig
from .core.models import ContentRating
from .core.moderation import ModerationConfig
from .core.narrator import NarratorConfig
from .core.planning import PlanConfig
from .core.savegame import MAX_DOCUMENT_BYTES
from .core.summaries import SummaryConfig
from .core.validation import Limits
from .moderation.fallback import FallbackModerator
from .moderation.lexicon import LexiconModerator
from .moderation.metrics import MeteredModerator, ModerationMetrics
from .moderation.openai_moderation import OpenAIModerator

if TYPE_CHECKING:
    import openai
    from opentelemetry.metrics import Meter

    from .core.moderation import Moderator
    from .settings import Settings
    from .telemetry.distribution import Histograms


def narrator_config(s: Settings) -> NarratorConfig:
    return NarratorConfig(
        limits=Limits(max_input_chars=s.max_input_chars),
        plan=PlanConfig(max_tokens=s.max_tokens, temperature=s.temperature),
        memory=MemoryConfig(
            budgets=Budgets(
                prompt=s.prompt_token_budget,
                history=s.history_token_budget,
                lore=s.lore_token_budget,
                summary=s.summary_token_budget,
            ),
            summary=SummaryConfig(budget_tokens=s.summary_token_budget),
            lore=LoreLimits(max_entries=s.lore_max_entries),
            fold_after=s.summary_fold_turns,
        ),
        model_summaries=s.uses_upstream,
        max_streams=s.max_streams,
        watch_buffer=s.watch_buffer,
        resume_window=s.resume_window_s,
        max_recoveries=s.max_recoveries,
        default_rating=ContentRating(s.content_rating),
        max_turn_chars=s.max_turn_chars,
        moderation=ModerationConfig(
            window_chars=s.moderation_window_chars, hold_s=s.moderation_hold_ms / 1000
        ),
    )


def moderation_summary(s: Settings) -> str:
    """What checks content, for the startup log: "off", "local", or "openai (MODEL at HOST)"."""
    if s.moderation == "off":
        return "off"
    up = s.moderation_upstream
    return f"openai ({s.moderation_model} at {up.host})" if up is not None else "local"


def moderator(
    s: Settings,
    clients: list[openai.AsyncOpenAI],
    meter: Meter | None = None,
    histograms: Histograms | None = None,
) -> Moderator | None:
    """NARRATOR_MODERATION: `off` none; `local` the lexicon; `openai` (or `auto` when the
    first upstream is OpenAI's own API) the first upstream's /v1/moderations, the lexicon
    standing in while it fails. `clients` are the upstreams' clients, in order."""
    if s.moderation == "off":
        return None
    metrics = ModerationMetrics(meter, histograms)
    local = LexiconModerator()
    if s.moderation_upstream is None or not clients:
        return MeteredModerator(local, metrics)
    remote = OpenAIModerator(clients[0], s.moderation_model, s.moderation_timeout_s)
    fallback = FallbackModerator(remote, local, metrics, s.moderation_cooldown_s)
    return MeteredModerator(fallback, metrics)


def server_options(s: Settings) -> list[tuple[str, int]]:
    """gRPC server options. No SO_REUSEPORT: a second server on a busy port must fail, not
    split the clients. Clients' keepalive pings every 10 s or more are welcome, even between
    calls (proxies drop idle connections). With a maximum connection age, connections end
    with GOAWAY (their streams get the shutdown grace), so clients spread over new replicas."""
    options = [
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 0),
        # Messages up to a save game's size (ImportSession) plus room for its envelope.
        ("grpc.max_receive_message_length", MAX_DOCUMENT_BYTES + 64 * 1024),
    ]
    if s.max_connection_age_s:
        options += [
            ("grpc.max_connection_age_ms", int(s.max_connection_age_s * 1000)),
            ("grpc.max_connection_age_grace_ms", int(s.shutdown_grace_s * 1000)),
        ]
    return options

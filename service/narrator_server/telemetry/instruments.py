"""The tracer and the metric instruments every component shares, and the attribute names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider

from .distribution import Distribution, Histograms
from .tally import Tally

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter, MeterProvider
    from opentelemetry.trace import Tracer, TracerProvider

SCOPE = "narrator"
# Bucket boundaries in seconds, for latencies from a few ms to minutes.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536)


@dataclass(frozen=True)
class Telemetry:
    """Where spans and measurements go. `Telemetry.disabled()` records nothing."""

    tracer: Tracer
    meter: Meter
    # Histograms are distributions: summed here, written at each scrape (see distribution.py).
    histograms: Histograms
    token_usage: Distribution
    operation_duration: Distribution
    time_to_first_chunk: Distribution
    time_per_output_chunk: Distribution
    rpc_duration: Distribution
    # Counters are tallies: summed here, read at each scrape (see tally.py).
    active_streams: Tally
    retries: Tally
    fallbacks: Tally
    recoveries: Tally
    # Prompt and completion text go into spans only when this is on.
    capture_content: bool = False

    @classmethod
    def create(
        cls,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider,
        *,
        capture_content: bool = False,
        record_histograms: bool = True,
    ) -> Telemetry:
        meter = meter_provider.get_meter(SCOPE)
        histograms = Histograms(SCOPE, active=record_histograms)
        return cls(
            tracer=tracer_provider.get_tracer(SCOPE),
            meter=meter,
            histograms=histograms,
            token_usage=histograms.create(
                "gen_ai.client.token.usage",
                TOKEN_BUCKETS,
                unit="{token}",
                description="Tokens used per upstream operation, by gen_ai.token.type.",
            ),
            operation_duration=histograms.create(
                "gen_ai.client.operation.duration",
                DURATION_BUCKETS,
                unit="s",
                description="Duration of one model operation (one attempt), first byte to end.",
            ),
            time_to_first_chunk=histograms.create(
                "gen_ai.client.operation.time_to_first_chunk",
                DURATION_BUCKETS,
                unit="s",
                description="Time from sending the request to the first text chunk.",
            ),
            time_per_output_chunk=histograms.create(
                "gen_ai.client.operation.time_per_output_chunk",
                DURATION_BUCKETS,
                unit="s",
                description="Average time between text chunks after the first.",
            ),
            rpc_duration=histograms.create(
                "rpc.server.duration",
                DURATION_BUCKETS,
                unit="s",
                description="Duration of an RPC, by rpc.method and rpc.grpc.status_code.",
            ),
            active_streams=Tally(
                meter,
                "narrator.active_streams",
                unit="{stream}",
                description="Streams in progress.",
                up_down=True,
            ),
            retries=Tally(
                meter,
                "narrator.upstream.retries",
                unit="{retry}",
                description="Upstream attempts retried, by error.type.",
            ),
            fallbacks=Tally(
                meter,
                "narrator.fallbacks",
                unit="{turn}",
                description="Turns the offline narrator took over, by error.type.",
            ),
            recoveries=Tally(
                meter,
                "narrator.recoveries",
                unit="{turn}",
                description="Mid-stream takeovers, by the provider that continued the turn.",
            ),
            capture_content=capture_content,
        )

    @classmethod
    def disabled(cls) -> Telemetry:
        return cls.create(NoOpTracerProvider(), NoOpMeterProvider(), record_histograms=False)

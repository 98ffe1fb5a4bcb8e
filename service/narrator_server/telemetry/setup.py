"""Builds the telemetry the settings ask for: OTLP or the local span file, and /metrics."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from prometheus_client import CollectorRegistry, start_http_server

from .distribution import DistributionCollector
from .instruments import Telemetry
from .jsonl import JsonLinesExporter

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from ..settings import Settings

log = logging.getLogger(__name__)
TRACE_FILE = "traces.jsonl"
MAX_ATTRIBUTE_CHARS = 16_384


class TelemetryRuntime:
    """The live providers behind a `Telemetry`, and the /metrics HTTP server."""

    def __init__(self, settings: Settings) -> None:
        self.metrics_port: int | None = None
        self._tracer_provider: TracerProvider | None = None
        self._meter_provider: MeterProvider | None = None
        self._httpd: WSGIServer | None = None
        if not settings.telemetry:
            self.telemetry = Telemetry.disabled()
            return
        # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES itself.
        resource = Resource.create({} if settings.otel_service_name else {SERVICE_NAME: "narrator"})
        # The SDK reads OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG itself.
        # Every attribute is bounded (client strings and captured prompts among them).
        limits = SpanLimits(
            max_attribute_length=MAX_ATTRIBUTE_CHARS, max_span_attribute_length=MAX_ATTRIBUTE_CHARS
        )
        self._tracer_provider = TracerProvider(resource=resource, span_limits=limits)
        self._tracer_provider.add_span_processor(self.span_processor(settings))
        registry = CollectorRegistry(auto_describe=True)
        reader = PrometheusMetricReader(registry=registry)
        # No exemplars: the Prometheus exposition does not carry them, and sampling one costs
        # more than the measurement itself.
        self._meter_provider = MeterProvider(
            resource=resource, metric_readers=[reader], exemplar_filter=AlwaysOffExemplarFilter()
        )
        if settings.metrics_port >= 0:
            try:
                self._httpd, _ = start_http_server(
                    settings.metrics_port, addr=settings.metrics_host, registry=registry
                )
                self.metrics_port = self._httpd.server_port
            except OSError as error:
                # Metrics are not worth refusing turns for; say so loudly and serve on.
                log.error(
                    "cannot serve /metrics; metrics are off",
                    extra={"port": settings.metrics_port, "error": str(error)},
                )
        self.telemetry = Telemetry.create(
            self._tracer_provider,
            self._meter_provider,
            capture_content=settings.capture_content,
        )
        registry.register(DistributionCollector(self.telemetry.histograms))

    @classmethod
    def span_processor(cls, settings: Settings) -> BatchSpanProcessor:
        return BatchSpanProcessor(
            cls._exporter(settings),
            max_queue_size=settings.span_queue,
            schedule_delay_millis=settings.span_delay_ms,
            max_export_batch_size=settings.span_batch,
        )

    @staticmethod
    def _exporter(settings: Settings) -> SpanExporter:
        endpoint = settings.otlp_endpoint
        if not endpoint:
            return JsonLinesExporter(settings.data_dir / TRACE_FILE)
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        # Headers, compression, certificates and timeout: the exporter reads OTEL_EXPORTER_OTLP_*.
        return OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://"))

    async def flush(self) -> None:
        if self._tracer_provider is not None:
            await asyncio.to_thread(self._tracer_provider.force_flush)

    async def shutdown(self) -> None:
        if self._httpd is not None:
            await asyncio.to_thread(self._httpd.shutdown)
            self._httpd.server_close()
        if self._tracer_provider is not None:
            await asyncio.to_thread(self._tracer_provider.shutdown)
        if self._meter_provider is not None:
            await asyncio.to_thread(self._meter_provider.shutdown)

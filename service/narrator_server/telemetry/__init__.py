"""Traces, metrics and logs. Components receive a `Telemetry`; nothing uses global providers."""

from .instruments import Telemetry

__all__ = ["Telemetry"]

"""Quota counters (adapters of `core.quotas.QuotaCounter`)."""

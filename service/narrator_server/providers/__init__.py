"""Chat providers (adapters of `core.ports.ChatProvider`)."""

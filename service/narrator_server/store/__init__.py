"""Session stores (adapters of `core.ports.SessionStore`)."""

"""Session stores (adapters of `core.storage.SessionStore`)."""

"""Turn logs (adapters of `core.turnlog.TurnLog`): in-process, and Redis for many servers."""

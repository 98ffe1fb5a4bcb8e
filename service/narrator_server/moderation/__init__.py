"""Moderation adapters: OpenAI's moderation endpoint and the local lexicon filter."""

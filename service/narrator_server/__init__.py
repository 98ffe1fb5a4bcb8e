"""Narrator: an AI Dungeon Master as a gRPC service."""

"""Test doubles that speak real protocols: the fake OpenAI upstream."""

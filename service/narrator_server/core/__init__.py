"""The use cases: sessions, narration and decisions. Imports neither grpc nor openai."""

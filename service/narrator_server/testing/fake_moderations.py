"""The fake upstream's `/v1/moderations`: OpenAI's answer shape (`results` with `flagged`,
`categories`, `category_scores`), scores scripted per phrase, failures and delays on demand,
and every input recorded. `FakeOpenAI.moderations` is one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

# The categories of omni-moderation-latest, as the API spells them.
CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
FLAG_AT = 0.5  # `flagged` and `categories` as the API would set them (we read the scores)


@dataclass
class FakeModerations:
    """`flag("phrase", {"violence/graphic": 0.9})`: an input that contains the phrase (case
    insensitive) gets those scores (the highest of every phrase it contains; 0 elsewhere).
    `status` other than 200 answers every request with that error; `delay` waits first."""

    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    status: int = 200
    delay: float = 0.0
    model: str = "omni-moderation-latest"
    # Every input string received, in order (a list input adds each of its strings).
    received: list[str] = field(default_factory=list)
    models_asked: list[str] = field(default_factory=list)

    def flag(self, phrase: str, scores: dict[str, float]) -> None:
        unknown = set(scores) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"not moderation categories: {sorted(unknown)}")
        self.scores[phrase.casefold()] = scores

    def reset(self) -> None:
        self.scores.clear()
        self.received.clear()
        self.models_asked.clear()
        self.status, self.delay = 200, 0.0

    async def answer(self, body: dict[str, Any]) -> tuple[int, object]:
        """The status and JSON body for one request."""
        raw = body.get("input", "")
        inputs = [str(x) for x in raw] if isinstance(raw, list) else [str(raw)]
        self.received += inputs
        self.models_asked.append(str(body.get("model", "")))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status != 200:
            message = {"message": "the fake moderation endpoint fails", "type": "server_error"}
            return self.status, {"error": message}
        results = [self._result(text) for text in inputs]
        return 200, {"id": "modr-fake", "model": self.model, "results": results}

    def _result(self, text: str) -> dict[str, Any]:
        folded = text.casefold()
        scores = dict.fromkeys(CATEGORIES, 0.0)
        for phrase, given in self.scores.items():
            if phrase in folded:
                for category, score in given.items():
                    scores[category] = max(scores[category], score)
        flags = {c: s >= FLAG_AT for c, s in scores.items()}
        return {
            "flagged": any(flags.values()),
            "categories": flags,
            "category_scores": scores,
            "category_applied_input_types": {c: ["text"] for c in CATEGORIES},
        }

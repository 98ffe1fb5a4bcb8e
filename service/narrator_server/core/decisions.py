"""Checks a model's decision answer against the allowed options and their argument schemas."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jsonschema

from .models import Decision, DecisionSource
from .prompt import dumps
from .schema_args import example_for

if TYPE_CHECKING:
    from .models import Scene


@dataclass(frozen=True)
class Choice:
    option_id: str
    arguments: dict[str, Any]


class DecisionRules:
    """The allowed options of one Decide call, with their compiled argument validators."""

    def __init__(self, schemas: dict[str, dict[str, Any] | None], default_option_id: str) -> None:
        self.schemas = schemas
        self.default_option_id = default_option_id or next(iter(schemas))
        self._validators = {
            option_id: jsonschema.validators.validator_for(schema)(schema)
            for option_id, schema in schemas.items()
            if schema
        }

    async def check(self, raw: str) -> Choice | str:
        """The choice in a raw JSON answer, or what is wrong with it."""
        try:
            answer = json.loads(raw)
        except ValueError:
            return "the answer is not valid JSON"
        if not isinstance(answer, dict):
            return "the answer is not a JSON object"
        decision = answer.get("decision", answer)
        if not isinstance(decision, dict):
            return "'decision' is not an object"
        option_id = decision.get("option_id")
        if option_id not in self.schemas:
            return f"option_id {option_id!r} is not one of {sorted(self.schemas)}"
        arguments = decision.get("arguments", {})
        if not isinstance(arguments, dict):
            return "'arguments' is not a JSON object"
        problem = self.argument_problem(option_id, arguments)
        return problem if problem else Choice(option_id, arguments)

    def argument_problem(self, option_id: str, arguments: dict[str, Any]) -> str | None:
        validator = self._validators.get(option_id)
        if validator is None:
            return None
        error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"arguments of {option_id!r} at {where}: {error.message}"

    def decision(self, choice: Choice, source: DecisionSource) -> Decision:
        return Decision(choice.option_id, dumps(choice.arguments), source)

    async def fallback(self, scene: Scene) -> Decision:
        """The default option with arguments built from its schema and the scene."""
        option_id, schema = self.default_option_id, self.schemas[self.default_option_id]
        names = tuple(c.name for c in scene.characters)
        arguments = example_for(schema, characters=names, location=scene.location)
        if self.argument_problem(option_id, arguments) is not None:
            # The scene's names broke a constraint; the plain example was checked on arrival.
            arguments = example_for(schema)
        return Decision(option_id, dumps(arguments), DecisionSource.FALLBACK)

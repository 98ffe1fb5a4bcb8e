"""Checks a model's decision answer against the allowed options and their argument schemas."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .compact_json import dumps
from .models import Decision, DecisionSource
from .schema_tasks import Choice
from .schema_work import SchemaWork

if TYPE_CHECKING:
    from .models import Scene

__all__ = ["Choice", "DecisionRules"]
log = logging.getLogger(__name__)


class DecisionRules:
    """The allowed options of one Decide call. Checking an answer and building arguments run
    on the `SchemaWork` the turn's runner binds (`bind`): never on the event loop."""

    def __init__(
        self,
        schemas: dict[str, dict[str, Any] | None],
        default_option_id: str,
        work: SchemaWork | None = None,
    ) -> None:
        self.schemas = schemas
        self.default_option_id = default_option_id or next(iter(schemas))
        self._work = work or SchemaWork()

    def bind(self, work: SchemaWork) -> DecisionRules:
        """The same rules, checked on `work`."""
        return DecisionRules(self.schemas, self.default_option_id, work)

    async def check(self, raw: str) -> Choice | str:
        """The choice in a raw JSON answer, or what is wrong with it."""
        return await self._work.check_answer(self.schemas, raw)

    def decision(self, choice: Choice, source: DecisionSource) -> Decision:
        return Decision(choice.option_id, dumps(choice.arguments), source)

    async def fallback(self, scene: Scene) -> Decision:
        """The default option with arguments built from its schema and the scene (the plain
        example, checked on arrival, when the scene's names break a constraint)."""
        option_id, schema = self.default_option_id, self.schemas[self.default_option_id]
        names = tuple(c.name for c in scene.characters)
        arguments = await self._work.arguments(schema, names, scene.location)
        if arguments is None:
            arguments = await self._work.arguments(schema, (), "")
        if arguments is None:
            log.error("no fallback arguments could be built in time", extra={"option": option_id})
            arguments = {}
        return Decision(option_id, dumps(arguments), DecisionSource.FALLBACK)

"""Schema work for the use cases: checking options, checking answers, building arguments.

Every call goes through the `Offload` port, never on the event loop, within the time budget;
a budget overrun becomes a plain answer (a field violation, an invalid answer, no arguments).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import schema_tasks
from .offload import InlineOffload, WorkFailed
from .schema_tasks import Choice, OptionReport

if TYPE_CHECKING:
    from .offload import Offload

Schemas = dict[str, dict[str, Any] | None]


class SchemaWork:
    """The schema checks of the service, each within `budget` seconds (a whole Decide's
    options within twice that)."""

    def __init__(self, offload: Offload | None = None, budget: float = 0.25) -> None:
        self._offload: Offload = offload or InlineOffload()
        self.budget = budget

    def _failed(self, failed: WorkFailed) -> str:
        if failed.overrun:
            return f"took longer than {self.budget * 1000:g} ms to check"
        return f"could not be checked ({failed.reason[:100]})"

    async def check_options(self, items: list[tuple[str, bool]]) -> list[OptionReport]:
        """Each (schema text, is the default option) checked, in order."""
        if not items:
            return []
        outcomes = await self._offload.map(
            schema_tasks.check_option, items, each=self.budget, total=2 * self.budget
        )
        return [
            OptionReport(None, f"{self._failed(o)}: simplify it")
            if isinstance(o, WorkFailed)
            else o
            for o in outcomes
        ]

    async def check_answer(self, schemas: Schemas, raw: str) -> Choice | str:
        """The choice in a model's raw answer, or what is wrong with it."""
        (outcome,) = await self._offload.map(
            schema_tasks.check_answer, [(schemas, raw)], each=self.budget, total=self.budget
        )
        if isinstance(outcome, WorkFailed):
            return f"the answer {self._failed(outcome)}"
        return outcome

    async def arguments(
        self, schema: dict[str, Any] | str | None, characters: tuple[str, ...], location: str
    ) -> dict[str, Any] | None:
        """Arguments built for a schema (see `schema_tasks.build_arguments`); None when the
        work failed."""
        if not schema:
            return {}
        (outcome,) = await self._offload.map(
            schema_tasks.build_arguments,
            [(schema, characters, location)],
            each=self.budget,
            total=self.budget,
        )
        return None if isinstance(outcome, WorkFailed) else outcome

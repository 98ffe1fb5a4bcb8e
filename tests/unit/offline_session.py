"""Plays the offline narrator in-process over a session whose history grows turn by turn,
as the planner would give it (completed turns, newest first)."""

from __future__ import annotations

from dataclasses import dataclass, field

from narrator_server.core.models import (
    Character,
    ContentRating,
    Decision,
    DecisionOption,
    DecisionSource,
    PlayerCharacter,
    Scene,
    Session,
    Setting,
    Turn,
    TurnKind,
    TurnStatus,
    Usage,
)
from narrator_server.core.ports import TurnContext
from narrator_server.providers.offline import prose

CRYPT = Scene(
    location="the flooded crypt",
    characters=(
        Character("Mirela", "a smuggler; she is wary", "wary"),
        Character("Grub", "a goblin chief", "hostile", pronouns="he/him"),
    ),
    facts=("the door behind you is locked", "the water is rising"),
    attributes=(("weather", "stormy"),),
)
ANTECHAMBER = Scene(
    location="the flooded antechamber",
    characters=(Character("Mirela", "a smuggler; she is wary", "wary"),),
    facts=("the water is knee-deep and cold", "a rusted gate blocks the way north"),
    attributes=(("light", "dim"),),
)
SHRINE = Scene(
    location="the goblin shrine",
    characters=(Character("Grub", "a goblin chief in a crown of teeth", "hostile", "he/him"),),
    facts=("candles burn around a cracked idol",),
)


@dataclass
class Table:
    """One session at the table: `say` narrates, `ask` decides; `history` grows."""

    seed: int = 1
    tone: str = "grim"
    player: str = "Ash"
    rating: ContentRating = ContentRating.TEEN
    history: list[Turn] = field(default_factory=list)

    @property
    def session(self) -> Session:
        return Session(
            "s",
            Setting("a drowned city", self.tone),
            PlayerCharacter(self.player),
            self.seed,
            0.0,
            content_rating=self.rating,
        )

    def context(
        self, text: str, scene: Scene, options: tuple[DecisionOption, ...] = ()
    ) -> TurnContext:
        kind = TurnKind.DECISION if options else TurnKind.NARRATION
        index = len(self.history)
        recent = tuple(reversed(self.history[-50:]))
        return TurnContext(self.session, f"t{index}", index, kind, text, scene, options, recent)

    def say(self, action: str, scene: Scene = CRYPT) -> str:
        text = prose.narration(self.context(action, scene))
        self._store(TurnKind.NARRATION, action, scene, text)
        return text

    def ask(self, question: str, options: tuple[DecisionOption, ...], scene: Scene) -> str:
        option, text, _ = prose.choose(self.context(question, scene, options))
        decision = Decision(option.id, "{}", DecisionSource.MODEL)
        self._store(TurnKind.DECISION, question, scene, text, decision, options)
        return option.id

    def _store(
        self,
        kind: TurnKind,
        text_in: str,
        scene: Scene,
        text: str,
        decision: Decision | None = None,
        options: tuple[DecisionOption, ...] = (),
    ) -> None:
        index = len(self.history)
        turn = Turn(
            f"t{index}", "s", kind, text_in, scene, text, TurnStatus.COMPLETED, "offline",
            "narrator-offline-1", Usage(), float(index), decision, options=options,
        )  # fmt: skip
        self.history.append(turn)

"""Save games: ExportSession and ImportSession.

An import is hostile input like any other: the document's size is capped before it is read,
its shape is checked strictly, every value against the same limits as the requests that
make it (sessions, turns, scenes, options, lore), and the counts are bounded. Parsing and
checking run off the event loop. Nothing is stored unless everything is valid, and then all
of it is stored in one transaction.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import ValidationError

from . import validation
from .errors import FailedPrecondition, FieldViolation, InvalidArgument, SessionNotFound
from .lore import check_entry
from .models import DecisionOption, PlayerCharacter, Setting
from .savegame_format import Document, from_document, lore_of, scene_of, to_document
from .schema_tasks import check_option

if TYPE_CHECKING:
    from .lore import LoreLimits
    from .lore_book import Owned
    from .memory_models import SavedSession
    from .memory_storage import CampaignStore
    from .models import Caller, Session
    from .savegame_format import DocTurn
    from .validation import Limits

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class SaveLimits:
    """Bounds of a save game beyond those of the requests (documented in docs/memory.md)."""

    max_turns: int = 10_000
    max_summaries: int = 100
    max_turn_text_chars: int = 100_000
    max_summary_chars: int = 20_000
    max_name_chars: int = 200
    max_arguments_chars: int = 65_536


def _v(field: str, problem: str) -> FieldViolation:
    return FieldViolation(f"document.{field}", problem)


def _too_long(field: str, value: str, limit: int) -> list[FieldViolation]:
    if len(value) <= limit:
        return []
    return [_v(field, f"is {len(value)} characters; the limit is {limit}")]


def _check_turn(
    i: int, t: DocTurn, ids: set[str], limits: Limits, save: SaveLimits
) -> list[FieldViolation]:
    f = f"turns[{i}]"
    v = [_v(f"{f}.turn_id", p.description) for p in validation.check_turn_id(t.turn_id)]
    if not t.turn_id:
        v.append(_v(f"{f}.turn_id", "must not be empty"))
    v += _too_long(f"{f}.input", t.input, limits.max_input_chars)
    v += _too_long(f"{f}.text", t.text, save.max_turn_text_chars)
    for name in ("provider", "model", "default_option_id"):
        v += _too_long(f"{f}.{name}", getattr(t, name), save.max_name_chars)
    if sum(t.delta_lengths) != len(t.text):
        v.append(_v(f"{f}.delta_lengths", "must add up to the length of text"))
    if any(r.after_seq > len(t.delta_lengths) for r in t.recoveries):
        v.append(_v(f"{f}.recoveries", "after_seq is past the turn's last delta"))
    if t.replaces_turn_id and t.replaces_turn_id not in ids:
        v.append(_v(f"{f}.replaces_turn_id", "must name an earlier turn of the document"))
    if t.decision is not None:
        v += _too_long(f"{f}.decision.arguments_json", t.decision.arguments_json,
                       save.max_arguments_chars)  # fmt: skip
        v += _too_long(f"{f}.decision.option_id", t.decision.option_id, save.max_name_chars)
    scene = scene_of(t.scene)
    v += [_v(f"{f}.{p.field}", p.description) for p in validation.check_scene(scene, limits)]
    if not t.options:
        return v
    options = tuple(DecisionOption(o.id, o.description, o.arguments_schema) for o in t.options)
    # The same checks as a Decide's options (count, ids, sizes), then each schema's.
    shape = validation.check_options(options, t.default_option_id, limits)
    v += [_v(f"{f}.{p.field}", p.description) for p in shape]
    for j, o in enumerate(options if not shape else ()):
        if o.arguments_schema.strip():
            problem = check_option((o.arguments_schema, False)).problem
            if problem:
                v.append(_v(f"{f}.options[{j}].arguments_schema", problem))
    return v


def check(doc: Document, limits: Limits, lore: LoreLimits, save: SaveLimits) -> None:
    """Every value of the document within its limits; raises InvalidArgument."""
    s = doc.session
    v: list[FieldViolation] = []
    try:
        validation.check_new_session(
            Setting(s.setting.world, s.setting.tone),
            PlayerCharacter(s.player.name, s.player.description),
            limits,
        )
    except InvalidArgument as error:
        v += [_v(f"session.{p.field}", p.description) for p in error.violations]
    if int(s.seed) >= 2**64:
        v.append(_v("session.seed", "must fit in 64 bits"))
    for name, items, most in (
        ("turns", doc.turns, save.max_turns),
        ("lore", doc.lore, lore.max_entries),
        ("summaries", doc.summaries, save.max_summaries),
    ):
        if len(items) > most:
            v.append(_v(name, f"has {len(items)} entries; the limit is {most}"))
    if v:
        raise InvalidArgument(v)
    ids: set[str] = set()
    for i, turn in enumerate(doc.turns):
        if turn.turn_id in ids:
            v.append(_v(f"turns[{i}].turn_id", f"duplicates turn id {turn.turn_id!r}"))
        v += _check_turn(i, turn, ids, limits, save)
        ids.add(turn.turn_id)
        if len(v) > 100:
            break
    entry_ids: set[str] = set()
    for i, entry in enumerate(lore_of(e) for e in doc.lore):
        v += [_v(p.field, p.description) for p in check_entry(entry, lore, f"lore[{i}]")]
        if not entry.entry_id or entry.entry_id in entry_ids:
            v.append(_v(f"lore[{i}].entry_id", "must be set and unique"))
        entry_ids.add(entry.entry_id)
    for i, x in enumerate(doc.summaries):
        v += _too_long(f"summaries[{i}].text", x.text, save.max_summary_chars)
        if not {x.first_turn_id, x.last_turn_id} <= ids:
            v.append(_v(f"summaries[{i}]", "first_turn_id and last_turn_id must name turns"))
    if v:
        raise InvalidArgument(v)


def parse(document: str, limits: Limits, lore: LoreLimits, save: SaveLimits) -> Document:
    """The checked document (blocking: run it in a worker thread)."""
    size = len(document.encode())
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidArgument(
            [FieldViolation("document", f"is {size} bytes; the limit is {MAX_DOCUMENT_BYTES}")]
        )
    if not document.strip():
        raise InvalidArgument([FieldViolation("document", "must not be empty")])
    try:
        doc = Document.model_validate_json(document)
    except ValidationError as error:
        raise InvalidArgument(
            [
                _v(".".join(str(p) for p in e["loc"]) or "(root)", str(e["msg"])[:200])
                for e in error.errors(include_url=False, include_input=False)[:50]
            ]
        ) from None
    check(doc, limits, lore, save)
    return doc


class SaveGames:
    """ExportSession and ImportSession."""

    def __init__(
        self,
        owned: Owned,
        store: CampaignStore,
        limits: Limits,
        lore: LoreLimits,
        save: SaveLimits | None = None,
    ) -> None:
        self._owned = owned
        self._store = store
        self._limits = limits
        self._lore = lore
        self._save = save or SaveLimits()

    async def export(self, caller: Caller, session_id: str) -> str:
        await self._owned(caller, session_id)
        saved = await self._store.export_session(session_id)
        if saved is None:
            raise SessionNotFound(session_id)
        text, size = await asyncio.to_thread(_dump, saved)
        if size > MAX_DOCUMENT_BYTES:
            raise FailedPrecondition(
                f"the session is too large to export ({size} bytes; the limit is "
                f"{MAX_DOCUMENT_BYTES})"
            )
        return text

    async def import_(self, caller: Caller, document: str) -> Session:
        if len(document) > MAX_DOCUMENT_BYTES:  # characters: cheap, before any work
            raise InvalidArgument(
                [FieldViolation("document", f"is over the limit of {MAX_DOCUMENT_BYTES} bytes")]
            )
        doc = await asyncio.to_thread(parse, document, self._limits, self._lore, self._save)
        saved = from_document(doc, uuid.uuid4().hex, caller.tenant, time.time())
        await self._store.import_session(saved)
        return await self._owned(caller, saved.session.session_id)


def _dump(saved: SavedSession) -> tuple[str, int]:
    """The document and its size in bytes (blocking: run it in a worker thread)."""
    data = to_document(saved).model_dump(mode="json")
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text, len(text.encode())

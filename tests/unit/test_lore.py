"""The lore book's matcher, selection and validation."""

from __future__ import annotations

from narrator_server.core.lore import LoreLimits, MatcherCache, check_entry

from .memory_support import entry, matcher


def test_keys_match_case_insensitively_on_word_boundaries() -> None:
    m = matcher(
        entry("a", "Mirela"), entry("b", "the black gate"), entry("c", "gate"), entry("d", "Zoë"),
        entry("e", "it's"),
    )  # fmt: skip
    found = m.match(["We meet MIRELA's crew near The Black  Gate; zoë waves. It's late."])
    by_id = {m.entries[i].entry_id: key for i, key in found.items()}
    assert by_id == {"a": "Mirela", "b": "the black gate", "c": "gate", "d": "Zoë", "e": "it's"}
    assert m.match(["the Mirelas and gatehouse, blackgate"]) == {}


def test_always_on_first_then_keyed_by_priority_then_recency_within_the_budget() -> None:
    m = matcher(
        entry("always", always_on=True, content="x" * 40),
        entry("low", "orc", priority=-5, content="x" * 40),
        entry("old", "orc", priority=5, at=1.0, content="x" * 40),
        entry("new", "orc", priority=5, at=2.0, content="x" * 40),
        entry("big", "orc", priority=9, content="x" * 4000),
        entry("unmatched", "elf", priority=99),
    )  # fmt: skip
    # 14 tokens each; "big" (priority 9) does not fit and is skipped, smaller ones still do.
    always, keyed = m.choose(["an orc!"], budget=45)
    assert [c.entry.entry_id for c in always] == ["always"]
    assert [c.entry.entry_id for c in keyed] == ["new", "old"]
    assert all(c.matched_key == "orc" for c in keyed)
    _, keyed = m.choose(["an orc!"], budget=5000)
    assert [c.entry.entry_id for c in keyed] == ["big", "new", "old", "low"]
    always, keyed = m.choose(["an orc!"], budget=10)
    assert always == keyed == []


def test_check_entry_reports_each_bound() -> None:
    limits = LoreLimits()
    bad = entry("bad id!", *(["k"] * 17), content="x" * 2001, priority=1001)
    fields = {v.field for v in check_entry(bad, limits)}
    assert fields == {"entry.entry_id", "entry.keys", "entry.content", "entry.priority"}
    keyless = check_entry(entry("", content="c"), limits)
    assert [v.field for v in keyless] == ["entry.keys"]
    assert check_entry(entry("", content="c", always_on=True), limits) == []
    odd = check_entry(entry("", "!!", "k" * 101, content="c"), limits)
    assert [v.field for v in odd] == ["entry.keys[0]", "entry.keys[1]"]


def test_the_matcher_cache_serves_a_revision_until_it_changes() -> None:
    cache = MatcherCache(size=2)
    first = cache.get("s", 3, (entry("a", "orc"),))
    assert cache.revision("s") == 3
    assert cache.get("s", 3, None) is first
    assert cache.get("s", 4, None) is None  # stale: the caller reads the lore again
    second = cache.get("s", 4, (entry("a", "elf"),))
    assert second is not first
    assert second.match(["an elf"])
    cache.get("t", 1, ())
    cache.get("u", 1, ())
    assert cache.revision("s") == -1  # least recently used is dropped

"""The identity memo: derived once per object, by identity, within a budget."""

from __future__ import annotations

from narrator_server.core.identity_memo import IdentityMemo


class Frozen:
    def __init__(self, text: str) -> None:
        self.text = text


def counting(budget: int = 100) -> tuple[IdentityMemo[Frozen, str], list[str]]:
    derived: list[str] = []

    def derive(key: Frozen) -> str:
        derived.append(key.text)
        return key.text.upper()

    return IdentityMemo(derive, lambda key, value: len(value), budget), derived


def test_an_object_is_derived_once_and_an_equal_other_object_again() -> None:
    memo, derived = counting()
    one, same_text = Frozen("ash"), Frozen("ash")
    assert [memo(one), memo(one), memo(same_text)] == ["ASH", "ASH", "ASH"]
    assert derived == ["ash", "ash"]


def test_past_the_budget_the_oldest_entries_go_first() -> None:
    memo, derived = counting(budget=6)
    a, b, c = Frozen("aaa"), Frozen("bbb"), Frozen("ccc")
    for key in (a, b, c):  # c pushes a out
        memo(key)
    assert (len(memo), memo.weight) == (2, 6)
    memo(b)
    memo(a)
    assert derived == ["aaa", "bbb", "ccc", "aaa"]


def test_a_value_heavier_than_the_budget_is_not_kept() -> None:
    memo, derived = counting(budget=2)
    big = Frozen("abc")
    assert memo(big) == memo(big) == "ABC"
    assert (derived, len(memo), memo.weight) == (["abc", "abc"], 0, 0)

"""Streams the "rationale" string out of a decision's JSON answer while it is still arriving."""

from __future__ import annotations

import json

from .encoding import encodable

_KEY = '"rationale"'
_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _is_hex(text: str) -> bool:
    return len(text) == 4 and all(c in _HEX for c in text)


class RationaleExtractor:
    """Feed raw JSON text chunks; get back the newly decoded characters of the rationale.

    Works on a prefix of the answer, so chunk boundaries may fall anywhere, including inside
    an escape sequence. Text outside the rationale string is ignored.
    """

    def __init__(self) -> None:
        self._head = ""  # raw text seen before the rationale string opened
        self._state = "seek"  # seek -> inside -> done
        self._pending = ""  # an incomplete escape sequence carried to the next chunk

    def feed(self, chunk: str) -> str:
        if self._state == "done":
            return ""
        if self._state == "seek":
            self._head += chunk
            at = self._head.find(_KEY)
            if at < 0:
                self._head = self._head[-len(_KEY) :]
                return ""
            rest = self._head[at + len(_KEY) :].lstrip()
            if not rest.startswith(":"):
                return "" if not rest else self._give_up()
            rest = rest[1:].lstrip()
            if not rest:
                self._head = self._head[: at + len(_KEY)] + ":"
                return ""
            if rest[0] != '"':
                return self._give_up()
            self._state, self._head = "inside", ""
            chunk = rest[1:]
        return self._decode(self._pending + chunk)

    def _give_up(self) -> str:
        self._state = "done"
        return ""

    def _decode(self, text: str) -> str:
        out: list[str] = []
        i, n = 0, len(text)
        self._pending = ""
        while i < n:
            ch = text[i]
            if ch == '"':
                self._state = "done"
                break
            if ch != "\\":
                j = i
                while j < n and text[j] not in '"\\':
                    j += 1
                out.append(text[i:j])
                i = j
                continue
            if i + 1 >= n:
                self._pending = text[i:]
                break
            code = text[i + 1]
            if code == "u":
                if i + 6 > n:
                    self._pending = text[i:]
                    break
                sequence = text[i : i + 6]
                if not _is_hex(sequence[2:]):  # not an escape: a broken answer; skip the "\"
                    i += 1
                    continue
                # A surrogate pair needs both halves before it decodes; a lone half decodes
                # alone (and becomes U+FFFD below).
                if 0xD800 <= int(sequence[2:], 16) < 0xDC00:
                    if i + 12 > n:
                        self._pending = text[i:]
                        break
                    low = text[i + 6 : i + 12]
                    if (
                        low[:2] == "\\u"
                        and _is_hex(low[2:])
                        and 0xDC00 <= int(low[2:], 16) < 0xE000
                    ):
                        sequence += low
                out.append(json.loads(f'"{sequence}"'))
                i += len(sequence)
                continue
            out.append(_ESCAPES.get(code, code))
            i += 2
        return encodable("".join(out))

"""`python -m narrator.context SESSION [TURN]`: what the narrator knew when it spoke.

Prints each section of a turn's prompt (or, without TURN, of the next turn's) with its kind,
its estimated tokens and its text, then the total against the prompt budget.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import textwrap

from narrator.v1 import memory_pb2
from narrator.v1 import narrator_service_pb2 as pb

from .client import NarratorClient
from .errors import NarratorError

_KIND = {
    value: name.removeprefix("CONTEXT_SECTION_KIND_").lower()
    for name, value in memory_pb2.ContextSectionKind.items()
}


def render(context: pb.GetTurnContextResponse, width: int = 100, full: bool = False) -> str:
    """The sections as text: a header line each, then the text (cut to 6 lines unless full)."""
    turn = context.turn_id or "next turn (preview)"
    lines = [f"Context of {turn}: {context.total_tokens} of {context.budget_tokens} tokens"]
    for section in context.sections:
        label = _KIND.get(section.kind, "?")
        extra = f" [key: {section.matched_key}]" if section.matched_key else ""
        lines.append(f"\n── {label} · {section.title}{extra} · {section.tokens} tokens")
        body = textwrap.fill(section.text, width, replace_whitespace=False).splitlines()
        if not full and len(body) > 6:
            body = [*body[:6], f"… ({len(body) - 6} more lines)"]
        lines += [f"   {line}" for line in body]
    return "\n".join(lines)


async def _main(address: str, session_id: str, turn_id: str, full: bool) -> None:
    async with NarratorClient(address) as client:
        context = await client.turn_context(session_id, turn_id)
    print(render(context, full=full))


def main() -> None:
    parser = argparse.ArgumentParser(description="Show the prompt sections of a turn.")
    parser.add_argument("session_id")
    parser.add_argument("turn_id", nargs="?", default="", help="empty: preview the next turn")
    parser.add_argument("--full", action="store_true", help="do not cut long sections")
    parser.add_argument(
        "--address", default=os.environ.get("NARRATOR_ADDRESS", "127.0.0.1:50051"),
        help="server address (default: $NARRATOR_ADDRESS or 127.0.0.1:50051)",
    )  # fmt: skip
    args = parser.parse_args()
    try:
        asyncio.run(_main(args.address, args.session_id, args.turn_id, args.full))
    except NarratorError as error:
        raise SystemExit(f"narrator: {error}") from None


if __name__ == "__main__":
    main()

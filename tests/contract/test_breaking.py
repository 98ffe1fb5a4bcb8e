"""`buf breaking` catches wire-breaking edits of the contract against the released one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROTOS = Path(__file__).resolve().parents[2] / "protos"
BUF = Path(sys.executable).parent / "buf"
SERVICE = "narrator/v1/narrator_service.proto"


def breaking(root: Path) -> subprocess.CompletedProcess[str]:
    released = PROTOS / "released" / "narrator-v1.binpb"
    return subprocess.run(
        [str(BUF), "breaking", "--against", str(released)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("old", "new", "breaks"),
    [
        ("string action = 2;", "string action = 9;", True),  # renumbered
        ("string action = 2;", "bytes action = 2;", True),  # type changed
        ("string question = 2;", "int32 question = 2;", True),
        (
            "bool regenerate = 6;\n}",
            "bool regenerate = 6;\n  // A new field.\n  string mood = 9;\n}",
            False,
        ),
    ],
)
def test_edits(tmp_path: Path, old: str, new: str, breaks: bool) -> None:
    root = tmp_path / "protos"
    shutil.copytree(PROTOS, root)
    path = root / SERVICE
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    result = breaking(root)
    assert (result.returncode != 0) is breaks, result.stdout + result.stderr

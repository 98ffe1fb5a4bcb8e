"""Length-prefixed pickle frames between the server and its worker processes.

Only the server writes what a worker reads (functions of this package and their items), and a
worker's frames hold only values this package's functions returned: neither side unpickles
bytes that came from a client.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

HEADER = struct.Struct(">I")
READY = "ready"


def encode(value: Any) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> Any:
    return pickle.loads(body)  # frames only come from this package (see above)

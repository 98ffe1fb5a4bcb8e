"""Whether this server can listen where the settings say, checked before gRPC tries.

gRPC reports a failed bind with its own log line on stderr before the Python error; checking
first keeps a startup failure to the one line that says what to do.
"""

from __future__ import annotations

import errno
import socket


def why_not(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on, or None when it can (as far as a bind tells;
    gRPC itself stays the judge)."""
    if port == 0:
        return None
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return "the host name does not resolve"
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            # As gRPC does: a port with only closed connections lingering is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    return "the port is in use"
                if error.errno == errno.EADDRNOTAVAIL:
                    return "the address is not this machine's"
                if error.errno == errno.EACCES:
                    return "this user may not use a port that low"
                return error.strerror or "it cannot be bound"
    return None

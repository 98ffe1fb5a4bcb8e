"""`make cluster`: private PostgreSQL and Redis, NARRATOR_REPLICAS replicas (default 3) and
nginx as a gRPC load balancer on NARRATOR_PORT, all under NARRATOR_DATA_DIR (default .data);
writes NARRATOR_DATA_DIR/cluster/cluster.json; stops everything on Ctrl+C or SIGTERM.

Every other setting in the environment (OPENAI_*, NARRATOR_UPSTREAMS, …) goes to the replicas.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

from narrator_server.testing.cluster import Cluster, ClusterError
from narrator_server.testing.nginx import NginxError
from narrator_server.testing.postgres import PostgresError
from narrator_server.testing.redis_server import RedisServerError


def main() -> int:
    env = dict(os.environ)
    try:
        replicas = int(env.get("NARRATOR_REPLICAS", "3"))
        port = int(env.get("NARRATOR_PORT", "50051"))
        if replicas < 1 or not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        print("cluster: NARRATOR_REPLICAS must be 1 or more, NARRATOR_PORT 0-65535",
              file=sys.stderr)  # fmt: skip
        return 2
    directory = Path(env.get("NARRATOR_DATA_DIR") or ".data") / "cluster"
    cluster = Cluster(directory, replicas=replicas, port=port, env=env)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        cluster.start()
    except (ClusterError, NginxError, PostgresError, RedisServerError) as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 1
    print(json.dumps(cluster.describe()), flush=True)
    print(
        f"cluster: {replicas} replicas behind {cluster.describe()['lb']}; "
        f"{directory / 'cluster.json'}; Ctrl+C stops everything",
        file=sys.stderr,
        flush=True,
    )
    gone: set[str] = set()
    while not stopping.wait(1.0):
        for replica in cluster.nodes:
            if not replica.alive and replica.name not in gone:
                gone.add(replica.name)
                print(f"cluster: {replica.name} exited ({replica.process.returncode})",
                      file=sys.stderr, flush=True)  # fmt: skip
                cluster.write_json()
    print("cluster: stopping", file=sys.stderr, flush=True)
    cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

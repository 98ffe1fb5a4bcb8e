"""Chaos soak: many concurrent turns through a real server while the fake upstream injects the
whole fault catalogue; a share of clients cancel or reconnect with resume_after_seq.
Prints what happened; asserts nothing.

    .venv/bin/python bench/chaos_soak.py [--concurrency 200] [--seconds 60] [--fault-rate 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from collections import Counter
from pathlib import Path

import grpc

from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator_server.app import App
from narrator_server.settings import Settings, UpstreamSettings
from narrator_server.telemetry import logs
from narrator_server.testing.chaos import FaultInjector, rss_mib, soak
from narrator_server.testing.fake_openai import FakeOpenAI
from narrator_server.testing.replies import Reply


async def main() -> None:
    parser = argparse.ArgumentParser(description="Chaos soak through a real server.")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--cancel-share", type=float, default=0.1)
    parser.add_argument("--resume-share", type=float, default=0.1)
    parser.add_argument("--words", type=int, default=60)
    parser.add_argument("--pace", type=float, default=0.01, help="upstream seconds per chunk")
    args = parser.parse_args()
    logs.configure("ERROR", json_lines=False)

    faults = FaultInjector(args.fault_rate, seed=11, slow=3.0)
    text = " ".join(f"word{i}" for i in range(args.words)) + "."
    with tempfile.TemporaryDirectory() as data:
        async with FakeOpenAI(Reply(text=text, pace=args.pace), faults=faults) as fake:
            fake.keep_records = False
            settings = Settings(
                port=0,
                data_dir=Path(data),
                upstreams=(UpstreamSettings("openai", fake.base_url, "fake-model", "k"),),
                metrics_port=-1,
                retry_initial_wait_s=0.05,
                first_token_timeout_s=2.0,
                inter_token_timeout_s=1.0,
                max_streams=max(256, args.concurrency * 2),
                # Room for every client: fallbacks then measure upstream faults, not shedding.
                max_upstream_requests=max(128, args.concurrency * 2),
                resume_window_s=5.0,
                breaker_cooldown_s=2.0,
                log_level="ERROR",
            )
            app = App(settings)
            port = await app.start()
            gc.collect()
            tasks_before, rss_before = len(asyncio.all_tasks()), rss_mib()
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                report = await soak(
                    pb_grpc.NarratorServiceStub(channel),
                    concurrency=args.concurrency,
                    seconds=args.seconds,
                    cancel_share=args.cancel_share,
                    resume_share=args.resume_share,
                )
            settle = time.monotonic()
            # Cancellations reach the server asynchronously; give them a bounded moment.
            while app.open_streams() != (0, 0) and time.monotonic() - settle < 30:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            streams, live = app.open_streams()
            gc.collect()
            tasks_after, rss_after = len(asyncio.all_tasks()), rss_mib()
            leftovers = Counter(t.get_coro().__qualname__ for t in asyncio.all_tasks())  # type: ignore[union-attr]
            await app.stop(grace=1)

    injected = sum(n for fault, n in faults.counts.items() if fault != "none")
    total = injected + faults.counts["none"]
    print(
        f"{args.concurrency} concurrent clients for {report.seconds:.0f} s, fault rate "
        f"{args.fault_rate:.0%} ({injected} of {total} upstream requests faulted), "
        f"{args.cancel_share:.0%} cancel, {args.resume_share:.0%} reconnect"
    )
    for line in report.lines():
        print(line)
    print("faults: " + ", ".join(f"{k} {v}" for k, v in sorted(faults.counts.items())))
    print(f"streams still open after the run: {streams}, turns still running: {live}")
    print(f"asyncio tasks before/after: {tasks_before}/{tasks_after} ({dict(leftovers)})")
    print(f"RSS before/after: {rss_before:.0f}/{rss_after:.0f} MiB")
    print(f"turns per second: {report.started / report.seconds:.1f}")


if __name__ == "__main__":
    asyncio.run(main())

"""`python -m narrator_server` (or `narrator`): serve, manage API keys, show recent traces.

narrator [serve]                       run the service (settings from the environment)
narrator keys create NAME [--tenant T] [--requests-per-minute N] [--tokens-per-minute N]
                          [--tokens-per-day N] [--player-requests-per-minute N]
narrator keys list
narrator keys revoke ID|NAME
narrator traces [--session ID] [--trace ID] [--limit N]
"""

from __future__ import annotations

import argparse
import sys

from . import keys_cli
from .settings import Settings, SettingsError

# The server's modules (gRPC, the SDK, telemetry) load only for the command that needs them:
# `narrator keys` starts at once.


def _traces(settings: Settings, args: argparse.Namespace) -> None:
    from .telemetry import waterfall
    from .telemetry.setup import TRACE_FILE

    path = settings.data_dir / TRACE_FILE
    if not path.exists():
        sys.exit(
            f"narrator: no traces yet at {path} (traces go there when no OTLP endpoint is set)"
        )
    traces = waterfall.select(
        waterfall.read(path), session=args.session, trace=args.trace, limit=args.limit
    )
    if not traces:
        sys.exit("narrator: no trace matches")
    for spans in traces:
        print("\n".join(waterfall.render(spans)), end="\n\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="narrator", description="The Narrator service.")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    keys_cli.add_parser(commands)
    traces = commands.add_parser("traces", help="show recent traces from the local span file")
    traces.add_argument("--session", default="", help="only traces of this session id")
    traces.add_argument("--trace", default="", help="only the trace whose id starts with this")
    traces.add_argument("--limit", type=int, default=10, help="how many traces (newest first)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        lines = str(error).splitlines()
        sys.exit("\n".join(f"narrator: {line}" for line in lines))
    if args.command == "traces":
        _traces(settings, args)
        return
    if args.command == "keys":
        keys_cli.run(settings, args)
        return
    from . import event_loop
    from .app import App, StartupError
    from .telemetry import logs

    logs.configure(settings.log_level, json_lines=settings.log_json)
    try:
        event_loop.run(App(settings).serve(), settings.event_loop)
    except (StartupError, event_loop.LoopUnavailable) as error:
        sys.exit(f"narrator: {error}")
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were in place
        sys.exit(130)


if __name__ == "__main__":
    main()

"""`python -m narrator_server`: run the service with settings from the environment."""

from __future__ import annotations

import asyncio
import logging
import sys

from .app import App
from .settings import Settings, SettingsError


def main() -> None:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        sys.exit(f"narrator: {error}")
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    asyncio.run(App(settings).serve())


if __name__ == "__main__":
    main()

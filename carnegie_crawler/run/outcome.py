"""A run's identity and its exit statuses (README, "Exit codes"; docs/runs.md)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from .store import now_utc

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_PAUSED = 0, 1, 2, 3, 4
# Published and committed, but the dataset could not be brought up to date (`scrapy dataset` catches up).
EXIT_DATASET = 5


class RunStartError(Exception):
    """The run cannot start; `code` is its exit status (2 bad input, 3 locked)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def new_identity(name: str) -> dict[str, str]:
    """A run id unique even for two runs started in the same second: time plus random bits."""
    now = datetime.now(UTC)
    token = secrets.token_hex(3)
    stamp = now.strftime("%Y-%m-%dT%H-%M-%S")
    return {"run_id": f"{name}-{stamp}-{token}", "time": stamp, "started_at": now_utc(), "token": token}

"""Scrapy's debugging commands, made to leave no data behind.

`parse`, `fetch`, `shell`, `view` and `check` look at pages; they are not runs.
So they write no output, rejects or manifest and touch no state, whatever the
settings say (docs/runs.md). Each command module of this package subclasses
Scrapy's own with `NoRecords`.
"""

from __future__ import annotations

import argparse
from typing import Any

# Every setting through which a run writes a file.
RECORD_SETTINGS = (
    "CARNEGIE_OUTPUT", "CARNEGIE_REJECTS", "CARNEGIE_MANIFEST", "CARNEGIE_STATE", "CARNEGIE_DATASET", "CARNEGIE_ARCHIVE"
)  # fmt: skip


class NoRecords:
    settings: Any

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)  # type: ignore[misc]
        for name in RECORD_SETTINGS:
            self.settings.set(name, "", priority="cmdline")

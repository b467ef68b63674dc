"""What a build checks before it writes: the runs it was given against the dataset it updates."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .runs import DatasetError, RunRef, SchemaChangedError
from .schema import arrow_schema

logger = logging.getLogger("carnegie_crawler.dataset.build")  # its lines were the build's, and still are


def check_applied(runs: list[RunRef], applied: dict[str, dict[str, Any]], directory: Path) -> None:
    """A run the dataset has applied must still name the output it was applied from.

    Its file is not read again (the dataset recorded its sha256 when it read it): only the
    manifest is compared with that record, so an update reads no more than the runs it applies.
    """
    for run in runs:
        recorded = applied.get(run.run_id, {}).get("output_sha256")
        if recorded is not None and recorded != run.sha256:
            raise DatasetError(
                f"{run.describe()} names output sha256 {run.sha256[:12]}…, but the dataset at {directory} applied "
                f"{recorded[:12]}…: rebuild it (scrapy dataset --rebuild)"
            )


def check_schema(directory: Path) -> None:
    try:
        found = pq.read_schema(directory / "documents.parquet")
    except (OSError, pa.ArrowInvalid) as exc:
        raise DatasetError(
            f"cannot read {directory / 'documents.parquet'}: {exc}; rebuild it (scrapy dataset --rebuild)"
        ) from None
    if not found.remove_metadata().equals(arrow_schema()):
        raise SchemaChangedError(
            f"{directory / 'documents.parquet'} was built for another schema than the current one: "
            "rebuild it (scrapy dataset --rebuild)"
        )


def check_chain(last: str | None, pending: list[RunRef], allow_gaps: bool, directory: Path) -> list[str]:
    """Each run must follow the one before it; a run missing in between is an error, or a warning with *allow_gaps*."""
    warnings = []
    for run in pending:
        if run.previous_run_id != last:
            missing = f"run {run.previous_run_id}" if run.previous_run_id else "no run"
            before = f"run {last}" if last else "none"
            problem = f"{run.describe()} follows {missing}, but the run before it in the dataset is {before}"
            if not allow_gaps:
                raise DatasetError(f"{problem}: bring the dataset up to date with `scrapy dataset`")
            logger.warning("%s: its documents and removals are missing from %s", problem, directory)
            warnings.append(problem)
        last = run.run_id
    return warnings

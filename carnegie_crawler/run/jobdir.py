"""A Scrapy job directory (JOBDIR) as the run sees it: resumable, or left by a run that died.

Scrapy saves a job's queue only when the crawl stops cleanly (one Ctrl-C). After
`kill -9` the directory holds the requests already seen, starting with the start
pages, and no queue: a resumed job would make no request at all, run after run.
So the run's owner keeps a marker here, `carnegie-run.json`: "running" while a run
holds the directory, "paused" once its queue is saved. Only a paused job resumes.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "carnegie-run.json"
# What Scrapy keeps in a job directory: the request fingerprints, the queue, the spider's state.
SCHEDULER_FILES = ("requests.seen", "requests.queue", "spider.state")


def read_marker(jobdir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((jobdir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_marker(jobdir: Path, data: dict[str, Any]) -> None:
    jobdir.mkdir(parents=True, exist_ok=True)
    tmp = jobdir / f".{MARKER}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(jobdir / MARKER)


@dataclass(frozen=True)
class Inspection:
    resume: dict[str, Any] | None = None  # the paused run's marker
    abandoned_run: str | None = None  # the id of a run that died holding the directory
    warning: str | None = None


def inspect(jobdir: Path) -> Inspection:
    """What the directory holds, for a run that has locked it. Clears a job that cannot resume."""
    marker = read_marker(jobdir)
    if marker is not None and marker.get("status") == "paused":
        return Inspection(resume=marker)
    leftovers = [name for name in SCHEDULER_FILES if (jobdir / name).exists()]
    if marker is None and not leftovers:
        return Inspection()
    who = f"run {marker.get('run_id')} (pid {marker.get('pid')})" if marker else "an earlier run"
    reset(jobdir)
    warning = (
        f"JOBDIR {jobdir} cannot be resumed: {who} stopped without saving its queue "
        "(killed or crashed); starting the job afresh"
    )
    return Inspection(abandoned_run=marker.get("run_id") if marker else None, warning=warning)


def reset(jobdir: Path) -> None:
    """Empty the job directory of Scrapy's files and our marker: the job is over."""
    for name in (*SCHEDULER_FILES, MARKER):
        path = jobdir / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def mismatch(paused: dict[str, Any], now: dict[str, Any]) -> str | None:
    """How the run resuming a paused job differs from the one that paused it (spider, arguments, files), if it
    does: resumed otherwise, its output, state and manifest would mix two runs. Markers from before this
    record was kept, and arguments not known yet, are not compared."""
    recorded = paused.get("job")
    if not isinstance(recorded, dict):
        return None
    differences = [
        f"{key} {now[key]!r}, not {recorded[key]!r}"
        for key in now
        if key in recorded and now[key] is not None and recorded[key] is not None and now[key] != recorded[key]
    ]
    return "; ".join(differences) or None

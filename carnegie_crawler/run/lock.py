"""One run at a time per state file: an advisory lock beside it, `<state>.lock`.

`flock` is released by the kernel when the holding process dies, even by
`kill -9`, so a crashed run never leaves a stale lock behind. The lock file
holds the holder's pid and start time, for the message the next run prints.

The crawl command takes the lock before Scrapy starts logging, so a locked run
says one line; the run's owner then adopts the lock this process already holds
(`acquire` is re-entrant per path within one process).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .store import now_utc

_POLL = 0.2  # seconds between attempts while another run holds the lock
_HELD: dict[Path, RunLock] = {}


class LockHeldError(Exception):
    """Another process holds the lock; the message names it."""


@dataclass
class RunLock:
    path: Path
    target: Path
    fh: IO[str]

    def describe(self, **info: Any) -> None:
        """Rewrite the holder's details (pid, start time, run id) for a waiting run to read."""
        record = {"pid": os.getpid(), "started_at": now_utc(), **info}
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(json.dumps(record) + "\n")
        self.fh.flush()

    def release(self) -> None:
        _HELD.pop(self.target, None)
        if not self.fh.closed:
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_UN)
            self.fh.close()


def lock_path(target: Path) -> Path:
    return target.with_name(target.name + ".lock")


def acquire(target: Path, timeout: float, *, the_file: bool = False) -> RunLock:
    """Lock *target* (a state file or a job directory), waiting at most *timeout* seconds.

    With *the_file* (the state), the file itself is locked, whatever name reaches it: two runs through a
    symlink share one lock. Otherwise the name is: the dataset's is a link switched at every build, and a
    job directory may not exist yet when it is first locked (its key must not change once it does).
    """
    key = target.resolve() if the_file else target.absolute()
    if (held := _HELD.get(key)) is not None:
        return held
    path = lock_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - kept open while the lock is held
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _holder(path)
                fh.close()
                raise LockHeldError(f"another run ({holder}) holds {target}") from None
            time.sleep(_POLL)
        except OSError:
            fh.close()
            raise
    lock = RunLock(path, key, fh)
    lock.describe()
    _HELD[key] = lock
    return lock


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    pid, started = info.get("pid", "unknown"), info.get("started_at", "at an unknown time")
    run_id = f", run {info['run_id']}" if info.get("run_id") else ""
    return f"pid {pid}, started {started}{run_id}"

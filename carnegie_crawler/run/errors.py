"""What can go wrong with the state file, said so that an operator knows what to do.

Only a failed integrity check (or a file that is not a database) is "corrupt": a locked,
read-only or full file is healthy history that must never be thrown away on our advice.
"""

from __future__ import annotations

import errno
from pathlib import Path


class StateError(Exception):
    """The state database cannot be used; the message says which file, what happened and what to do."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind  # locked, read-only, disk-full, corrupt, foreign, version, io


# What an SQLite result code means for the operator. Only a failed integrity check (or a
# file that is not a database) is "corrupt": a locked, read-only or full file is healthy
# history that must never be thrown away on our advice.
_KINDS = (
    (("SQLITE_BUSY", "SQLITE_LOCKED"), "locked", "is locked by another program; try again when it is done"),
    (("SQLITE_READONLY",), "read-only", "is read-only; make it and its directory writable"),
    (("SQLITE_FULL",), "disk-full", "cannot be written: the disk is full; free some space"),
    (("SQLITE_CORRUPT",), "corrupt", "is corrupt"),
    (("SQLITE_NOTADB",), "corrupt", "is corrupt (SQLite cannot read it as a database); move it away or fix it"),
    (("SQLITE_CANTOPEN",), "io", "cannot be opened; check the path and its directory"),
)


def state_error(path: Path, exc: BaseException, doing: str) -> StateError:
    """One StateError with a message that names the cause, from an sqlite3 or OS error."""
    if isinstance(exc, StateError):
        return exc
    name = str(getattr(exc, "sqlite_errorname", ""))
    for prefixes, kind, words in _KINDS:
        if name.startswith(prefixes):
            detail = f" ({exc}); move it away or fix it" if kind == "corrupt" and "move it" not in words else ""
            return StateError(f"state file {path} {words}{detail} [{doing}]", kind)
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return StateError(f"state file {path} cannot be written: the disk is full [{doing}]", "disk-full")
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return StateError(f"state file {path} is read-only ({exc.strerror}) [{doing}]", "read-only")
        return StateError(f"state file {path}: {exc.strerror or exc} [{doing}]", "io")
    return StateError(f"state file {path}: {exc} [{doing}]", "io")

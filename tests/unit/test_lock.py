"""The lock on a state file: one run at a time, the holder named, released by the kernel when it dies."""

import os
import signal
import subprocess
import sys
import time

import pytest

from carnegie_crawler.run.lock import LockHeldError, acquire, lock_path

HOLD = """
import sys, time
from pathlib import Path
from carnegie_crawler.run.lock import acquire
lock = acquire(Path(sys.argv[1]), 0)
lock.describe(run_id="commentary-holder")
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process that holds the lock on tmp_path/state.sqlite3 until killed."""
    env = os.environ | {"PYTHONPATH": os.getcwd()}
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "state.sqlite3")], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait(timeout=10)
    process.stdout.close()


def test_a_second_run_waits_then_names_the_holder(tmp_path, holder):
    started = time.monotonic()
    with pytest.raises(LockHeldError) as caught:
        acquire(tmp_path / "state.sqlite3", timeout=0.5)
    assert time.monotonic() - started >= 0.5, "it waited the configured time"
    message = str(caught.value)
    assert message.startswith(f"another run (pid {holder.pid}, started ")
    assert "run commentary-holder" in message
    assert message.endswith(f"holds {tmp_path / 'state.sqlite3'}")


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    lock = acquire(tmp_path / "state.sqlite3", timeout=5)
    try:
        assert lock_path(tmp_path / "state.sqlite3").exists()
    finally:
        lock.release()


def test_within_one_process_the_lock_is_taken_once_and_adopted(tmp_path):
    first = acquire(tmp_path / "state.sqlite3", timeout=0)
    try:
        assert acquire(tmp_path / "state.sqlite3", timeout=0) is first, "the run's owner adopts the command's lock"
    finally:
        first.release()
    again = acquire(tmp_path / "state.sqlite3", timeout=0)
    assert again is not first, "released, then taken anew"
    again.release()

"""The `scrapy dataset` progress: a redrawn line on a terminal, periodic log lines elsewhere."""

import io
import logging

from carnegie_crawler.commands import dataset as command


def test_terminal_progress_redraws_one_line_and_clears_it(monkeypatch):
    clock = iter([10.0, 10.05, 10.2, 10.4])
    monkeypatch.setattr(command.time, "monotonic", lambda: next(clock))
    stream = io.StringIO()
    progress = command.TerminalProgress(stream)
    progress("index", 250_000_000, 1_000_000_000)
    progress("index", 260_000_000, 1_000_000_000)  # within 0.1 s: not redrawn
    progress("write", 50_000, 100_000)
    progress("write", 100_000, 100_000)
    progress.close()
    frames = stream.getvalue().split("\r")[1:]
    assert frames[0].startswith("Reading runs [#######")
    assert "25% 250/1,000 MB" in frames[0]
    assert "Writing documents" in frames[1]
    assert "50% 50,000/100,000" in frames[1]
    assert "100% 100,000/100,000" in frames[2]
    assert frames[-1] == ""
    assert frames[-2].strip() == ""
    assert "\n" not in stream.getvalue()


def test_log_progress_every_interval(monkeypatch, caplog):
    clock = iter([0.0, 1.0, 5.5, 6.0, 11.0])
    monkeypatch.setattr(command.time, "monotonic", lambda: next(clock))
    progress = command.LogProgress(interval=5)
    with caplog.at_level(logging.INFO, logger="carnegie_crawler.dataset"):
        for done in (10, 20, 30, 40):
            progress("write", done, 40)
    assert [r.getMessage() for r in caplog.records] == ["Writing documents: 50%", "Writing documents: 100%"]

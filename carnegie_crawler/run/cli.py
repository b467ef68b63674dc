"""What the run commands (`crawl`, `demo`) share: the checks before Scrapy starts, and the exit status.

The checks run before Scrapy configures logging, so bad input is one `Error:`
line on stderr. The lock is taken here too, for the same reason; the run's owner
adopts it (`lock.acquire` is re-entrant within a process).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcessBase
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from ..schema import SchemaLoadError, load_validator
from ..spiders.arguments import SpiderArgumentError
from .config import ConfigError, RunConfig, check_paths, check_replaced_runs
from .lock import LockHeldError, acquire
from .outcome import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_PAUSED, RunStartError
from .owner import owner_of
from .store import StateError, StateStore

logger = logging.getLogger("carnegie_crawler.run")


def preflight(spider_cls: type[Any], spider_args: dict[str, str], settings: BaseSettings) -> RunStartError | None:
    """The reason the run cannot start (with its exit status), or None."""
    try:
        check = getattr(spider_cls, "check_arguments", None)
        if check is not None:
            check(**spider_args)
        config = RunConfig.from_settings(settings)
        check_paths(config, settings, spider_cls.name, spider_cls)
        _check_coverage_fields(config, load_validator(config.schema).schema)
    except (SpiderArgumentError, ConfigError, SchemaLoadError) as exc:
        return RunStartError(str(exc), EXIT_BAD_INPUT)
    target = config.state or config.jobdir
    try:
        if target is not None:
            acquire(target, config.lock_timeout, the_file=target == config.state)
        if config.state is not None:
            StateStore(config.state).close()
        check_replaced_runs(config, settings, spider_cls.name)  # under the lock: no run publishes meanwhile
    except ConfigError as exc:
        return RunStartError(str(exc), EXIT_BAD_INPUT)
    except LockHeldError as exc:
        return RunStartError(str(exc), EXIT_LOCKED)
    except OSError as exc:  # the lock file cannot be opened (a directory, a read-only place)
        where = exc.filename or target
        return RunStartError(f"cannot lock {target}: {where}: {exc.strerror or exc}", EXIT_BAD_INPUT)
    except StateError as exc:
        return RunStartError(str(exc), EXIT_LOCKED if exc.kind == "locked" else EXIT_BAD_INPUT)
    return None


def _check_coverage_fields(config: RunConfig, schema: dict[str, Any]) -> None:
    """A threshold on a field the schema does not have (an older schema) would fail every run."""
    properties = schema.get("properties")
    for field in config.min_coverage:
        if isinstance(properties, dict) and field not in properties:
            raise ConfigError(f"CARNEGIE_MIN_COVERAGE: {field!r} is not a field of the schema")


def fail(error: RunStartError) -> int:
    print(f"Error: {error}", file=sys.stderr)
    return error.code


def run_crawler(process: CrawlerProcessBase, crawler: Crawler, spider_args: dict[str, Any]) -> int:
    """Run one crawl to its end; its exit status (docs/runs.md), after the summary line."""
    refused: list[RunStartError] = []

    def start_failed(failure: Failure) -> Failure | None:
        if isinstance(failure.value, RunStartError):
            refused.append(failure.value)
            return None
        return failure

    def task_done(task: Any) -> None:  # AsyncCrawlerProcess runs the crawl as an asyncio task
        if not task.cancelled() and isinstance(error := task.exception(), RunStartError):
            refused.append(error)
        elif not task.cancelled() and (error := task.exception()) is not None:
            logger.error("The crawl ended with an error", exc_info=error)

    outcome = process.crawl(crawler, **spider_args)
    if hasattr(outcome, "addErrback"):
        outcome.addErrback(start_failed)
    elif hasattr(outcome, "add_done_callback"):
        outcome.add_done_callback(task_done)
    process.start()
    if refused:
        return fail(refused[0])
    try:
        owner = owner_of(crawler)
    except (AttributeError, RuntimeError):  # the crawl never started: no extensions
        owner = None
    if owner is None or owner.exit_code is None:
        logger.error("Run failed: the run ended without a verdict (see the errors above)")
        return EXIT_FAILED
    if owner.summary:
        (logger.info if owner.exit_code in (EXIT_OK, EXIT_PAUSED) else logger.error)("%s", owner.summary)
    return owner.exit_code

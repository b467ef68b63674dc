"""One run of the crawl, start to exit: its owner, configuration, lock, state and manifest (docs/runs.md)."""

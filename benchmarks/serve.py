"""Serve a generated mirror on 127.0.0.1 in its own process, with the project's dev server.

    python benchmarks/serve.py MIRROR_DIR [--port 0]

Prints the base URL on the first line of stdout, then serves until stdin closes
(or the process is terminated). The benchmark runs it as a separate process, so
the server never shares the crawler's interpreter or its GIL.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from carnegie_crawler.devserver import SiteServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with SiteServer(args.root, args.port) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()  # the parent closes our stdin to stop us


if __name__ == "__main__":
    main()

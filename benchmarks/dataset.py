"""The dataset build at scale: a full run of N documents, then an incremental run changing 1 % of them.

    python benchmarks/dataset.py                  # N=100,000 (about 1 GB of JSON Lines), a few minutes
    python benchmarks/dataset.py --documents 5000 # a quick look

Generates the two runs (bodies 4-12 KB, 1-3 authors, a few labels each) with
`carnegie_crawler.dataset.synthetic`, then times, each in its own process (its peak RSS
read with os.wait4 through benchmarks/peak.py, so the figure is its own):

- full build: the dataset from the full run alone (output verified, indexed, converted, written);
- update: the incremental run applied to that dataset (900 updated, 50 new, 50 removed);
- rebuild: both runs discovered and built from scratch, as `scrapy dataset --rebuild` does;
- rewrite (a reference, not a target): the full build's documents.parquet decoded, encoded again
  and hashed with the dataset's own writer, and nothing else: the least an update that changes
  documents all over the file can cost, since it has to write every row group again.

Full build and update alternate, --turns times (the machines' speed swings from one minute to
the next, benchmarks/README.md); the ratio is the median of the turns' ratios, in wall time and
in CPU time (user + system, all threads; imports left out of both). Targets: full build ≤ 60 s, peak RSS ≤ 1 GB each,
update ≤ ¼ of the full build; and the update's documents.parquet and history.parquet are byte
for byte the rebuild's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATE = "state.sqlite3"


def generate(root: Path, documents: int, seed: int = 7) -> tuple[Path, Path]:
    from carnegie_crawler.dataset.synthetic import Corpus, iso, run_id_at, write_run

    corpus = Corpus(seed)
    data, state = root / "data", root / STATE
    first = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    full_id = run_id_at(first, 1)
    full = write_run(
        data,
        full_id,
        (corpus.record(n, iso(first + timedelta(seconds=n // 50)), full_id) for n in range(documents)),
        state=state,
        started_at=iso(first),
        finished_at=iso(first + timedelta(hours=2)),
    )
    rng = random.Random(seed)
    changed = max(1, documents // 100)
    picked = rng.sample(range(documents), changed)
    few = changed // 20
    removed, updated = picked[:few], picked[few : changed - few]
    then = first + timedelta(days=1)
    incremental_id = run_id_at(then, 2)
    records = []
    for n in sorted(updated):
        records.append({**corpus.record(n, iso(then), incremental_id), "crawl_status": "updated"})
    for n in range(documents, documents + few):
        records.append(corpus.record(n, iso(then), incremental_id))
    gone = []
    for n in removed:
        record = corpus.record(n, iso(then), incremental_id)
        gone.append({"url": record["url"], "language": record["language"], "reason": "HTTP 410"})
    incremental = write_run(
        data,
        incremental_id,
        records,
        state=state,
        started_at=iso(then),
        finished_at=iso(then + timedelta(minutes=20)),
        previous_run_id=full_id,
        mode="incremental",
        removed=gone,
    )
    return full, incremental


def step(kind: str, root: Path, target: str, manifest: str) -> None:
    """One measured step, in this (fresh) process."""
    from carnegie_crawler.dataset import discover_runs, rebuild_dataset, update_dataset

    if kind == "rewrite":
        return rewrite(root, target)
    started, cpu = time.perf_counter(), _cpu()
    if kind == "rebuild":
        runs = discover_runs([root / "data"], root / STATE)
        summary = rebuild_dataset(root / target, runs)
    else:
        summary = update_dataset(root / target, [Path(manifest)])
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    (root / f"{target}.{kind}.json").write_text(json.dumps({"seconds": seconds, "cpu": cpu, "summary": summary.line()}))


def rewrite(root: Path, target: str) -> None:
    """The floor of any update: the full build's documents.parquet decoded, encoded again and hashed, nothing else.

    An update that changes 1 % of documents spread over the whole file must write every row group
    again (pyarrow cannot copy a row group's encoded bytes), and datapackage.json needs its sha256.
    """
    import pyarrow.parquet as pq

    from carnegie_crawler.dataset.output import DocumentsWriter
    from carnegie_crawler.dataset.schema import arrow_schema

    schema = arrow_schema()
    started, cpu = time.perf_counter(), _cpu()
    with pq.ParquetFile(root / target / "documents.parquet") as source:
        writer = DocumentsWriter(root / f"{target}.rewrite.parquet", schema)
        for group in range(source.num_row_groups):
            writer.write(source.read_row_group(group, use_threads=False))
        writer.close()
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    line = f"documents.parquet rewritten: {writer.stats.rows:,} rows, {writer.bytes / 1e6:,.0f} MB"
    (root / f"{target}.rewrite.json").write_text(json.dumps({"seconds": seconds, "cpu": cpu, "summary": line}))


def _cpu() -> float:
    """CPU seconds of this process so far, all its threads (pyarrow's included), user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(kind: str, root: Path, target: str, manifest: Path | None = None) -> dict[str, float]:
    """Wall and CPU seconds of the build (imports left out), and peak RSS of the whole process, of one step."""
    result = root / f"{target}.{kind}.peak.json"
    command = [sys.executable, str(HERE / "dataset.py"), "--step", kind, "--root", str(root), "--target", target]
    command += ["--manifest", str(manifest or "")]
    subprocess.run([sys.executable, str(HERE / "peak.py"), str(result), "--", *command], check=True)
    peak = json.loads(result.read_text())
    if peak["exit_code"] != 0:
        raise SystemExit(f"{kind} failed (exit {peak['exit_code']})")
    timing = json.loads((root / f"{target}.{kind}.json").read_text())
    rss_mb = peak["max_rss_kib"] / 1024
    print(f"  {timing['summary']}", file=sys.stderr)
    print(
        f"    {kind}: {timing['seconds']:.2f} s, CPU {timing['cpu']:.2f} s, peak RSS {rss_mb:.0f} MB", file=sys.stderr
    )
    return {"seconds": timing["seconds"], "cpu": timing["cpu"], "rss_mb": rss_mb}


def _remove(root: Path, target: str) -> None:
    """A turn's dataset: the path (a directory, or a link to one) and whatever it left beside it."""
    for path in root.glob(f"*{target}*"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=3, help="full build + update pairs; ratios are their medians")
    parser.add_argument("--dir", type=Path, help="where the work directory is made (default: the system's tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (runs, state, datasets)")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step(args.step, args.root, args.target, args.manifest)
        return 0
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="carnegie-dataset-bench-", dir=args.dir))
    try:
        started = time.perf_counter()
        full, incremental = generate(root, args.documents)
        size = sum(path.stat().st_size for path in (root / "data").glob("*.jsonl"))
        print(
            f"Generated {args.documents:,} documents ({size / 1e6:,.0f} MB) in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        fulls, updates, rewrites = [], [], []
        for turn in range(args.turns):
            fulls.append(measure("full", root, f"turn{turn}", full))
            rewrites.append(measure("rewrite", root, f"turn{turn}"))
            updates.append(measure("update", root, f"turn{turn}", incremental))
            if turn:
                _remove(root, f"turn{turn - 1}")
        rebuild = measure("rebuild", root, "rebuilt")
        last = root / f"turn{args.turns - 1}"
        same = all(
            sha256(last / name) == sha256(root / "rebuilt" / name) for name in ("documents.parquet", "history.parquet")
        )
    finally:
        if args.keep:
            print(f"Kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    full_s = statistics.median(m["seconds"] for m in fulls)
    update_s = statistics.median(m["seconds"] for m in updates)
    ratio = statistics.median(u["seconds"] / f["seconds"] for f, u in zip(fulls, updates, strict=True))
    cpu_ratio = statistics.median(u["cpu"] / f["cpu"] for f, u in zip(fulls, updates, strict=True))
    floor = statistics.median(r["seconds"] / f["seconds"] for f, r in zip(fulls, rewrites, strict=True))
    cpu_floor = statistics.median(r["cpu"] / f["cpu"] for f, r in zip(fulls, rewrites, strict=True))
    rss = {
        kind: max(m["rss_mb"] for m in runs)
        for kind, runs in (("full", fulls), ("update", updates), ("rebuild", [rebuild]))
    }
    rows = [
        ("full build (median)", f"{full_s:.1f} s", "≤ 60 s", full_s <= 60),
        ("update, 1 % changed (median)", f"{update_s:.1f} s", "", True),
        ("update / full build, wall (median of turns)", f"{ratio:.2f}", "≤ 0.25", ratio <= 0.25),
        ("update / full build, CPU (median of turns)", f"{cpu_ratio:.2f}", "", True),
        ("rewrite floor / full build, wall and CPU (median of turns)", f"{floor:.2f}, {cpu_floor:.2f}", "", True),
        ("rebuild, both runs", f"{rebuild['seconds']:.1f} s", "", True),
        *((f"{kind} peak RSS", f"{mb:.0f} MB", "≤ 1024 MB", mb <= 1024) for kind, mb in rss.items()),
        ("update == rebuild (bytes)", "yes" if same else "NO", "yes", same),
    ]
    print(
        f"\nDataset benchmark: {args.documents:,} documents, {size / 1e6:,.0f} MB of JSON Lines, {args.turns} turn(s)\n"
    )
    print("| measure | figure | target | met |\n|---|---|---|---|")
    for name, figure, target, met in rows:
        print(f"| {name} | {figure} | {target} | {'yes' if met else 'NO'} |")
    return 0 if all(met for *_, met in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

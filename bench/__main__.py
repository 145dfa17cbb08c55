"""``make bench``: run every benchmark module, write bench/results/latest.json and the
README table.

Usage: ``python -m bench [name ...]`` (default: all of BENCHES that exist).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bench.core import BenchResult

BENCHES = ("collector", "sink", "identity", "tags", "funnels", "pipeline", "load", "segments")
RESULTS = Path(__file__).parent / "results"
README = Path(__file__).parents[1] / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _table(results: list[BenchResult]) -> str:
    lines = [
        "| stage | figure | value | baseline (same run) | ratio | goal |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        for f in r.figures:
            base = f"{f.baseline:,.1f} ({r.baseline})" if f.baseline is not None else ""
            ratio = f"{f.ratio:.2f}×" if f.ratio is not None else ""
            lines.append(
                f"| {r.stage} | {f.name} | {f.value:,.1f} {f.unit} | {base} | {ratio} | {f.goal} |"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    wanted = argv or [b for b in BENCHES if importlib.util.find_spec(f"bench.{b}")]
    results: list[BenchResult] = []
    for name in wanted:
        started = time.perf_counter()
        sys.stdout.write(f"bench {name} …\n")
        sys.stdout.flush()
        result: BenchResult = importlib.import_module(f"bench.{name}").run()
        results.append(result)
        sys.stdout.write(_table([result]) + f"\n({time.perf_counter() - started:.0f}s)\n\n")
    RESULTS.mkdir(exist_ok=True)
    doc = {
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor(),
            "system": platform.platform(),
        },
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": [asdict(r) | {"ratios": {f.name: f.ratio for f in r.figures}} for r in results],
    }
    (RESULTS / "latest.json").write_text(json.dumps(doc, indent=2))
    table = _table(results)
    sys.stdout.write(table + "\n")
    if not argv and README.exists():
        text = README.read_text()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            README.write_text(f"{head}{START}\n{table}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

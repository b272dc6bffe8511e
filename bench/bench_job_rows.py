"""CPU a row of what a job worker screens, in process: `Screener.screen_many` over the rows the
job benchmark uploads (bench titles numbered 第n项, a lead unit, a third of them dated) in
batches of 500, answers serialised as the worker stores them. Best of `--repeat` passes over
`--rows` rows; prints the number and writes bench/results/job_rows.json.

    .venv/bin/python bench/bench_job_rows.py [--rows 1000] [--repeat 15]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_http import TITLES, machine

from model.screener import Screener

RESULTS = Path(__file__).resolve().parent / "results" / "job_rows.json"


def rows(n: int) -> list[dict]:
    return [{"title": f"{TITLES[i % len(TITLES)]}(第{i}项)", "unit": "市政府办公室",
             **({"planned_date": "2026-12-18"} if i % 3 == 0 else {})} for i in range(1, n + 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    s = Screener(model="default")
    data = rows(args.rows)
    s.screen_many(data[:500])  # first-use costs (dictionary words, memos) out of the timing
    times = []
    for _ in range(args.repeat):
        c = time.process_time()
        for i in range(0, len(data), 500):
            [a.model_dump_json() for a in s.screen_many(data[i:i + 500])]
        times.append(time.process_time() - c)
    best = min(times) / len(data) * 1e6
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), "load": list(os.getloadavg()),
              "rows": args.rows, "repeat": args.repeat, "model_version": s.model_version,
              "best_cpu_us_per_row": round(best, 1), "median_cpu_us_per_row":
                  round(sorted(times)[len(times) // 2] / len(data) * 1e6, 1)}
    print(f"{best:.0f} µs CPU a row (best of {args.repeat}), {1e6 / best:,.0f} rows/s on one core")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

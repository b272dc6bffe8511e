"""File mode end to end: `decision-screen screen --input F.jsonl --output G.jsonl [--workers N]`.

Runs the installed command as a separate process (model load and process start included) on a
generated .jsonl of varied matters: 10,000 rows with 1 worker and with the machine's cores, then
a large file (1,000,000 rows by default) for its peak memory. Memory is sampled from /proc every
0.2 s over the whole process tree: the sum of RSS (shared pages counted in every process, an
upper bound) and the sum of PSS (shared pages split between the processes that share them).
The large file is written out as .csv (a million full JSON answers would fill gigabytes).
CPU seconds of the command and its workers are reported beside the wall time: on a shared,
busy machine they say more about the work done than the wall clock does.
Prints the numbers and writes them to bench/results/filemode.json.

    .venv/bin/python bench/bench_filemode.py [--rows 10000] [--large-rows 1000000] [--rules-only]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_rules import PLACES, TEMPLATES

UNITS = ["市水务局", "区人民政府", "临江镇人民政府", "北城街道办事处", "市发展和改革委员会", None]


def write_rows(path: Path, n: int, seed: int = 11) -> None:
    """n varied matters, written line by line (the generator holds none of them)."""
    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            t = rnd.choice(TEMPLATES).format(p=rnd.choice(PLACES), n=round(rnd.uniform(0.1, 9), 1),
                                              m=rnd.randint(20, 900), k=rnd.randint(1, 40))
            row = {"id": str(i + 1), "title": f"{t}(第{i // 1000 + 1}批)",
                   "profile": rnd.choice(["national", "zhejiang", "hunan_town"])}
            unit = rnd.choice(UNITS)
            if unit:
                row["unit"] = unit
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return out


def _mem_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def run(src: Path, dst: Path, workers: int | None, rules_only: bool) -> dict:
    exe = Path(sys.executable).parent / "decision-screen"
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "decision_screen"]),
           "screen", "--input", str(src), "--output", str(dst)]
    if workers:
        cmd += ["--workers", str(workers)]
    if rules_only:
        cmd.append("--rules-only")
    peak = {"rss_mb": 0.0, "pss_mb": 0.0, "processes": 0, "largest_process_rss_mb": 0.0}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CI": "true"})
    done = threading.Event()

    def sample():
        while not done.is_set():
            mems = [_mem_kb(p) for p in _tree(proc.pid)]
            peak["rss_mb"] = max(peak["rss_mb"], sum(m[0] for m in mems) / 1024)
            peak["pss_mb"] = max(peak["pss_mb"], sum(m[1] for m in mems) / 1024)
            peak["largest_process_rss_mb"] = max(peak["largest_process_rss_mb"],
                                                 max((m[0] for m in mems), default=0) / 1024)
            peak["processes"] = max(peak["processes"], len(mems))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command and its workers, all reaped
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-2000:]}")
    rows = sum(1 for _ in dst.open("rb")) - (dst.suffix == ".csv")  # less the heading line
    return {"rows": rows, "workers": workers or "default", "seconds": round(seconds, 2),
            "rows_per_second": round(rows / seconds, 1), "cpu_seconds": round(cpu, 2),
            "rows_per_cpu_second": round(rows / cpu, 1) if cpu else None,
            **{k: round(v, 1) for k, v in peak.items()},
            "summary": stderr.strip().splitlines()[-1] if stderr.strip() else ""}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--large-rows", type=int, default=1_000_000, help="0 to skip the large file")
    ap.add_argument("--rules-only", action="store_true", help="without the learned model")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "filemode.json"))
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    results: dict = {"machine": platform.platform(), "python": platform.python_version(), "cores": cores,
                     "load_before": os.getloadavg()[0], "model": "rules only" if args.rules_only else "shipped",
                     "runs": []}
    with tempfile.TemporaryDirectory(prefix="bench-filemode-") as tmp:
        small = Path(tmp) / "small.jsonl"
        write_rows(small, args.rows)
        for workers in (1, None):
            r = run(small, Path(tmp) / "out.jsonl", workers, args.rules_only)
            results["runs"].append(r)
            print(json.dumps(r, ensure_ascii=False), flush=True)
        if args.large_rows:
            large = Path(tmp) / "large.jsonl"
            write_rows(large, args.large_rows)
            results["large_input_mb"] = round(large.stat().st_size / 2**20, 1)
            # CSV out: a million full JSON answers would take gigabytes of disk (and CSV has no
            # precedent column, so none are looked for).
            out = Path(tmp) / "out_large.csv"
            r = run(large, out, None, args.rules_only)
            results["large_output_mb"] = round(out.stat().st_size / 2**20, 1)
            results["runs"].append(r)
            print(json.dumps(r, ensure_ascii=False), flush=True)
    results["load_after"] = os.getloadavg()[0]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}, ensure_ascii=False))


if __name__ == "__main__":
    main()

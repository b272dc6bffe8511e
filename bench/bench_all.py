"""The whole benchmark of issue 13 in one invocation, with the ratios to the framework's floor.

  * HTTP: the bare-FastAPI floor (bench/floor_app.py: validates the same MatterIn body, answers a
    constant), the service's HTTP path alone (bench/stub_service.py: the service with a screener
    that answers at once) and the service (`decision-screen serve`), each served the same way (uvicorn, the
    same workers and HTTP protocol), loaded by the same generator (wrk with a Lua script for the
    POST body; an asyncio client only when wrk is missing) at 1, 10 and 100 concurrent clients:
    requests/s, p50, p99, errors, and service/floor ratios;
  * file mode (`decision-screen screen --input --output`) at 10,000 and 1,000,000 rows
    (--skip-million to leave the long one out): seconds end to end and peak memory;
  * jobs of 10,000 and 50,000 rows with 1 and 2 worker processes (`decision-screen worker`)
    beside one API process, on PostgreSQL when it answers (a schema of its own), else SQLite;
  * cold start: process start to /readyz 200, for the service (restart and first start on a new
    data folder) and the floor;
  * peak memory (VmHWM) of every process: API workers, job workers, file mode.

The machine's load average is recorded before and after each part: on a shared machine the
numbers move with it. Results go to bench/results/all.json.

    .venv/bin/python bench/bench_all.py                       # everything, 15 s per HTTP level
    .venv/bin/python bench/bench_all.py --seconds 5 --skip-million
Targets (issue 13, 2 cores): service at 100 clients >= 70 % of the floor's requests/s with p99
<= 1.5x the floor's and no errors; file mode 10,000 rows < 4 s; jobs: 10,000 rows < 8 s, 50,000
rows < 40 s; cold start < 1.5 s; every process < 300 MB.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_http import TITLES, free_port, machine, run_python, run_wrk

from api.process import stop, wait_until_ready

RESULTS = ROOT / "bench" / "results" / "all.json"
TARGETS = {"ratio_rps_100": 0.70, "ratio_p99_100": 1.5, "file_10000_s": 4.0, "job_10000_s": 8.0,
           "job_50000_s": 40.0, "cold_start_s": 1.5, "process_mb": 300.0}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def say(msg: str) -> None:
    print(msg, flush=True)


# -- processes and their memory ----------------------------------------------------------------------

def tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as fh:
                    ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def peak_mb(pid: int) -> dict[str, float]:
    """Peak resident memory (VmHWM) of each process of the tree, by pid and command."""
    out = {}
    for p in tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
        if "multiprocessing" in cmd and hwm < 50_000:
            continue  # uvicorn's tiny resource tracker
        out[f"{p} {cmd[-80:]}"] = round(hwm / 1024, 1)
    return out


class Proc:
    def __init__(self, args: list[str], env: dict, log: Path):
        self.log = log
        with log.open("ab") as fh:
            self.started = time.perf_counter()
            self.p = subprocess.Popen(args, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)

    def ready_http(self, base: str, timeout: float = 120) -> float:
        wait_until_ready(self.p, base, self.log, timeout, poll=0.02)
        return time.perf_counter() - self.started

    def ready_log(self, text: str, timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text(errors="replace"):
            if self.p.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.log} never said {text!r}:\n{self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.02)
        return time.perf_counter() - self.started

    def stop(self) -> None:
        stop(self.p, grace=30)


def service_env(var: Path, db_url: str | None, **extra: str) -> dict:
    env = {**os.environ, "DECISION_SCREEN_VAR": str(var), **extra}
    if db_url:
        env["DATABASE_URL"] = db_url
    return env


def key_for(env: dict, var: Path) -> str:
    f = var / "local_api_key.txt"
    if f.exists():
        return f.read_text().strip()
    out = subprocess.run([sys.executable, "-m", "decision_screen", "keys", "create", "--name", "bench", "--scope",
                          "admin"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


# -- HTTP: floor and service ---------------------------------------------------------------------------

def http_part(args, tmp: Path) -> dict:
    import httpx

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    out: dict = {"client": client, "workers": args.workers, "seconds": args.seconds, "levels": {}}
    for target in args.http_targets:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        var = tmp / f"http-{target}"
        var.mkdir()
        env = service_env(var, None)
        if target == "floor":
            proc = Proc([sys.executable, str(ROOT / "bench" / "floor_app.py"), "--port", str(port),
                         "--workers", str(args.workers)], env, var / "server.log")
        elif target == "service_path":  # the service's HTTP path with a screener that answers at once
            env["DECISION_SCREEN_JOB_WORKER"] = "0"
            proc = Proc([sys.executable, str(ROOT / "bench" / "floor_app.py"), "--port", str(port),
                         "--workers", str(args.workers), "--app", "bench.stub_service:create", "--factory"],
                        env, var / "server.log")
        else:
            proc = Proc([sys.executable, "-m", "decision_screen", "serve", "--host", "127.0.0.1", "--port", str(port),
                         "--workers", str(args.workers), "--log-level", "warning"], env, var / "server.log")
        try:
            cold = proc.ready_http(base)
            key = key_for(env, var) if target != "floor" else "none"
            for i in range(20 * args.workers):  # warm every worker process
                httpx.post(f"{base}/api/v1/screen", json={"title": TITLES[i % len(TITLES)]},
                           headers={"X-API-Key": key}, timeout=30).raise_for_status()
            res = {"cold_start_s": round(cold, 2), "load_before": load(), "levels": []}
            for conc in args.concurrency:
                r = (run_wrk(base, key, conc, args.seconds, tmp) if client == "wrk"
                     else run_python(base, key, conc, args.seconds))
                res["levels"].append(r)
                say(f"{target:<8} c={conc:<4} {r['rps']:>8.1f} req/s   p50 {r['p50_ms']:>7.2f} ms   "
                    f"p99 {r['p99_ms']:>8.2f} ms   errors {r['errors']}")
            res["load_after"] = load()
            res["peak_mb"] = peak_mb(proc.p.pid)
        finally:
            proc.stop()
        out[target] = res
    if "floor" not in out or "service" not in out:
        return out
    path = {r["concurrency"]: r for r in (out.get("service_path") or {}).get("levels", [])}
    for f, s in zip(out["floor"]["levels"], out["service"]["levels"]):
        p = path.get(f["concurrency"])
        if p:  # the service's HTTP path alone, against the floor
            out.setdefault("path_levels", {})[str(f["concurrency"])] = {
                "path_rps": p["rps"], "rps_ratio": round(p["rps"] / f["rps"], 3), "path_p99_ms": p["p99_ms"],
                "p99_ratio": round(p["p99_ms"] / f["p99_ms"], 3) if f["p99_ms"] else None}
        out["levels"][str(f["concurrency"])] = {
            "floor_rps": f["rps"], "service_rps": s["rps"], "rps_ratio": round(s["rps"] / f["rps"], 3),
            "floor_p99_ms": f["p99_ms"], "service_p99_ms": s["p99_ms"],
            "p99_ratio": round(s["p99_ms"] / f["p99_ms"], 3) if f["p99_ms"] else None,
            "service_errors": s["errors"], "floor_errors": f["errors"]}
        lv = out["levels"][str(f["concurrency"])]
        say(f"ratio    c={f['concurrency']:<4} requests/s {lv['rps_ratio']:.2f} of the floor, p99 "
            f"{lv['p99_ratio']:.2f}x the floor's")
    return out


# -- file mode -----------------------------------------------------------------------------------------

def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["序号", "决策事项名称", "承办单位", "计划决策日期"])
        for i in range(1, rows + 1):
            w.writerow([i, f"{TITLES[i % len(TITLES)]}(第{i}项)", "市政府办公室", "2026-12-18" if i % 3 == 0 else ""])


def file_part(args, tmp: Path) -> list[dict]:
    out = []
    for rows in args.file_rows:
        if rows >= 1_000_000 and args.skip_million:
            continue
        src, dst = tmp / f"in-{rows}.csv", tmp / f"out-{rows}.jsonl"
        write_csv(src, rows)
        before = load()
        cmd = [sys.executable, "-m", "decision_screen", "screen", "--input", str(src), "--output", str(dst)]
        if args.file_workers:
            cmd += ["--workers", str(args.file_workers)]
        t0 = time.perf_counter()
        # Peak memory of the file-mode processes: a helper process runs it and reports its
        # children's largest resident set (ru_maxrss covers every waited-for descendant).
        probe = ("import resource,subprocess,sys,json;"
                 "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE,text=True);"
                 "u=resource.getrusage(resource.RUSAGE_CHILDREN);"
                 "print(json.dumps({'rc':r.returncode,'maxrss_kb':u.ru_maxrss,'cpu_s':u.ru_utime+u.ru_stime,"
                 "'tail':r.stderr[-400:]}))")
        res = subprocess.run([sys.executable, "-c", probe, *cmd], cwd=ROOT, capture_output=True, text=True, check=False,
                             env={**os.environ, "CI": "true"})
        took = time.perf_counter() - t0
        info = json.loads(res.stdout.strip().splitlines()[-1])
        lines = sum(1 for _ in dst.open("rb")) if dst.exists() else 0
        r = {"rows": rows, "seconds": round(took, 2), "rows_per_s": round(rows / took, 1), "output_rows": lines,
             "rc": info["rc"], "peak_mb_largest_process": round(info["maxrss_kb"] / 1024, 1),
             # CPU of every file-mode process together: on a shared machine it moves less than the wall clock.
             "cpu_seconds": round(info["cpu_s"], 2),
             "load_before": before, "load_after": load()}
        if info["rc"] != 0:
            r["error"] = info["tail"]
        out.append(r)
        say(f"file     {rows:>9,} rows: {took:7.2f} s ({r['rows_per_s']:,.0f} rows/s, {r['cpu_seconds']} s CPU), peak "
            f"{r['peak_mb_largest_process']} MB, rc {info['rc']}")
        src.unlink(missing_ok=True)
        dst.unlink(missing_ok=True)
    return out


# -- jobs with 1 and 2 workers ---------------------------------------------------------------------------

def job_csv(rows: int) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["序号", "决策事项名称", "承办单位", "计划决策日期"])
    for i in range(1, rows + 1):
        w.writerow([i, f"{TITLES[i % len(TITLES)]}(第{i}项)", "市政府办公室", "2026-12-18" if i % 3 == 0 else ""])
    return buf.getvalue().encode("utf-8-sig")


def pg_schema_url() -> tuple[str | None, callable]:
    """A fresh schema on the local PostgreSQL (DATABASE_URL_TEST or 127.0.0.1:5432/test), or None."""
    import secrets

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    admin = os.environ.get("DATABASE_URL_TEST", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        eng = sa.create_engine(admin, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        name = f"ds_bench_{secrets.token_hex(4)}"
        with eng.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    except Exception:  # noqa: BLE001  (no server, no driver, refused: jobs then run on SQLite)
        return None, lambda: None

    def drop():
        with eng.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        eng.dispose()

    url = make_url(admin).update_query_dict({"options": f"-csearch_path={name}"})
    return url.render_as_string(hide_password=False), drop


def job_part(args, tmp: Path) -> dict:
    import httpx

    db_url, drop = (None, lambda: None) if args.jobs_on_sqlite else pg_schema_url()
    out: dict = {"database": "postgresql" if db_url else "sqlite", "runs": []}
    try:
        for n_workers in args.job_workers:
            var = tmp / f"jobs-{n_workers}"
            var.mkdir()
            env = service_env(var, db_url)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            api = Proc([sys.executable, "-m", "decision_screen", "serve", "--host", "127.0.0.1", "--port", str(port),
                        "--no-job-worker", "--log-level", "warning"], env, var / "api.log")
            workers: list[Proc] = []
            try:
                api.ready_http(base)
                key = key_for(env, var)
                workers = [Proc([sys.executable, "-m", "decision_screen", "worker"], env, var / f"worker{i}.log")
                           for i in range(n_workers)]
                worker_ready = [round(w.ready_log("worker ready"), 2) for w in workers]
                for rows in args.job_rows:
                    data = job_csv(rows)
                    before = load()
                    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=600) as c:
                        t0 = time.perf_counter()
                        r = c.post("/api/v1/jobs", files={"file": ("bench.csv", data, "text/csv")})
                        r.raise_for_status()
                        job_id = r.json()["id"]
                        t_up = time.perf_counter()
                        while (st := c.get(f"/api/v1/jobs/{job_id}").json())["status"] not in ("done", "failed"):
                            time.sleep(0.05)
                        t_done = time.perf_counter()
                        res = c.get(f"/api/v1/jobs/{job_id}/result?format=jsonl")
                        res.raise_for_status()
                        t_res = time.perf_counter()
                    run = {"rows": rows, "workers": n_workers, "status": st["status"],
                           "upload_s": round(t_up - t0, 2), "screening_s": round(t_done - t_up, 2),
                           "upload_to_done_s": round(t_done - t0, 2), "result_jsonl_s": round(t_res - t_done, 2),
                           "rows_per_s": round(rows / (t_done - t0), 1), "load_before": before,
                           "load_after": load(), "worker_ready_s": worker_ready}
                    out["runs"].append(run)
                    say(f"job      {rows:>6,} rows, {n_workers} worker(s): upload {run['upload_s']} s, done after "
                        f"{run['upload_to_done_s']} s ({run['rows_per_s']:,.0f} rows/s), jsonl {run['result_jsonl_s']} s")
                out.setdefault("peak_mb", {})[f"{n_workers} workers"] = {
                    "api": peak_mb(api.p.pid), "workers": [peak_mb(w.p.pid) for w in workers]}
            finally:
                for w in workers:
                    w.stop()
                api.stop()
    finally:
        drop()
    return out


def cold_part(args, tmp: Path) -> dict:
    """Process start to /readyz 200 of `decision-screen serve` (1 web worker and the job worker it
    starts, as `make run`), repeated: the first start on a new data folder (schema created, key
    made) and a restart on the same folder (what a restarted or added server does)."""
    # As `make run` does first: the service's bytecode, so that no start compiles its modules
    # where the environment sets PYTHONDONTWRITEBYTECODE.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "api", "model", "decision_screen", "training"],
                   cwd=ROOT, check=True)
    first, again = [], []
    for i in range(args.cold_runs):
        var = tmp / f"cold-{i}"
        var.mkdir()
        for times in (first, again):
            port = free_port()
            p = Proc([sys.executable, "-m", "decision_screen", "serve", "--host", "127.0.0.1", "--port", str(port),
                      "--log-level", "warning"], service_env(var, None), var / "server.log")
            try:
                times.append(round(p.ready_http(f"http://127.0.0.1:{port}"), 2))
            finally:
                p.stop()
    out = {"restart_to_ready_s": again, "best_s": min(again), "median_s": sorted(again)[len(again) // 2],
           "first_start_to_ready_s": first, "first_start_median_s": sorted(first)[len(first) // 2], "load": load()}
    say(f"cold     serve → /readyz: restart {again} s, first start on a new data folder {first} s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=15, help="duration of each HTTP concurrency level")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes, floor and service alike")
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--http-targets", nargs="+", default=["floor", "service_path", "service"],
                    choices=["floor", "service_path", "service"],
                    help="service_path: the service with a screener that answers at once (bench/stub_service.py)")
    ap.add_argument("--file-rows", type=int, nargs="+", default=[10_000, 1_000_000])
    ap.add_argument("--file-workers", type=int, default=None, help="file mode --workers (default: its own)")
    ap.add_argument("--skip-million", action="store_true", help="leave out the 1,000,000-row file")
    ap.add_argument("--job-rows", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--job-workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--jobs-on-sqlite", action="store_true", help="jobs on SQLite even when PostgreSQL answers")
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--parts", nargs="+", default=["http", "cold", "file", "jobs"],
                    choices=["http", "cold", "file", "jobs"])
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    report: dict = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), "load_start": load(),
                    "note": "load averages are recorded per part; the machine may be shared"}
    with tempfile.TemporaryDirectory(prefix="ds-bench-all-") as tmp_s:
        tmp = Path(tmp_s)
        if "http" in args.parts:
            report["http"] = http_part(args, tmp)
        if "cold" in args.parts:
            report["cold_start"] = cold_part(args, tmp)
        if "file" in args.parts:
            report["file_mode"] = file_part(args, tmp)
        if "jobs" in args.parts:
            report["jobs"] = job_part(args, tmp)
    report["load_end"] = load()
    report["targets"] = check_targets(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    say(f"targets: {json.dumps(report['targets'], ensure_ascii=False)}")
    say(f"→ {args.output}")


def check_targets(r: dict) -> dict:
    t: dict = {}
    lv = (r.get("http") or {}).get("levels", {}).get("100")
    if lv:
        t["service_rps_at_100_>=70%_of_floor"] = lv["rps_ratio"] >= TARGETS["ratio_rps_100"]
        t["service_p99_at_100_<=1.5x_floor"] = lv["p99_ratio"] is not None and lv["p99_ratio"] <= TARGETS["ratio_p99_100"]
        t["service_no_errors"] = all(x["errors"] == 0 for x in r["http"]["service"]["levels"])
    for f in r.get("file_mode", []):
        if f["rows"] == 10_000:
            t["file_10000_under_4s"] = f["seconds"] < TARGETS["file_10000_s"] and f["rc"] == 0
    for j in (r.get("jobs") or {}).get("runs", []):
        if j["rows"] in (10_000, 50_000):
            limit = TARGETS["job_10000_s"] if j["rows"] == 10_000 else TARGETS["job_50000_s"]
            t[f"job_{j['rows']}_{j['workers']}w_under_{limit:g}s"] = j["upload_to_done_s"] < limit
    if "cold_start" in r:
        t["cold_start_under_1.5s"] = r["cold_start"]["median_s"] < TARGETS["cold_start_s"]
    peaks = []
    for part in ("floor", "service_path", "service"):
        peaks += list(((r.get("http") or {}).get(part) or {}).get("peak_mb", {}).values())
    for v in ((r.get("jobs") or {}).get("peak_mb") or {}).values():
        peaks += list(v["api"].values()) + [m for w in v["workers"] for m in w.values()]
    peaks += [f["peak_mb_largest_process"] for f in r.get("file_mode", [])]
    if peaks:
        t["every_process_under_300MB"] = max(peaks) < TARGETS["process_mb"]
        t["largest_process_mb"] = max(peaks)
    return t


if __name__ == "__main__":
    main()

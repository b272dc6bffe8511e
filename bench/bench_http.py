"""HTTP benchmark of the service, on loopback, with a real load generator.

Starts `decision-screen serve` on a free port (its own SQLite file in a temporary folder,
or DATABASE_URL if set), then measures:

  * POST /api/v1/screen at 1, 10 and 100 concurrent clients: p50, p99, requests/s, errors;
  * a 10,000-row spreadsheet job end to end: upload, screening, result download.

The load generator is wrk (Debian package `wrk`) when installed, else an asyncio + httpx
client in a separate process. Every request screens a different title (a counter is added),
so nothing is served from a cache. Numbers are printed and saved to bench/results/http.json.

    .venv/bin/python bench/bench_http.py                 # 60 s per concurrency level
    .venv/bin/python bench/bench_http.py --seconds 10    # shorter
Targets (2 cores): p99 < 50 ms at 100 concurrent with no errors; 10,000 rows < 60 s.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from api.process import stop, wait_until_ready  # noqa: E402  (after the path, when run as a script)
RESULTS = ROOT / "bench" / "results" / "http.json"
TITLES = [
    "关于调整城区居民生活用水价格的实施方案", "全市国土空间总体规划(2021-2035年)", "关于召开全市安全生产工作会议的通知",
    "启动防汛IV级应急响应的通知", "县城乡供水专项规划(2025-2035年)", "市区中小学校布局调整方案",
    "关于印发市政府工作规则的通知", "城市生活垃圾处理收费标准调整方案", "老旧小区改造三年行动计划(2026-2028年)",
    "关于任免市政府部门负责人的通知", "市级储备粮轮换计划", "全市集体土地征收补偿标准",
]
P99_TARGET_MS = 50.0
JOB_TARGET_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, workers: int, var_dir: Path):
        self.port = free_port()
        self.var_dir = var_dir
        self.workers = workers
        self.log = var_dir / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:

        env = self.env = {**os.environ, "DECISION_SCREEN_VAR": str(self.var_dir)}
        with self.log.open("wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "decision_screen", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(self.proc, self.base, self.log, timeout=120, poll=0.2)
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from None
        key_file = self.var_dir / "local_api_key.txt"
        if key_file.exists():
            self.key = key_file.read_text().strip()
        else:  # a DATABASE_URL that already had keys: make one for the run
            out = subprocess.run([sys.executable, "-m", "decision_screen", "keys", "create", "--name", "bench",
                                  "--scope", "admin"], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True)
            self.key = out.stdout.strip().splitlines()[-1]
        return self

    def __exit__(self, *exc) -> None:
        stop(self.proc, grace=30)


# -- load generators -----------------------------------------------------------------------------

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "%(key)s"
local titles = {%(titles)s}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"title": "' .. titles[(n %% #titles) + 1] .. '(' .. n .. ')"}')
end
done = function(summary, latency, requests)
  io.write(string.format('WRKJSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, '
    .. '"p99_us": %%d, "max_us": %%d, "mean_us": %%f, "errors": {"connect": %%d, "read": %%d, "write": %%d, '
    .. '"status": %%d, "timeout": %%d}}\\n', summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, latency.mean, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
end
"""


def run_wrk(base: str, key: str, concurrency: int, seconds: int, tmp: Path) -> dict:
    script = tmp / "screen.lua"
    titles = ", ".join(json.dumps(t, ensure_ascii=False) for t in TITLES)
    script.write_text(WRK_SCRIPT % {"key": key, "titles": titles}, encoding="utf-8")
    threads = min(2, concurrency)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", str(script), f"{base}/api/v1/screen"], capture_output=True, text=True, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line[len("WRKJSON "):])
    errors = sum(raw["errors"].values())
    return {"concurrency": concurrency, "seconds": seconds, "requests": raw["requests"],
            "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
            "p50_ms": round(raw["p50_us"] / 1000, 2), "p90_ms": round(raw["p90_us"] / 1000, 2),
            "p99_ms": round(raw["p99_us"] / 1000, 2), "max_ms": round(raw["max_us"] / 1000, 2),
            "errors": errors, "error_detail": raw["errors"]}


async def _python_load(base: str, key: str, concurrency: int, seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, limits=limits, timeout=10) as client:
        async def worker():
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                body = {"title": f"{TITLES[counter % len(TITLES)]}({counter})"}
                t0 = time.perf_counter()
                try:
                    r = await client.post("/api/v1/screen", json=body)
                    if r.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 2)

    return {"concurrency": concurrency, "seconds": seconds, "requests": len(latencies),
            "rps": round(len(latencies) / elapsed, 1), "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99),
            "max_ms": round(latencies[-1] * 1000, 2), "errors": errors}


def run_python(base: str, key: str, concurrency: int, seconds: int) -> dict:
    # A process of its own, so the generator does not share the benchmark's interpreter.
    out = subprocess.run([sys.executable, __file__, "--_loadgen", base, key, str(concurrency), str(seconds)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the 10,000-row job ------------------------------------------------------------------------------

def job_csv(rows: int) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["序号", "决策事项名称", "承办单位", "计划决策日期"])
    for i in range(1, rows + 1):
        w.writerow([i, f"{TITLES[i % len(TITLES)]}(第{i}项)", "市政府办公室", "2026-12-18" if i % 3 == 0 else ""])
    return buf.getvalue().encode("utf-8-sig")


def run_job(base: str, key: str, rows: int) -> dict:
    import httpx

    data = job_csv(rows)
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=300) as c:
        t0 = time.perf_counter()
        r = c.post("/api/v1/jobs", files={"file": ("bench.csv", data, "text/csv")})
        r.raise_for_status()
        job_id = r.json()["id"]
        t_upload = time.perf_counter()
        while (status := c.get(f"/api/v1/jobs/{job_id}").json())["status"] not in ("done", "failed"):
            time.sleep(0.2)
        t_done = time.perf_counter()
        result = c.get(f"/api/v1/jobs/{job_id}/result")
        result.raise_for_status()
        t_result = time.perf_counter()
    return {"rows": rows, "status": status["status"], "counts": status["counts"],
            "upload_s": round(t_upload - t0, 2), "screening_s": round(t_done - t_upload, 2),
            "result_download_s": round(t_result - t_done, 2), "total_s": round(t_result - t0, 2),
            "rows_per_s": round(rows / (t_done - t0), 1), "result_bytes": len(result.content)}


def machine() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "platform": platform.platform()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=60, help="duration of each concurrency level")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--job-rows", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--output", type=Path, default=RESULTS)
    ap.add_argument("--_loadgen", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._loadgen:
        base, key, conc, secs = args._loadgen
        print(json.dumps(asyncio.run(_python_load(base, key, int(conc), float(secs)))))
        return
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    if client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk), use --client python")
    with tempfile.TemporaryDirectory(prefix="ds-bench-") as tmp, Server(args.workers, Path(tmp)) as srv:
        import httpx

        info = httpx.get(f"{srv.base}/api/v1/model", headers={"X-API-Key": srv.key}).json()
        # Warm every worker process (the first call of each loads dictionaries lazily).
        for i in range(20 * args.workers):
            httpx.post(f"{srv.base}/api/v1/screen", json={"title": TITLES[i % len(TITLES)]},
                       headers={"X-API-Key": srv.key}, timeout=30)
        report = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), "client": client,
                  "server": {"workers": args.workers, "database": os.environ.get("DATABASE_URL") and "postgresql"
                             or "sqlite", "model_version": info["model_version"],
                             "rules_version": info["rules_version"]},
                  "screen": [], "job": None, "targets": {}}
        for conc in args.concurrency:
            res = (run_wrk(srv.base, srv.key, conc, args.seconds, Path(tmp)) if client == "wrk"
                   else run_python(srv.base, srv.key, conc, args.seconds))
            report["screen"].append(res)
            print(f"/screen  c={conc:<4} {res['rps']:>8.1f} req/s   p50 {res['p50_ms']:>7.2f} ms   "
                  f"p99 {res['p99_ms']:>8.2f} ms   errors {res['errors']}", flush=True)
        if args.job_rows:
            job = run_job(srv.base, srv.key, args.job_rows)
            report["job"] = job
            print(f"job      {job['rows']} rows: upload {job['upload_s']} s, screening {job['screening_s']} s, "
                  f"result {job['result_download_s']} s, total {job['total_s']} s ({job['rows_per_s']} rows/s)")
    c100 = next((r for r in report["screen"] if r["concurrency"] == 100), None)
    if c100:
        report["targets"]["p99_at_100_under_50ms"] = c100["p99_ms"] < P99_TARGET_MS and c100["errors"] == 0
    if report["job"] and report["job"]["rows"] >= 10_000:
        report["targets"]["job_10000_rows_under_60s"] = report["job"]["total_s"] < JOB_TARGET_S
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"targets: {report['targets']}  → {args.output}")


if __name__ == "__main__":
    main()

"""Throughput and latency of the screening engine on one core.

Generates a 10,000-row file of varied matters, screens it through the CLI's file path
(rules only, then with the shipped model if there is one), and times single matters for
p50/p99. With the TF-IDF model it runs three ways in the same process: the compiled path with
precedents (what the API answers), without precedents (what spreadsheet output needs), and
the scikit-learn estimators the compiled path replaced (the "before" of the same run).
Prints the numbers and writes them to bench/results/engine.json.

    .venv/bin/python bench/bench_rules.py [--rows 10000]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.learned import load_default  # noqa: E402
from model.screener import Screener  # noqa: E402

PLACES = ["城东", "城西", "高新区", "临江镇", "河口乡", "北城街道", "新区", "老城区", "开发区", "滨湖片区"]
TEMPLATES = [
    "{p}居民生活用水价格调整方案", "{p}国土空间详细规划(2025-2035年)", "关于召开{p}安全生产工作会议的通知",
    "{p}污水处理厂扩建工程, 总投资{n}亿元", "关于任免{p}某某等同志职务的通知", "{p}中小学布局调整方案",
    "{p}老旧小区改造三年行动计划", "{p}突发公共事件总体应急预案", "关于启动{p}防汛IV级应急响应的通知",
    "{p}村组道路硬化工程, 投资{m}万元", "{p}征地区片综合地价调整", "关于支持{p}中小企业发展的若干措施",
    "{p}机关公务用车管理办法", "关于表彰{p}优秀志愿者的决定", "{p}养老服务体系建设实施方案, 惠及{k}万人",
    "{p}违法建设专项整治行动方案", "{p}历史文化街区保护利用规划", "{p}2026年度民生实事项目",
]


def make_rows(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        t = rnd.choice(TEMPLATES).format(p=rnd.choice(PLACES), n=round(rnd.uniform(0.1, 9), 1),
                                          m=rnd.randint(20, 900), k=rnd.randint(1, 40))
        rows.append({"id": str(i + 1), "title": t, "profile": rnd.choice(["national", "zhejiang", "hunan_town"])})
    return rows


class SklearnPath:
    """The TF-IDF model answering through its pickled scikit-learn estimators."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)

    def predict(self, texts, k_similar=3, meta=None):
        if meta is not None:
            return self._model.predict_sklearn(texts, k_similar=k_similar, meta=meta)
        return self._model.predict_sklearn(texts, k_similar=k_similar)


def run(screener: Screener, rows: list[dict]) -> dict:
    """Wall and CPU time of the batch path, then of 1,000 single matters (p50/p99). CPU time is
    reported beside the wall clock: on a shared, busy machine it says more about the work."""
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    for _, _a in screener.iter_screen(rows):
        n += 1
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    single, single_cpu = [], []
    for r in rows[:1000]:
        t, c = time.perf_counter(), time.process_time()
        screener.screen(r)
        single.append((time.perf_counter() - t) * 1000)
        single_cpu.append((time.process_time() - c) * 1000)
    single.sort()
    single_cpu.sort()

    def p99(xs):
        return round(xs[int(len(xs) * 0.99) - 1], 3)

    return {"rows": n, "seconds": round(total, 3), "rows_per_second": round(n / total, 1),
            "cpu_seconds": round(cpu, 3), "rows_per_cpu_second": round(n / cpu, 1),
            "single_p50_ms": round(statistics.median(single), 3), "single_p99_ms": p99(single),
            "single_cpu_p50_ms": round(statistics.median(single_cpu), 3), "single_cpu_p99_ms": p99(single_cpu)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "engine.json"))
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # pin to one core
    except (AttributeError, OSError):
        pass
    rows = make_rows(args.rows)
    t0 = time.perf_counter()
    model = load_default()
    load_s = time.perf_counter() - t0
    results = {"machine": platform.platform(), "python": platform.python_version(), "cores_used": 1,
               "load_before": os.getloadavg()[0],
               "rules_only": run(Screener(model=None), rows)}
    if model is not None:
        results["with_model"] = run(Screener(model=model), rows)
        if hasattr(model, "predict_sklearn"):
            results["with_model_no_precedents"] = run(Screener(model=model, k_similar=0), rows)
            results["with_model_sklearn_path"] = run(Screener(model=SklearnPath(model)), rows)
        results["model_version"] = model.version
        results["model_load_seconds"] = round(load_s, 3)
    results["load_after"] = os.getloadavg()[0]
    try:
        import resource

        results["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    except ImportError:
        pass
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()

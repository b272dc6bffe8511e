"""Golden check for engine work: screen a fixed set of matters and compare the answers, byte for
byte, with a file written before the change.

The set: every corpus record (title, description, level, unit and profile as training screens
them) and 2,000 varied rows with planned dates (dates, periods, 待定), supplied figures and
every profile, so that procedures, deadlines and route steps are exercised too.

    .venv/bin/python bench/golden_answers.py --write /tmp/golden.jsonl   # before the change
    .venv/bin/python bench/golden_answers.py --check /tmp/golden.jsonl   # after it

Exit code 1 and the first differing answers when they differ. Not a test: it takes tens of
seconds and needs the shipped model.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.rulebook import default_rulebooks
from model.screener import Screener
from training.corpus import load_corpus

DATES = ["2026-03-16", "2026-10-08", "2027-01-29", "2027-04-15", "2027/6/30", "2028年2月1日",
         "2027年第二季度", "下半年", "2029年", "待定", "2026-05-01", "2030-12-31", "不知道哪天"]
LEVELS = [None, None, "province", "city", "county", "town", "department"]
UNITS = [None, "某市人民政府", "某县发展和改革局", "某镇人民政府", "某区住房和城乡建设委员会", "某街道办事处"]


def matters() -> list[dict]:
    profiles = default_rulebooks().names()
    records, _ = load_corpus(strict=False)
    out = [{"id": r.id, "title": r.title, "description": r.description, "unit": r.unit, "level": r.level,
            "profile": r.profile if r.profile in profiles else "national"} for r in records]
    rnd = random.Random(13)
    for i in range(2000):
        r = rnd.choice(records)
        row = {"id": f"dated-{i}", "title": r.title, "profile": rnd.choice(profiles),
               "level": rnd.choice(LEVELS), "unit": rnd.choice(UNITS), "planned_date": rnd.choice(DATES)}
        if rnd.random() < 0.5:
            row["description"] = r.description
        if rnd.random() < 0.2:
            row["amount_wan"] = rnd.choice([5, 80, 300, 1200, 50000])
        if rnd.random() < 0.1:
            row["people"] = rnd.choice([100, 5000, 200000])
        out.append(row)
    return out


def answers(screener: Screener, rows: list[dict]) -> list[str]:
    lines = []
    for n, a in screener.iter_screen(rows, batch=64):
        lines.append(a.model_dump_json() if hasattr(a, "model_dump_json") else f"error row {n}: {a}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser()
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path)
    group.add_argument("--check", type=Path)
    args = ap.parse_args()
    rows = matters()
    screener = Screener(model="default")
    c0 = time.process_time()
    lines = answers(screener, rows)
    cpu = time.process_time() - c0
    text = "\n".join(lines) + "\n"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    print(f"{len(lines)} answers, sha256 {digest}, {cpu:.2f} s CPU")
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        return 0
    old = args.check.read_text(encoding="utf-8").splitlines()
    diff = [i for i, (a, b) in enumerate(zip(old, lines)) if a != b]
    if len(old) != len(lines):
        print(f"DIFFERENT: {len(old)} answers before, {len(lines)} now")
        return 1
    if diff:
        print(f"DIFFERENT: {len(diff)} answers differ, first rows {diff[:10]}")
        for i in diff[:3]:
            print("before:", old[i][:2000])
            print("now:   ", lines[i][:2000])
        return 1
    print("identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())

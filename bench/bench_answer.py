"""CPU of the rule side alone: `Screener._answer` (rules, combine, procedures, reasons and the
`Answer`) with everything before it — parsing, normalising, extracting, the model — done
beforehand, on the bench titles of bench_rules.py and on the golden set of golden_answers.py
(corpus texts with their descriptions, a third of them dated). Best of 5, microseconds a matter.

    .venv/bin/python bench/bench_answer.py
"""
from __future__ import annotations

import inspect
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rules import make_rows
from golden_answers import matters

from model.contract import parse_matter
from model.errors import ScreenInputError
from model.extract import extract
from model.normalise import normalise
from model.screener import Screener, level_from_unit


def prepared(s: Screener, rows: list[dict]) -> list[tuple]:
    """The arguments of _answer for each row, as screen_many makes them (batches of 64)."""
    ms = []
    for r in rows:
        try:
            ms.append(parse_matter(r))
        except ScreenInputError:
            pass
    out = []
    for i in range(0, len(ms), 64):
        batch = ms[i:i + 64]
        texts = [normalise(m.title + ("。" + m.description if m.description else "")) for m in batch]
        preds = s.model.predict(texts, k_similar=s.k_similar) if s.model is not None else [None] * len(batch)
        for m, text, pred in zip(batch, texts, preds):
            prof = s._profile(m.profile, None)
            given = m.level or level_from_unit(m.unit)
            out.append((m, text, prof, given or prof.settings.default_level, extract(text), pred, given is not None))
    return out


def main() -> None:
    s = Screener(model="default")
    # The code before the rule-engine work took six arguments and no batch's schedules.
    new = "level_known" in inspect.signature(s._answer).parameters
    for name, rows in (("bench titles", make_rows(3000)), ("golden set", matters())):
        args = prepared(s, rows)

        def run(args=args) -> float:
            c = time.process_time()
            for i, a in enumerate(args):
                if not new:
                    s._answer(*a[:6])
                    continue
                if i % 64 == 0:
                    schedules: dict = {}
                s._answer(*a, schedules=schedules)
            return time.process_time() - c

        run()  # warms the caches
        best = min(run() for _ in range(5))
        print(f"{name}: Screener._answer {best / len(args) * 1e6:.1f} us a matter (CPU, best of 5)")


if __name__ == "__main__":
    main()

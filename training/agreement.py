"""Inter-annotator agreement on the double-labelled sample (corpora/agreement/).

Two rounds live here. The first (150 items, `second_labels.jsonl`) is read by `agreement()` /
`write_report()`. The 2026-12 round samples the proposal-style files with `draw_sample()`, writes
them without labels for the second labeller, and `compare_round()` scores the second labels
against the first: agreement and Cohen's kappa overall, per file and per hard type.

Run: `python -m training.agreement sample` (writes the blind file), then, after the second labels
exist, `python -m training.agreement compare`."""
from __future__ import annotations

import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from model.rulebook import ATTRIBUTES

from .corpus import CORPUS_DIR, ROOT, load_corpus

AGREEMENT_DIR = ROOT / "corpora" / "agreement"

# The 2026-12 round: the proposal-style files added for issue 10.
ROUND = "2026-12"
ROUND_FILES = ("proposals_town", "proposals_dept", "proposals_dept2", "derived_proposals")
ROUND_SEED = 202612
ROUND_SIZE = 200
ROUND_MIN_PER_FILE = 20   # the smallest file still gets enough items to say something about it
BLIND_FIELDS = ("id", "title", "description", "issuer", "level", "unit", "profile")


def agreement(directory: Path = AGREEMENT_DIR) -> dict:
    records, _ = load_corpus(strict=False)
    first = {r.id: r for r in records}
    second = [json.loads(line) for line in (directory / "second_labels.jsonl").read_text(encoding="utf-8").splitlines()
              if line.strip()]
    pairs = [(first[s["id"]], s) for s in second if s["id"] in first]
    out: dict = {"items": len(pairs)}
    a = [f.label for f, _ in pairs]
    b = [s["label"] for _, s in pairs]
    out["label"] = {"agreement": round(sum(x == y for x, y in zip(a, b)) / len(pairs), 4),
                    "kappa": round(float(cohen_kappa_score(a, b)), 4)}
    both_not = [(f.exclusion, s["exclusion"]) for f, s in pairs if f.label == s["label"] == "not_major"]
    if both_not:
        out["exclusion_type_when_both_not_major"] = {
            "items": len(both_not), "agreement": round(sum(x == y for x, y in both_not) / len(both_not), 4)}
    out["attributes"] = {}
    for attr in ATTRIBUTES:
        x = [bool(getattr(f.attributes, attr)) for f, _ in pairs]
        y = [bool(s["attributes"][attr]) for _, s in pairs]
        kappa = cohen_kappa_score(x, y) if len(set(x) | set(y)) > 1 else 1.0
        out["attributes"][attr] = {"agreement": round(sum(p == q for p, q in zip(x, y)) / len(pairs), 4),
                                   "kappa": round(float(kappa), 4), "first_true": sum(x), "second_true": sum(y)}
    out["disagreements"] = [{"id": f.id, "title": f.title, "first": f.label, "second": s["label"],
                             "second_note": s.get("note")} for f, s in pairs if f.label != s["label"]]
    by_type: dict = {}
    for f, s in pairs:
        key = f.hard_type or ("hard" if f.hard_case else "not hard")
        agree, n = by_type.get(key, (0, 0))
        by_type[key] = (agree + (f.label == s["label"]), n + 1)
    out["label_agreement_by_hard_type"] = {k: {"n": n, "agreement": round(c / n, 4)} for k, (c, n) in sorted(by_type.items())}
    return out


def write_report(directory: Path = AGREEMENT_DIR) -> dict:
    res = agreement(directory)
    (directory / "agreement.json").write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    lines = [
        "# Double-labelling agreement\n",
        f"A random sample of {res['items']} corpus items (seed 150) was labelled a second time, blind to the first "
        "labels, by an independent labeller following GUIDELINES.md (`second_labels.jsonl`).\n",
        f"- major / not major: agreement {res['label']['agreement']:.3f}, Cohen's kappa {res['label']['kappa']:.3f}",
    ]
    if "exclusion_type_when_both_not_major" in res:
        e = res["exclusion_type_when_both_not_major"]
        lines.append(f"- exclusion type, where both said not major ({e['items']} items): agreement {e['agreement']:.3f}")
    lines.append("\n| attribute | agreement | kappa | first true | second true |\n| --- | --- | --- | --- | --- |")
    for k, v in res["attributes"].items():
        lines.append(f"| {k} | {v['agreement']:.3f} | {v['kappa']:.3f} | {v['first_true']} | {v['second_true']} |")
    lines.append("\n| hard type | n | label agreement |\n| --- | --- | --- |")
    for k, v in res["label_agreement_by_hard_type"].items():
        lines.append(f"| {k} | {v['n']} | {v['agreement']:.3f} |")
    lines.append(f"\n{len(res['disagreements'])} label disagreements are listed in agreement.json.")
    (directory / "REPORT.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return res


# ---------------------------------------------------------------- 2026-12 round

def _allocate(sizes: dict[str, int], n: int, minimum: int) -> dict[str, int]:
    """Split n over the groups: every group gets `minimum` (or all it has), the rest in proportion
    to size, rounded by largest remainder so the parts add up to n exactly."""
    base = {k: min(minimum, v) for k, v in sizes.items()}
    rest = n - sum(base.values())
    room = {k: sizes[k] - base[k] for k in sizes}
    total = sum(room.values())
    if rest <= 0 or total == 0:
        return base
    exact = {k: rest * room[k] / total for k in sizes}
    out = {k: base[k] + int(exact[k]) for k in sizes}
    short = n - sum(out.values())
    for k in sorted(sizes, key=lambda k: (-(exact[k] - int(exact[k])), k))[:short]:
        out[k] += 1
    return out


def draw_sample(records, files=ROUND_FILES, n: int = ROUND_SIZE, seed: int = ROUND_SEED,
                minimum: int = ROUND_MIN_PER_FILE) -> list:
    """A sample stratified by file and, inside each file, by label; the same seed gives the same
    sample. The result is shuffled so that its order says nothing about the labels."""
    rng = random.Random(seed)
    by_file: dict[str, list] = defaultdict(list)
    for r in records:
        stem = r.id.rsplit("-", 1)[0]
        if stem in files:
            by_file[stem].append(r)
    per_file = _allocate({f: len(v) for f, v in by_file.items()}, n, minimum)
    chosen = []
    for f in sorted(by_file):
        strata: dict[str, list] = defaultdict(list)
        for r in sorted(by_file[f], key=lambda r: r.id):
            strata[r.label].append(r)
        per_label = _allocate({k: len(v) for k, v in strata.items()}, per_file[f], 0)
        for label in sorted(strata):
            chosen += rng.sample(strata[label], per_label[label])
    rng.shuffle(chosen)
    return chosen


def blind_rows(sample) -> list[dict]:
    """What the second labeller sees: the fields a proposer would send in, nothing of the label."""
    return [{k: getattr(r, k) for k in BLIND_FIELDS} for r in sample]


def write_blind(directory: Path = AGREEMENT_DIR, records=None) -> Path:
    if records is None:
        records, _ = load_corpus(CORPUS_DIR, strict=False)
    path = directory / f"sample_blind_{ROUND}.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in blind_rows(draw_sample(records))),
                    encoding="utf-8")
    return path


def _kappa(a: list, b: list) -> float | None:
    if len(set(a) | set(b)) < 2:
        return None
    return round(float(cohen_kappa_score(a, b)), 4)


def _score(pairs) -> dict:
    a = [f.label for f, _ in pairs]
    b = [s["label"] for _, s in pairs]
    agree = sum(x == y for x, y in zip(a, b))
    return {"n": len(pairs), "agreement": round(agree / len(pairs), 4) if pairs else None, "kappa": _kappa(a, b)}


def compare_round(directory: Path = AGREEMENT_DIR, records=None) -> dict:
    """Second labels of the 2026-12 round against the first labels."""
    if records is None:
        records, _ = load_corpus(CORPUS_DIR, strict=False)
    first = {r.id: r for r in records}
    sample_ids = [json.loads(line)["id"] for line in
                  (directory / f"sample_blind_{ROUND}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    second = {s["id"]: s for s in (json.loads(line) for line in
              (directory / f"second_labels_{ROUND}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip())}
    missing = [i for i in sample_ids if i not in second or i not in first]
    pairs = [(first[i], second[i]) for i in sample_ids if i in second and i in first]
    out: dict = {"round": ROUND, "seed": ROUND_SEED, "items": len(pairs), "missing": missing}
    out["label"] = _score(pairs)
    # The 2026-12 second labeller also wrote the first labels of proposals_dept2: report without it too.
    out["label_without_own_file"] = _score([(f, s) for f, s in pairs if not f.id.startswith("proposals_dept2-")])
    out["confusion"] = dict(Counter(f"{f.label}->{s['label']}" for f, s in pairs))
    groups = {"by_file": lambda f: f.id.rsplit("-", 1)[0],
              "by_hard_type": lambda f: f.hard_type or ("hard" if f.hard_case else "not hard"),
              "by_level": lambda f: f.level,
              "by_first_label": lambda f: f.label}
    for name, key in groups.items():
        buckets: dict[str, list] = defaultdict(list)
        for f, s in pairs:
            buckets[key(f)].append((f, s))
        out[name] = {k: _score(v) for k, v in sorted(buckets.items())}
    both_not = [(f.exclusion, s.get("exclusion")) for f, s in pairs if f.label == s["label"] == "not_major"]
    out["exclusion_when_both_not_major"] = {
        "n": len(both_not), "agreement": round(sum(x == y for x, y in both_not) / len(both_not), 4) if both_not else None,
        "pairs": dict(Counter(f"{x}|{y}" for x, y in both_not if x != y))}
    out["disagreements"] = [
        {"id": f.id, "title": f.title, "issuer": f.issuer, "level": f.level, "first": f.label,
         "first_exclusion": f.exclusion, "first_hard_type": f.hard_type, "first_reason": f.reason,
         "second": s["label"], "second_exclusion": s.get("exclusion"), "class": s.get("class"),
         "second_note": s.get("note")}
        for f, s in pairs if f.label != s["label"]]
    return out


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "sample":
        path = write_blind()
        print(f"wrote {path}")
        return 0
    if cmd == "compare":
        res = compare_round()
        (AGREEMENT_DIR / f"agreement_{ROUND}.json").write_text(json.dumps(res, ensure_ascii=False, indent=1),
                                                               encoding="utf-8")
        print(json.dumps({k: res[k] for k in ("items", "label", "confusion")}, ensure_ascii=False))
        return 0
    print("usage: python -m training.agreement sample|compare", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

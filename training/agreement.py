"""Inter-annotator agreement on the double-labelled sample (corpora/agreement/)."""
from __future__ import annotations

import json
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from model.rulebook import ATTRIBUTES

from .corpus import ROOT, load_corpus

AGREEMENT_DIR = ROOT / "corpora" / "agreement"


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

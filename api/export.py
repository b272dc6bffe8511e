"""The draft catalogue (.xlsx) of a finished job, its JSON Lines twin, and the upload template.

The catalogue sheet starts with the usual columns of a 重大行政决策事项目录 (序号, 决策事项名称,
承办单位, 决策类别, 分级, 是否纳入, 需履行程序, 依据, 置信度, 理由) so a compiler can paste it
into the official form; our own columns follow. A summary sheet counts verdicts, categories,
tiers and procedures, with a chart. Cells that a spreadsheet would run as formulas (= + - @)
are escaped with a leading apostrophe by model.vocab.safe_cell, as in the CLI."""
from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill

from model.fileio import flatten
from model.vocab import CATEGORY_ZH, PROCEDURE_NAMES, duplicate_key, safe_cell

CATALOGUE_COLUMNS = ["序号", "决策事项名称", "承办单位", "决策类别", "分级", "是否纳入", "需履行程序", "依据",
                     "置信度", "理由"]
EXTRA_COLUMNS = ["概率", "排除类型", "程序依据", "重复", "错误", "记录编号", "行号"]
WIDTHS = {"序号": 8, "决策事项名称": 48, "承办单位": 22, "决策类别": 18, "分级": 10, "是否纳入": 12,
          "需履行程序": 40, "依据": 40, "置信度": 8, "理由": 60, "程序依据": 40, "重复": 14, "错误": 30,
          "记录编号": 34}


def _header_style(ws, columns: list[str]):
    from openpyxl.cell import WriteOnlyCell

    cells = []
    for c in columns:
        cell = WriteOnlyCell(ws, value=c)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        cells.append(cell)
    return cells


def catalogue_row(rec: dict, first_seen: dict[str, int]) -> list:
    """One record (screening with its input) as a catalogue row."""
    inp = rec.get("input") or {}
    row_no = rec.get("row_no")
    key = duplicate_key(inp.get("title"))
    dup = ""
    if key:
        if key in first_seen:
            dup = f"与第{first_seen[key]}行重复"
        else:
            first_seen[key] = row_no
    seq = inp.get("id") if inp.get("id") not in (None, "") else row_no
    if rec.get("answer"):
        flat = flatten(rec["answer"], inp)
        values = {**flat, "序号": seq, "概率": flat.get("probability"), "排除类型": flat.get("exclusion") or "",
                  "错误": ""}
    else:
        err = rec.get("error") or {}
        values = {"序号": seq, "决策事项名称": inp.get("title"), "承办单位": inp.get("unit"), "是否纳入": "错误",
                  "理由": err.get("message_zh", ""),
                  "错误": f"{err.get('message_zh', '')} / {err.get('message_en', '')} [{err.get('field') or ''}]"}
    values.update({"重复": dup, "记录编号": rec.get("id"), "行号": row_no})
    return [safe_cell(values.get(c, "")) for c in CATALOGUE_COLUMNS + EXTRA_COLUMNS]


def build_result_xlsx(job: dict, records: Iterable[dict]) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("目录草稿")
    columns = CATALOGUE_COLUMNS + EXTRA_COLUMNS
    for i, c in enumerate(columns):
        ws.column_dimensions[_col(i)].width = WIDTHS.get(c, 12)
    ws.freeze_panes = "C2"
    ws.append(_header_style(ws, columns))
    first_seen: dict[str, int] = {}
    verdicts: Counter = Counter()
    categories: Counter = Counter()
    tiers: Counter = Counter()
    procs: Counter = Counter()
    dups = 0
    for rec in records:
        row = catalogue_row(rec, first_seen)
        dups += bool(row[columns.index("重复")])
        ws.append(row)
        a = rec.get("answer")
        if not a:
            verdicts["error"] += 1
            continue
        verdicts[a["verdict"]] += 1
        if a["verdict"] != "not_major":
            categories[CATEGORY_ZH.get(a.get("category") or "", "未分类")] += 1
            tiers[a.get("tier") or "未分级"] += 1
            for p in a.get("procedures", []):
                if p.get("required"):
                    procs[p["name"]] += 1
    _summary(wb, job, verdicts, categories, tiers, procs, dups)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _col(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def _summary(wb, job: dict, verdicts: Counter, categories: Counter, tiers: Counter, procs: Counter, dups: int):
    ws = wb.create_sheet("汇总")
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 40
    ws.append(_header_style(ws, ["结论 verdict", "数量 count"]))
    verdict_rows = [("纳入 major", verdicts["major"]), ("不纳入 not_major", verdicts["not_major"]),
                    ("待人工研判 review", verdicts["review"]), ("错误 error", verdicts["error"])]
    for label, n in verdict_rows:
        ws.append([label, n])
    ws.append(["合计 total", sum(verdicts.values())])
    ws.append(["重复事项 duplicates", dups])
    ws.append([])
    sections = [("决策类别 category (纳入及待研判)", categories), ("分级 tier (纳入及待研判)", tiers),
                ("需履行程序 required procedures", Counter({p: procs[p] for p in PROCEDURE_NAMES if procs[p]}))]
    for title, counter in sections:
        ws.append(_header_style(ws, [title, "数量 count"]))
        for k, n in sorted(counter.items(), key=lambda kv: -kv[1]) if counter else [("(无)", 0)]:
            ws.append([safe_cell(k), n])
        ws.append([])
    ws.append(_header_style(ws, ["任务 job", ""]))
    for k, v in [("任务编号 job id", job.get("id")), ("文件 file", job.get("filename")),
                 ("标准 profile", job.get("profile") or "(各行自定 / per row, default national)"),
                 ("模型版本 model", job.get("model_version")), ("规则版本 rules", job.get("rules_version")),
                 ("提交时间 created", job.get("created_at")), ("完成时间 finished", job.get("finished_at")),
                 ("说明 note", "本表为机器初筛草稿, 须经人工审核后方可作为目录 / a machine draft: a person decides")]:
        ws.append([k, safe_cell(str(v) if v is not None else "")])
    chart = BarChart()
    chart.type = "col"
    chart.title = "筛查结论 / verdicts"
    chart.y_axis.title = "事项数"
    chart.legend = None
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=1 + len(verdict_rows)), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=1 + len(verdict_rows)))
    chart.width, chart.height = 16, 8
    ws.add_chart(chart, "D2")


def result_jsonl(records: Iterable[dict]) -> Iterable[bytes]:
    for rec in records:
        out = {"row": rec.get("row_no"), "screening_id": rec.get("id"), "input": rec.get("input")}
        if rec.get("answer"):
            out["answer"] = rec["answer"]
        else:
            out["error"] = rec.get("error")
        yield (json.dumps(out, ensure_ascii=False) + "\n").encode("utf-8")


TEMPLATE_COLUMNS = [
    ("序号", "id", "可选: 你的编号, 原样返回", "optional: your own id, echoed back", "1"),
    ("决策事项名称", "title", "必填: 决策事项名称", "required: the matter's title", "关于调整城区居民生活用水价格的实施方案"),
    ("承办单位", "unit", "可选: 承办单位 (可据此推断层级)", "optional: lead unit (its name implies the level)",
     "市发展和改革局"),
    ("事项说明", "description", "可选: 事项的简要说明, 可写金额、人数、面积等", "optional: a short description",
     "拟对城区居民阶梯水价第一档价格作调整, 涉及约12万户居民。"),
    ("层级", "level", "可选: 省/市/县/乡镇/部门 或 province/city/county/town/department",
     "optional: level of the deciding body", "市"),
    ("标准", "profile", "可选: 适用的标准 (GET /api/v1/profiles), 空则用任务的标准",
     "optional: rule profile; blank = the job's", ""),
    ("金额(万元)", "amount_wan", "可选: 金额, 万元", "optional: amount in 10k yuan", ""),
    ("涉及人数", "people", "可选: 涉及人数", "optional: people affected", "120000"),
    ("面积(亩)", "area_mu", "可选: 面积, 亩", "optional: area in mu", ""),
    ("长度(公里)", "length_km", "可选: 长度, 公里", "optional: length in km", ""),
    ("期限(年)", "duration_years", "可选: 期限, 年", "optional: duration in years", ""),
    ("计划决策日期", "planned_date", "可选: YYYY-MM-DD, 用于推算各程序最迟启动日期",
     "optional: YYYY-MM-DD, gives each procedure's latest start date", "2026-12-18"),
]


def template_xlsx() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "决策事项"
    ws.append([c[0] for c in TEMPLATE_COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    ws.append([c[4] if c[4] else None for c in TEMPLATE_COLUMNS])
    ws.append([2, "全市国土空间总体规划(2021-2035年)", "市自然资源和规划局", None, None, None, None, None, None,
               None, None, None])
    for i, c in enumerate(TEMPLATE_COLUMNS):
        ws.column_dimensions[_col(i)].width = max(12, min(48, len(c[4]) * 2 if c[4] else 12))
    ws.freeze_panes = "A2"
    help_ws = wb.create_sheet("填写说明")
    help_ws.append(["列名 heading", "英文列名 also accepted", "说明", "notes"])
    for c in TEMPLATE_COLUMNS:
        help_ws.append([c[0], c[1], c[2], c[3]])
    help_ws.append([])
    help_ws.append(["", "", "每个文件最多 50,000 行, 20 MB; 请勿使用公式 (粘贴为数值)",
                    "at most 50,000 rows and 20 MB per file; no formulas (paste as values)"])
    for col, w in zip("ABCD", (16, 16, 60, 60)):
        help_ws.column_dimensions[col].width = w
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def template_csv() -> bytes:
    import csv

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([c[0] for c in TEMPLATE_COLUMNS])
    w.writerow([c[4] for c in TEMPLATE_COLUMNS])
    # utf-8-sig: Excel on Windows opens it as UTF-8 only with the BOM.
    return buf.getvalue().encode("utf-8-sig")

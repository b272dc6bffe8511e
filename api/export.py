"""The draft catalogue (.xlsx) of a finished job, its JSON Lines twin, and the upload template.

The catalogue sheet starts with the usual columns of a 重大行政决策事项目录 (序号, 决策事项名称,
承办单位, 决策类别, 分级, 是否纳入, 需履行程序, 依据, 置信度, 理由) so a compiler can paste it
into the official form; our own columns follow. A summary sheet counts verdicts, categories,
tiers and procedures, with a chart. Cells that a spreadsheet would run as formulas (= + - @)
are escaped with a leading apostrophe by model.vocab.safe_cell, as in the CLI.

The compiler's decisions (采纳 / 不采纳 / 待定, api/services/decisions.py) and near-duplicates
across units (model/neardup.py) are columns of their own; the sheet has a title row, prints
landscape at the page's width with the headings repeated, has a filter, and shows Beijing time.

openpyxl is imported where a workbook is built, not with the module: a web process that never
writes a spreadsheet does not pay for it at start (issue 13)."""
from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Iterable

from model.dates import SHANGHAI, read_planned
from model.fileio import flatten
from model.neardup import describe
from model.vocab import CATEGORY_ZH, EXCLUSION_ZH, LEVEL_ZH, PROCEDURE_NAMES, duplicate_key, safe_cell

CATALOGUE_COLUMNS = ["序号", "决策事项名称", "承办单位", "决策类别", "分级", "是否纳入", "需履行程序", "依据",
                     "置信度", "理由"]
EXTRA_COLUMNS = ["决策", "决策理由", "决策人", "决策时间", "计划决策日期", "事项说明", "层级", "概率", "排除类型",
                 "程序依据", "重复", "近似重复", "错误", "记录编号", "行号"]
WIDTHS = {"序号": 8, "决策事项名称": 48, "承办单位": 22, "决策类别": 18, "分级": 10, "是否纳入": 12,
          "需履行程序": 40, "依据": 40, "置信度": 8, "理由": 60, "程序依据": 40, "重复": 14, "错误": 30,
          "记录编号": 34, "决策理由": 30, "决策时间": 17, "计划决策日期": 16, "事项说明": 50, "近似重复": 40,
          "排除类型": 20}
DECISION_ZH = {"adopt": "采纳", "reject": "不采纳", "pending": "待定"}
TITLE_ROWS = 1  # the title row above the headings


def beijing(value) -> str:
    """A stored UTC time (datetime or ISO text) as Beijing time."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def planned_text(inp: dict) -> str:
    """计划决策日期 as written for people: the period, the day, 未定, or the unreadable text."""
    if inp.get("planned_period"):
        return inp["planned_period"]
    if inp.get("planned_date"):
        return read_planned(inp["planned_date"]).label
    if inp.get("planned_date_text"):
        return f"{inp['planned_date_text']} (无法识别)"
    return ""


def near_text(matches: list[dict] | None) -> str:
    """近似重复: the other rows, their units, and a planned date that conflicts."""
    return describe(matches)


def _header_style(ws, columns: list[str]):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    cells = []
    for c in columns:
        cell = WriteOnlyCell(ws, value=c)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        cells.append(cell)
    return cells


def catalogue_row(rec: dict, first_seen: dict[str, int], decision: dict | None = None,
                  near: list[dict] | None = None) -> list:
    """One record (screening with its input) as a catalogue row, with the row's decision (a
    row_decisions row) and its near-duplicates when given."""
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
        values = {**flat, "序号": seq, "概率": flat.get("probability"),
                  "排除类型": EXCLUSION_ZH.get(flat.get("exclusion") or "", flat.get("exclusion") or ""),
                  "层级": LEVEL_ZH.get(rec["answer"].get("level") or "", ""), "错误": ""}
    else:
        err = rec.get("error") or {}
        values = {"序号": seq, "决策事项名称": inp.get("title"), "承办单位": inp.get("unit"), "是否纳入": "错误",
                  "理由": err.get("message_zh", ""),
                  "错误": f"{err.get('message_zh', '')} / {err.get('message_en', '')} [{err.get('field') or ''}]"}
    values.update({"重复": dup, "记录编号": rec.get("id"), "行号": row_no, "计划决策日期": planned_text(inp),
                   "事项说明": inp.get("description") or "", "近似重复": near_text(near)})
    if decision:
        values.update({"决策": DECISION_ZH.get(decision["decision"], ""), "决策理由": decision.get("reason") or "",
                       "决策人": decision.get("reviewer") or "", "决策时间": beijing(decision.get("decided_at"))})
        if decision.get("withdrawn_version"):
            values["决策"] = f"已撤回 (第{decision['withdrawn_version']}版)"
    return [safe_cell(values.get(c, "")) for c in CATALOGUE_COLUMNS + EXTRA_COLUMNS]


def build_result_xlsx(job: dict, records: Iterable[dict], decisions: dict[int, dict] | None = None,
                      near: dict[int, list[dict]] | None = None) -> bytes:
    """The draft catalogue; `decisions` and `near` by row number (both optional)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.worksheet.cell_range import CellRange

    decisions = decisions or {}
    near = near or {}
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("目录草稿")
    columns = CATALOGUE_COLUMNS + EXTRA_COLUMNS
    for i, c in enumerate(columns):
        ws.column_dimensions[_col(i)].width = WIDTHS.get(c, 12)
    ws.freeze_panes = "C3"
    title = WriteOnlyCell(ws, value=safe_cell(f"重大行政决策事项目录草稿 ({job.get('filename') or ''}, 导出于 "
                                              f"{beijing(dt.datetime.now(dt.UTC))} 北京时间)"))
    title.font = Font(bold=True, size=14)
    ws.append([title])
    ws.merged_cells.add(CellRange(f"A1:{_col(len(columns) - 1)}1"))
    ws.append(_header_style(ws, columns))
    ws.print_title_rows = "1:2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    first_seen: dict[str, int] = {}
    verdicts: Counter = Counter()
    categories: Counter = Counter()
    tiers: Counter = Counter()
    procs: Counter = Counter()
    dups = 0
    n_rows = 0
    for rec in records:
        n_rows += 1
        row = catalogue_row(rec, first_seen, decisions.get(rec.get("row_no")), near.get(rec.get("row_no")))
        dups += bool(row[columns.index("重复")])
        ws.append(row)
        a = rec.get("answer")
        if not a:
            verdicts["error"] += 1
            continue
        verdicts[a["verdict"]] += 1
        if a["verdict"] != "not_major":
            categories[CATEGORY_ZH.get(a.get("category") or "", "未分类")] += 1
            tiers[LEVEL_ZH.get(a.get("tier") or "", "未分级")] += 1
            for p in a.get("procedures", []):
                if p.get("required"):
                    procs[p["name"]] += 1
    ws.auto_filter.ref = f"A2:{_col(len(columns) - 1)}{2 + n_rows}"
    _summary(wb, job, verdicts, categories, tiers, procs, dups, decisions, sum(1 for v in near.values() if v))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _col(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def _summary(wb, job: dict, verdicts: Counter, categories: Counter, tiers: Counter, procs: Counter, dups: int,
             decisions: dict[int, dict] | None = None, near_rows: int = 0):
    from openpyxl.chart import BarChart, Reference

    ws = wb.create_sheet("汇总")
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 40
    ws.append(_header_style(ws, ["结论", "数量"]))
    verdict_rows = [("纳入", verdicts["major"]), ("不纳入", verdicts["not_major"]),
                    ("待人工研判", verdicts["review"]), ("输入错误", verdicts["error"])]
    for label, n in verdict_rows:
        ws.append([label, n])
    ws.append(["合计", sum(verdicts.values())])
    ws.append(["重复事项", dups])
    ws.append(["近似重复事项", near_rows])
    ws.append([])
    decided = Counter(d["decision"] for d in (decisions or {}).values())
    ws.append(_header_style(ws, ["审核决策", "数量"]))
    for code, label in DECISION_ZH.items():
        ws.append([label, decided[code]])
    ws.append(["未决定", max(0, sum(verdicts.values()) - sum(decided.values()))])
    ws.append(["已撤回", sum(1 for d in (decisions or {}).values() if d.get("withdrawn_version"))])
    ws.append([])
    sections = [("决策类别 (纳入及待研判)", categories), ("分级 (纳入及待研判)", tiers),
                ("需履行程序", Counter({p: procs[p] for p in PROCEDURE_NAMES if procs[p]}))]
    for title, counter in sections:
        ws.append(_header_style(ws, [title, "数量"]))
        for k, n in sorted(counter.items(), key=lambda kv: -kv[1]) if counter else [("(无)", 0)]:
            ws.append([safe_cell(k), n])
        ws.append([])
    ws.append(_header_style(ws, ["任务", ""]))
    for k, v in [("任务编号", job.get("id")), ("文件", job.get("filename")),
                 ("标准", job.get("profile") or "(各行自定)"),
                 ("模型版本", job.get("model_version")), ("规则版本", job.get("rules_version")),
                 ("提交时间 (北京时间)", beijing(job.get("created_at"))),
                 ("完成时间 (北京时间)", beijing(job.get("finished_at"))),
                 ("说明", "本表为机器初筛草稿, “决策”列为审核结果; 采纳的事项另行导出正式目录")]:
        ws.append([k, safe_cell(str(v) if v is not None else "")])
    chart = BarChart()
    chart.type = "col"
    chart.title = "筛查结论"
    chart.y_axis.title = "事项数"
    chart.legend = None
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=1 + len(verdict_rows)), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=1 + len(verdict_rows)))
    chart.width, chart.height = 16, 8
    ws.add_chart(chart, "D2")


def _json(value) -> str:
    """A field as JSON text: stored JSON text (a raw read, see job_records) is copied as it is."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def result_jsonl(records: Iterable[dict], decisions: dict[int, dict] | None = None,
                 lines_per_chunk: int = 256) -> Iterable[bytes]:
    """One JSON line per row, in chunks of lines: a streamed download hands each chunk to the
    event loop once, instead of once per line. `input`, `answer` and `error` may be the stored
    JSON text (copied) or parsed values (serialised); the lines are the same either way."""
    decisions = decisions or {}
    lines: list[str] = []
    for rec in records:
        head = {"row": rec.get("row_no"), "screening_id": rec.get("id")}
        parts = [json.dumps(head, ensure_ascii=False)[:-1], f', "input": {_json(rec.get("input"))}']
        d = decisions.get(rec.get("row_no"))
        if d:
            decision = {"decision": d["decision"], "reason": d.get("reason"), "reviewer": d.get("reviewer"),
                        "decided_at": d["decided_at"].isoformat(), "withdrawn_version": d.get("withdrawn_version")}
            parts.append(f', "decision": {json.dumps(decision, ensure_ascii=False)}')
        if rec.get("answer") and rec.get("answer") != "null":
            parts.append(f', "answer": {_json(rec["answer"])}')
        else:
            parts.append(f', "error": {_json(rec.get("error"))}')
        lines.append("".join(parts) + "}\n")
        if len(lines) >= lines_per_chunk:
            yield "".join(lines).encode("utf-8")
            lines = []
    if lines:
        yield "".join(lines).encode("utf-8")


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
    ("计划决策日期", "planned_date", ("可选: 如 2027-04-15、2027年4月15日、2027年6月、2027年第二季度、下半年、待定; "
                                      "用于推算各程序期限 (期间按其最后一个工作日)"),
     "optional: a date (2027-04-15), month, quarter, half year or 待定; gives each procedure's deadline", "2026-12-18"),
]


def template_xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

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

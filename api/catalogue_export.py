"""The official catalogue as files: .xlsx (openpyxl) and .docx (python-docx).

The usual layout of a 重大行政决策事项目录 (序号, 决策事项名称, 承办单位, 决策事项说明, 计划完成时间,
需履行的程序, 备注) under a title row, ready to print: landscape, fitted to the page width, the
heading rows repeated on every page, a filter on the headings; Chinese labels only and Beijing
time. A second sheet (a section in .docx) is the change log: decisions, fixes and the numbered
mid-year adjustments with their reasons."""
from __future__ import annotations

import datetime as dt
import io

from model.dates import SHANGHAI
from model.vocab import safe_cell

COLUMNS = ["序号", "决策事项名称", "承办单位", "决策事项说明", "计划完成时间", "需履行的程序", "备注"]
WIDTHS = [7, 34, 18, 44, 14, 30, 22]
LOG_COLUMNS = ["时间 (北京时间)", "版本", "操作", "行号", "事项", "理由", "操作人"]
LOG_WIDTHS = [18, 8, 16, 8, 40, 40, 14]
ACTION_ZH = {"adopt": "采纳", "reject": "不采纳", "pending": "待定", "fix": "更正并重新筛查", "add": "新增事项",
             "withdraw": "撤回事项", "reschedule": "调整计划时间"}


def beijing(value: str | dt.datetime | None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def remark(item: dict) -> str:
    """备注: the department's own 序号, a period or unreadable date, the version that added it."""
    parts = []
    if item.get("seq") not in (None, ""):
        parts.append(f"原表序号 {item['seq']}")
    parts.append(f"筛查第{item['row']}行")
    d = item.get("decision") or {}
    if d.get("added_version"):
        parts.append(f"第{d['added_version']}版新增")
    if item.get("planned_date_text"):
        parts.append("计划时间待更正")
    return "; ".join(parts)


def rows_of(items: list[dict]) -> list[list]:
    out = []
    for n, it in enumerate(items, start=1):
        out.append([n, it.get("title") or "", it.get("unit") or "", it.get("description") or "",
                    it.get("planned_label") or "", "、".join(it.get("procedures_required") or []), remark(it)])
    return out


def log_rows(changes: list[dict]) -> list[list]:
    out = []
    for c in changes:
        details = c.get("details") or {}
        out.append([beijing(c["created_at"]), f"第{c['version']}版" if c.get("version") else "初版",
                    ACTION_ZH.get(c["action"], c["action"]), c.get("row") or "", details.get("title") or "",
                    c.get("reason") or "", c.get("reviewer") or ""])
    return out


def _subtitle(info: dict, items: list[dict]) -> str:
    return (f"第{info['version']}版  共{len(items)}项  导出时间: {beijing(dt.datetime.now(dt.UTC))} (北京时间)")


def build_catalogue_xlsx(info: dict, items: list[dict], changes: list[dict], versions: list[dict]) -> bytes:
    # imported here, not with the module: a web process that writes no catalogue never loads openpyxl
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "目录"
    last = get_column_letter(len(COLUMNS))
    ws.append([info["title"]])
    ws.merge_cells(f"A1:{last}1")
    ws["A1"].font = Font(bold=True, size=16)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 30
    ws.append([_subtitle(info, items)])
    ws.merge_cells(f"A2:{last}2")
    ws["A2"].alignment = Alignment(horizontal="right")
    ws.append(COLUMNS)
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for cell in ws[3]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
    for row in rows_of(items):
        ws.append([safe_cell(v) for v in row])
        for cell in ws[ws.max_row]:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
            cell.border = border
    for i, w in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = "A4"
    ws.auto_filter.ref = f"A3:{last}{max(3, ws.max_row)}"
    _print_setup(ws, "1:3")

    log = wb.create_sheet("变更记录")
    log.append(LOG_COLUMNS)
    for cell in log[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for row in log_rows(changes):
        log.append([safe_cell(v) for v in row])
    for i, w in enumerate(LOG_WIDTHS, start=1):
        log.column_dimensions[get_column_letter(i)].width = w
    log.freeze_panes = "A2"
    log.auto_filter.ref = f"A1:{get_column_letter(len(LOG_COLUMNS))}{max(1, log.max_row)}"
    _print_setup(log, "1:1")

    ver = wb.create_sheet("版本")
    ver.append(["版本", "时间 (北京时间)", "调整理由", "操作人"])
    for cell in ver[1]:
        cell.font = Font(bold=True)
    ver.append(["第1版", "", "目录初版 (经审核采纳的事项)", ""])
    for v in versions:
        ver.append([f"第{v['version']}版", beijing(v["created_at"]), safe_cell(v["reason"]), safe_cell(v["reviewer"] or "")])
    for col, w in zip("ABCD", (10, 18, 60, 14)):
        ver.column_dimensions[col].width = w
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _print_setup(ws, title_rows: str) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as it takes
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = title_rows
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "第 &P 页, 共 &N 页"


def build_catalogue_docx(info: dict, items: list[dict], changes: list[dict], versions: list[dict]) -> bytes:
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(1.8))
    style = doc.styles["Normal"]
    style.font.size = Pt(10.5)
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "仿宋")

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(info["title"])
    run.bold = True
    run.font.size = Pt(18)
    run.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "黑体")
    sub = doc.add_paragraph(_subtitle(info, items))
    sub.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    def table(columns: list[str], rows: list[list], widths: list[float]):
        t = doc.add_table(rows=1, cols=len(columns))
        t.style = "Table Grid"
        head = t.rows[0]
        # Repeat the heading row on every printed page.
        tr_pr = head._tr.get_or_add_trPr()
        el = OxmlElement("w:tblHeader")
        el.set(qn("w:val"), "true")
        tr_pr.append(el)
        for cell, name in zip(head.cells, columns):
            cell.text = ""
            r = cell.paragraphs[0].add_run(name)
            r.bold = True
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        for row in rows:
            cells = t.add_row().cells
            for cell, v in zip(cells, row):
                cell.text = str(v)
        for row in t.rows:
            for cell, w in zip(row.cells, widths):
                cell.width = Cm(w)
        return t

    table(COLUMNS, rows_of(items), [1.2, 5.5, 3.0, 7.0, 2.4, 4.5, 3.0])
    doc.add_page_break()
    doc.add_heading("变更记录", level=2)
    version_lines = ["第1版: 目录初版 (经审核采纳的事项)"] + [
        f"第{v['version']}版 ({beijing(v['created_at'])}, {v['reviewer'] or ''}): {v['reason']}" for v in versions]
    for line in version_lines:
        doc.add_paragraph(line)
    table(LOG_COLUMNS, log_rows(changes), [3.0, 1.4, 2.4, 1.2, 6.5, 7.0, 2.5])
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()

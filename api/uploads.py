"""Reading an uploaded spreadsheet (.xlsx or .csv) into matter rows, refusing bad files
with a bilingual error that names the field and row.

Column headings may be the contract's English names or the usual Chinese catalogue headings
(model.fileio.COLUMN_ALIASES). The heading row may sit below a title row (catalogues often
start with a merged "2026年度重大行政决策事项目录" line): the first rows are searched for it."""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
import zipfile
from dataclasses import dataclass, field

from model.contract import MatterIn, parse_matter
from model.errors import ScreenInputError
from model.fileio import COLUMN_ALIASES

from .checks import check_matter
from .errors import ApiError

HEADER_SEARCH_ROWS = 10
MAX_COLUMNS = 200
MAX_CELL_CHARS = 100_000
CONTRACT_FIELDS = tuple(MatterIn.model_fields)


def _norm_heading(h) -> str:
    s = str(h if h is not None else "").strip()
    s = s.replace("（", "(").replace("）", ")").replace(" ", "").replace("\u3000", "").replace("\n", "")
    return s


ALIASES: dict[str, str] = {_norm_heading(k): v for k, v in COLUMN_ALIASES.items()}
ALIASES.update({f: f for f in CONTRACT_FIELDS})
ALIASES.update({f.upper(): f for f in CONTRACT_FIELDS})
ALIASES.update({"金额": "amount_wan", "投资额(万元)": "amount_wan", "资金(万元)": "amount_wan", "人数": "people",
                "面积": "area_mu", "长度": "length_km", "期限": "duration_years", "决策时间": "planned_date",
                "拟决策时间": "planned_date", "决策层级": "level", "适用标准": "profile"})


@dataclass
class Parsed:
    rows: list[dict]  # one dict per data row, contract field names, JSON-safe values
    sheet_rows: list[int]  # the spreadsheet row number of each data row (for messages)
    columns: dict[str, str]  # heading as written -> contract field
    ignored_columns: list[str] = field(default_factory=list)
    file_type: str = ""


def _err(status: int, code: str, zh: str, en: str, fld: str | None = None, **extra) -> ApiError:
    return ApiError(status, code, zh, en, fld, **extra)


def file_type(filename: str | None, head: bytes) -> str:
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        return "xlsx"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".xls", ".et", ".wps")):
        raise _err(415, "bad_file_type", "不支持旧版 Excel (.xls) 等格式: 请另存为 .xlsx 或 .csv 后上传",
                   "old Excel (.xls) and similar formats are not supported: save as .xlsx or .csv", "file")
    raise _err(415, "bad_file_type", f"文件类型不支持: {filename or '(无文件名)'}; 请上传 .xlsx 或 .csv",
               f"unsupported file type: {filename or '(no name)'}; upload .xlsx or .csv", "file")


def _cell(value):
    if isinstance(value, str):
        v = value.strip()
        return v or None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _header(rows: list[tuple[int, list]]) -> tuple[int, list] | None:
    for sheet_row, cells in rows:
        if any(ALIASES.get(_norm_heading(c)) == "title" for c in cells):
            return sheet_row, cells
    return None


def _map_columns(cells: list) -> tuple[dict[int, str], dict[str, str], list[str]]:
    by_index: dict[int, str] = {}
    written: dict[str, str] = {}
    ignored: list[str] = []
    taken: set[str] = set()
    for i, c in enumerate(cells):
        heading = _norm_heading(c)
        if not heading:
            continue
        fld = ALIASES.get(heading)
        if fld is None or fld in taken:
            ignored.append(str(c).strip())
            continue
        taken.add(fld)
        by_index[i] = fld
        written[str(c).strip()] = fld
    return by_index, written, ignored


def _iter_xlsx(data: bytes):
    """(sheet row number, [cell values]) for the first worksheet; formula cells raise."""
    from openpyxl import load_workbook

    if not data.startswith(b"PK"):
        raise _err(422, "bad_xlsx", "文件不是有效的 .xlsx (Excel 2007 及以后) 文件", "not a valid .xlsx file", "file")
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise _err(422, "bad_xlsx", f".xlsx 文件无法读取 ({type(exc).__name__})",
                   f"cannot read the .xlsx file ({type(exc).__name__})", "file") from None
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            raise _err(422, "empty_file", "文件中没有工作表", "the workbook has no worksheet", "file")
        for r_idx, row in enumerate(ws.iter_rows(max_col=MAX_COLUMNS), start=1):
            values = []
            for c_idx, cell in enumerate(row, start=1):
                if getattr(cell, "data_type", None) == "f":
                    # A formula's value is whatever the spreadsheet last computed, or nothing at all
                    # when a program wrote the file: we cannot read it faithfully, so we ask.
                    raise _err(422, "formula_cell",
                               f"第{r_idx}行第{c_idx}列是公式单元格; 请复制后“粘贴为数值”再上传",
                               f"row {r_idx}, column {c_idx} holds a formula; paste it as values and upload again",
                               "file", sheet_row=r_idx, column=c_idx)
                values.append(cell.value)
            yield r_idx, values
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _err(422, "bad_xlsx", f".xlsx 文件已损坏 ({type(exc).__name__})",
                   f"the .xlsx file is damaged ({type(exc).__name__})", "file") from None
    finally:
        wb.close()


def _decode_csv(data: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise _err(422, "bad_encoding", "CSV 文件编码无法识别: 请使用 UTF-8 (或 GBK/GB18030) 编码保存",
               "cannot decode the CSV file: save it as UTF-8 (or GBK/GB18030)", "file")


def _iter_csv(data: bytes):
    text = _decode_csv(data)
    first = text.split("\n", 1)[0]
    # Excel's "Unicode text" export is tab-separated; everything else we accept is comma-separated.
    dialect = csv.excel_tab if "\t" in first and "," not in first else csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        for r_idx, row in enumerate(reader, start=1):
            yield r_idx, row[:MAX_COLUMNS]
    except csv.Error as exc:
        raise _err(422, "bad_csv", f"CSV 文件无法解析 (第{reader.line_num}行): {exc}",
                   f"cannot parse the CSV file (line {reader.line_num}): {exc}", "file",
                   sheet_row=reader.line_num) from None


def parse_upload(filename: str | None, data: bytes, max_rows: int) -> Parsed:
    if not data:
        raise _err(422, "empty_file", "上传的文件是空的", "the uploaded file is empty", "file")
    kind = file_type(filename, data[:8])
    source = _iter_xlsx(data) if kind == "xlsx" else _iter_csv(data)
    head: list[tuple[int, list]] = []
    header = None
    for item in source:
        head.append(item)
        header = _header([item])
        if header is not None or len(head) >= HEADER_SEARCH_ROWS:
            break
    if header is None:
        raise _err(422, "missing_column", "缺少“决策事项名称”(title)列: 请使用模板 (GET /api/v1/jobs/template)",
                   "missing column: 决策事项名称 (title); see the template at GET /api/v1/jobs/template", "title")
    by_index, written, ignored = _map_columns(header[1])
    rows: list[dict] = []
    sheet_rows: list[int] = []
    # Blank lines are skipped, not counted: bound them too, or a file of a million empty rows
    # (a few kB compressed) would keep a worker busy.
    max_scanned = header[0] + max_rows + 10_000
    for sheet_row, cells in source:
        if sheet_row > max_scanned:
            raise _err(413, "too_many_rows", f"行数过多 (含空行): 一次最多 {max_rows} 行, 请删除多余空行或拆分文件",
                       f"too many rows (blank ones included): at most {max_rows} per job", "file",
                       max_rows=max_rows)
        rec = {}
        for i, fld in by_index.items():
            if i < len(cells):
                v = _cell(cells[i])
                if isinstance(v, str) and len(v) > MAX_CELL_CHARS:
                    raise _err(422, "cell_too_long", f"第{sheet_row}行的“{fld}”单元格过长",
                               f"row {sheet_row}: the {fld} cell is too long", fld, sheet_row=sheet_row)
                if v is not None:
                    rec[fld] = v
        if not rec and not any(_cell(c) is not None for c in cells):
            continue  # blank line (trailing rows Excel leaves behind)
        rows.append(rec)
        sheet_rows.append(sheet_row)
        if len(rows) > max_rows:
            raise _err(413, "too_many_rows", f"行数过多: 一次最多 {max_rows} 行, 请拆分文件",
                       f"too many rows: at most {max_rows} per job; split the file", "file", max_rows=max_rows)
    if not rows:
        raise _err(422, "empty_file", "文件中没有数据行", "the file has no data rows", "file")
    return Parsed(rows, sheet_rows, written, ignored, kind)


def validate_rows(parsed: Parsed, known_profiles: set[str], default_profile: str | None,
                  limit: int = 100) -> list[dict]:
    """Check every row as the screener will; the errors (row = data row, sheet_row = where it
    is in the file), at most `limit` of them."""
    errors: list[dict] = []
    for n, (rec, sheet_row) in enumerate(zip(parsed.rows, parsed.sheet_rows), start=1):
        try:
            m = parse_matter(rec, n)
            check_matter(m, n)
            prof = m.profile or default_profile
            if prof is not None and prof not in known_profiles:
                raise ScreenInputError("unknown_profile", f"未知的标准: {prof}", f"unknown profile: {prof}",
                                       "profile", n)
        except ScreenInputError as exc:
            d = exc.as_dict()
            d["row"], d["sheet_row"] = n, sheet_row
            d["message_zh"] = f"第{sheet_row}行: {exc.zh}"
            d["message_en"] = f"row {sheet_row}: {exc.en}"
            errors.append(d)
            if len(errors) >= limit:
                break
    return errors

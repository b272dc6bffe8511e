"""The one spreadsheet reader (.xlsx and .csv) with the one table of column headings, used by
the CLI's file mode (model.fileio), the API's uploads and the batch page (api.uploads).

Column headings may be the contract's English names or the usual Chinese catalogue headings.
The heading row may sit below a title row (catalogues often start with a merged
"2026年度重大行政决策事项目录" line): the first rows are searched for it. CSV files in
GBK/GB18030 (what Excel on a Chinese Windows writes) are read as such; tab-separated text (Excel's
"Unicode text") too. A problem of the whole file raises SheetError, a ScreenInputError that also
carries the HTTP status the service answers it with and details (sheet row, column)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .contract import MatterIn
from .errors import ScreenInputError

HEADER_SEARCH_ROWS = 10
MAX_COLUMNS = 200
MAX_CELL_CHARS = 100_000
CONTRACT_FIELDS = tuple(MatterIn.model_fields)


def norm_heading(h) -> str:
    """A heading as looked up: no spaces or line breaks, full-width brackets made ASCII."""
    s = str(h if h is not None else "").strip()
    return s.replace("（", "(").replace("）", ")").replace(" ", "").replace("\u3000", "").replace("\n", "")


# Heading as people write it -> contract field. The one alias table: what one entry point
# reads, every entry point reads.
_HEADINGS = {
    "序号": "id", "编号": "id", "决策事项名称": "title", "事项名称": "title", "标题": "title", "名称": "title",
    "决策事项": "title", "事项说明": "description", "说明": "description", "主要内容": "description",
    "承办单位": "unit", "决策承办单位": "unit", "牵头单位": "unit", "层级": "level", "决策层级": "level",
    "标准": "profile", "适用标准": "profile",
    "金额(万元)": "amount_wan", "金额": "amount_wan", "投资(万元)": "amount_wan", "投资额(万元)": "amount_wan",
    "资金(万元)": "amount_wan", "涉及人数": "people", "人数": "people", "面积(亩)": "area_mu", "面积": "area_mu",
    "长度(公里)": "length_km", "长度": "length_km", "期限(年)": "duration_years", "期限": "duration_years",
    "计划决策日期": "planned_date", "计划时间": "planned_date", "决策时间": "planned_date",
    "拟决策时间": "planned_date", "计划完成时间": "planned_date", "完成时间": "planned_date",
    "决策事项说明": "description",
}
COLUMN_ALIASES: dict[str, str] = {norm_heading(k): v for k, v in _HEADINGS.items()}
COLUMN_ALIASES.update({f: f for f in CONTRACT_FIELDS})
COLUMN_ALIASES.update({f.upper(): f for f in CONTRACT_FIELDS})


def field_for(heading) -> str | None:
    """The contract field a column heading names, or None."""
    return COLUMN_ALIASES.get(norm_heading(heading))


class SheetError(ScreenInputError):
    """A file that cannot be read as a whole; `status` is the HTTP status the service uses."""

    def __init__(self, status: int, code: str, zh: str, en: str, field: str | None = None, **extra):
        super().__init__(code, zh, en, field)
        self.status, self.extra = status, extra


@dataclass
class Table:
    rows: list[dict]  # one dict per data row, contract field names, JSON-safe values
    sheet_rows: list[int]  # the spreadsheet row number of each data row (for messages)
    columns: dict[str, str]  # heading as written -> contract field
    ignored_columns: list[str] = field(default_factory=list)
    file_type: str = ""


def file_type(filename: str | None) -> str:
    """xlsx or csv, from the file name; anything else is refused (415)."""
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        return "xlsx"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".xls", ".et", ".wps")):
        raise SheetError(415, "bad_file_type", "不支持旧版 Excel (.xls) 等格式: 请另存为 .xlsx 或 .csv 后上传",
                         "old Excel (.xls) and similar formats are not supported: save as .xlsx or .csv", "file")
    raise SheetError(415, "bad_file_type", f"文件类型不支持: {filename or '(无文件名)'}; 请上传 .xlsx 或 .csv",
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


def _map_columns(cells: list) -> tuple[dict[int, str], dict[str, str], list[str]]:
    by_index: dict[int, str] = {}
    written: dict[str, str] = {}
    ignored: list[str] = []
    taken: set[str] = set()
    for i, c in enumerate(cells):
        if not norm_heading(c):
            continue
        fld = field_for(c)
        if fld is None or fld in taken:
            ignored.append(str(c).strip())
            continue
        taken.add(fld)
        by_index[i] = fld
        written[str(c).strip()] = fld
    return by_index, written, ignored


def iter_xlsx(data: bytes | Path) -> Iterator[tuple[int, list]]:
    """(sheet row number, [cell values]) for the first worksheet; formula cells raise. `data`
    is the file's bytes, or its path (openpyxl then reads it from disk, row by row)."""
    from openpyxl import load_workbook

    if isinstance(data, Path):
        with data.open("rb") as fh:
            magic = fh.read(2)
    else:
        magic = data[:2]
    if magic != b"PK":
        raise SheetError(422, "bad_xlsx", "文件不是有效的 .xlsx (Excel 2007 及以后) 文件", "not a valid .xlsx file",
                         "file")
    try:
        wb = load_workbook(data if isinstance(data, Path) else io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise SheetError(422, "bad_xlsx", ".xlsx 文件无法读取: 文件可能已损坏或并非 Excel 文件",
                         f"cannot read the .xlsx file ({type(exc).__name__})", "file") from None
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            raise SheetError(422, "empty_file", "文件中没有工作表", "the workbook has no worksheet", "file")
        for r_idx, row in enumerate(ws.iter_rows(max_col=MAX_COLUMNS), start=1):
            values = []
            for c_idx, cell in enumerate(row, start=1):
                if getattr(cell, "data_type", None) == "f":
                    # A formula's value is whatever the spreadsheet last computed, or nothing at all
                    # when a program wrote the file: we cannot read it faithfully, so we ask.
                    raise SheetError(422, "formula_cell",
                                     f"第{r_idx}行第{c_idx}列是公式单元格; 请复制后“粘贴为数值”再上传",
                                     f"row {r_idx}, column {c_idx} holds a formula; paste it as values and upload "
                                     "again", "file", sheet_row=r_idx, column=c_idx)
                values.append(cell.value)
            yield r_idx, values
    except SheetError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise SheetError(422, "bad_xlsx", ".xlsx 文件已损坏, 无法读取",
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
    raise SheetError(422, "bad_encoding", "CSV 文件编码无法识别: 请使用 UTF-8 (或 GBK/GB18030) 编码保存",
                     "cannot decode the CSV file: save it as UTF-8 (or GBK/GB18030)", "file")


def iter_csv(data: bytes | TextIO) -> Iterator[tuple[int, list]]:
    """(row number, [cells]) of the file's bytes, or of an open, decoded text stream (opened
    with newline=""; file mode streams a file this way)."""
    stream = io.StringIO(_decode_csv(data), newline="") if isinstance(data, bytes) else data
    first = stream.readline()
    stream.seek(0)
    # Excel's "Unicode text" export is tab-separated; everything else we accept is comma-separated.
    dialect = csv.excel_tab if "\t" in first and "," not in first else csv.excel
    reader = csv.reader(stream, dialect)
    try:
        for r_idx, row in enumerate(reader, start=1):
            yield r_idx, row[:MAX_COLUMNS]
    except csv.Error as exc:
        raise SheetError(422, "bad_csv", f"CSV 文件无法解析 (第{reader.line_num}行): 引号或分隔符有误",
                         f"cannot parse the CSV file (line {reader.line_num}): {exc}", "file",
                         sheet_row=reader.line_num) from None


def _refuse_nul(value, sheet_row: int, column: int) -> None:
    # Other control characters make a row an error row (the contract refuses them), kept in the
    # job with skip_bad_rows; NUL cannot even be stored there (PostgreSQL refuses it), and only
    # binary junk carries it: the whole file is refused.
    if isinstance(value, str) and "\x00" in value:
        raise SheetError(422, "control_character", f"第{sheet_row}行第{column}列含有空字符 (U+0000), 文件可能已损坏",
                         f"row {sheet_row}, column {column} contains a NUL character (U+0000): the file may be "
                         "damaged", "file", sheet_row=sheet_row, column=column)


def read_table(data: bytes, kind: str, max_rows: int | None = None, allow_empty: bool = False,
               missing_hint: tuple[str, str] = ("", ""),
               source: Callable[[bytes], Iterator[tuple[int, list]]] | None = None) -> Table:
    """The rows of a .xlsx or .csv file (kind "xlsx"/"csv"). `max_rows`: refuse more (413);
    `missing_hint`: (zh, en) added to the missing-title-column message; `source`: another row
    iterator (the service passes one that checks the archive before openpyxl opens it)."""
    if not data:
        raise SheetError(422, "empty_file", "上传的文件是空的", "the uploaded file is empty", "file")
    rows_in = (source or (iter_xlsx if kind == "xlsx" else iter_csv))(data)
    written, ignored, records = open_table(rows_in, max_rows, missing_hint)
    rows: list[dict] = []
    sheet_rows: list[int] = []
    for sheet_row, rec in records:
        rows.append(rec)
        sheet_rows.append(sheet_row)
    if not rows and not allow_empty:
        raise SheetError(422, "empty_file", "文件中没有数据行", "the file has no data rows", "file")
    return Table(rows, sheet_rows, written, ignored, kind)


def open_table(rows_in: Iterator[tuple[int, list]], max_rows: int | None = None,
               missing_hint: tuple[str, str] = ("", "")
               ) -> tuple[dict[str, str], list[str], Iterator[tuple[int, dict]]]:
    """(columns as written -> field, ignored columns, the records as (sheet row, record) one at a
    time). The heading row is looked for now, so a file without a title column raises before any
    record is read; the records are read as they are consumed (file mode streams them)."""
    head: list[tuple[int, list]] = []
    header = None
    for item in rows_in:
        head.append(item)
        if any(field_for(c) == "title" for c in item[1]):
            header = item
            break
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    if header is None:
        raise SheetError(422, "missing_column", f"缺少“决策事项名称”(title)列{missing_hint[0]}",
                         f"missing column: 决策事项名称 (title){missing_hint[1]}", "title")
    for c_idx, c in enumerate(header[1], start=1):
        _refuse_nul(c, header[0], c_idx)
    by_index, written, ignored = _map_columns(header[1])
    return written, ignored, _records(rows_in, header[0], by_index, max_rows)


def _records(rows_in: Iterator[tuple[int, list]], header_row: int, by_index: dict[int, str],
             max_rows: int | None) -> Iterator[tuple[int, dict]]:
    count = 0
    # Blank lines are skipped, not counted: bound them too, or a file of a million empty rows
    # (a few kB compressed) would keep a worker busy.
    max_scanned = header_row + max_rows + 10_000 if max_rows is not None else None
    for sheet_row, cells in rows_in:
        if max_scanned is not None and sheet_row > max_scanned:
            raise SheetError(413, "too_many_rows", f"行数过多 (含空行): 一次最多 {max_rows} 行, 请删除多余空行或拆分文件",
                             f"too many rows (blank ones included): at most {max_rows} per job", "file",
                             max_rows=max_rows)
        rec = {}
        for i, fld in by_index.items():
            if i < len(cells):
                v = _cell(cells[i])
                _refuse_nul(v, sheet_row, i + 1)
                if isinstance(v, str) and len(v) > MAX_CELL_CHARS:
                    raise SheetError(422, "cell_too_long", f"第{sheet_row}行的“{fld}”单元格过长",
                                     f"row {sheet_row}: the {fld} cell is too long", fld, sheet_row=sheet_row)
                if v is not None:
                    rec[fld] = v
        if not rec and not any(_cell(c) is not None for c in cells):
            continue  # blank line (trailing rows Excel leaves behind)
        count += 1
        if max_rows is not None and count > max_rows:
            raise SheetError(413, "too_many_rows", f"行数过多: 一次最多 {max_rows} 行, 请拆分文件",
                             f"too many rows: at most {max_rows} per job; split the file", "file", max_rows=max_rows)
        yield sheet_row, rec

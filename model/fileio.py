"""Reading and writing matter files: .jsonl, .csv and .xlsx, one row at a time.

Spreadsheets are read by model.sheets, the reader the service's uploads use (one table of
column headings, GBK/GB18030 CSV, a heading row below a title row), here from the file on disk
as a stream; answers are written as a stream too (csv module, openpyxl's write-only mode), so a
file of a million rows needs no more memory than one of ten."""
from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Self

from .errors import ScreenInputError
from .neardup import describe
from .sheets import SheetError, field_for, iter_csv, iter_xlsx, open_table
from .vocab import CATEGORY_ZH, LEVEL_ZH, VERDICT_ZH, safe_cell

SUFFIXES = (".jsonl", ".csv", ".xlsx")
_BLOCK = 1 << 20


def suffix_of(path: Path, what: str) -> str:
    """.jsonl, .csv or .xlsx, or a clear error naming what (输入/输出) the file was for."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ScreenInputError("bad_suffix", f"{what}文件类型不支持: {suffix or '(无)'}, 应为 .jsonl/.csv/.xlsx",
                               f"unsupported {what} file type {suffix or '(none)'}: use .jsonl, .csv or .xlsx")
    return suffix


def _clean(record: dict) -> dict:
    """A JSON Lines record with the same headings and empty values dropped as a sheet's rows."""
    out = {}
    for k, v in record.items():
        key = field_for(k) or str(k).strip()
        if v is None or (isinstance(v, float) and v != v):
            continue
        if isinstance(v, str) and not v.strip():
            continue
        out[key] = v
    return out


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes (read in blocks: constant memory) and holds no NUL."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as fh:
        try:
            while block := fh.read(_BLOCK):
                if "\x00" in decoder.decode(block):
                    return False
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _csv_encoding(path: Path) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        if _decodes(path, enc):
            return enc
    raise SheetError(422, "bad_encoding", "CSV 文件编码无法识别: 请使用 UTF-8 (或 GBK/GB18030) 编码保存",
                     "cannot decode the CSV file: save it as UTF-8 (or GBK/GB18030)", "file")


def _jsonl_rows(path: Path) -> Iterator[dict]:
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                yield {"__error__": ScreenInputError("bad_json", "该行不是有效的 JSON", "line is not valid JSON",
                                                     None, n)}
                continue
            if not isinstance(obj, dict):
                yield {"__error__": ScreenInputError("bad_json", "该行应为 JSON 对象", "line must be a JSON object",
                                                     None, n)}
                continue
            yield _clean(obj)


def _sheet_rows(path: Path, suffix: str) -> Iterator[dict]:
    if suffix == ".csv":
        fh = path.open("r", encoding=_csv_encoding(path), newline="")
        rows_in = iter_csv(fh)
    else:
        fh = None
        rows_in = iter_xlsx(path)
    try:
        _, _, records = open_table(rows_in)
        for _, rec in records:
            yield rec
    finally:
        if fh is not None:
            fh.close()


def read_rows(path: Path) -> Iterator[dict]:
    """Yield one dict per input row, in order, reading the file as it goes. Structural problems
    of the whole file (type, encoding, no title column) raise on the first `next()`, before any
    row; problems of one row are left to the screener, which reports them with the row number."""
    path = Path(path)
    suffix = suffix_of(path, "输入")
    if not path.exists():
        raise ScreenInputError("no_file", f"找不到输入文件: {path}", f"input file not found: {path}")
    if suffix == ".jsonl":
        if not _decodes(path, "utf-8-sig"):
            raise ScreenInputError("bad_encoding", "JSONL 文件必须是 UTF-8 编码", "a JSONL file must be UTF-8")
        yield from _jsonl_rows(path)
        return
    yield from _sheet_rows(path, suffix)


def flatten(answer: dict, row: dict | None = None) -> dict:
    """One flat row for CSV/xlsx: the usual catalogue columns plus the contract's fields."""
    required = [p["name"] for p in answer.get("procedures", []) if p.get("required")]
    bases = sorted({p["basis"] for p in answer.get("procedures", []) if p.get("required")})
    verdict_zh = VERDICT_ZH.get(answer.get("verdict"), "")
    out = {
        "id": answer.get("id"),
        "决策事项名称": (row or {}).get("title"),
        "承办单位": (row or {}).get("unit"),
        "决策类别": CATEGORY_ZH.get(answer.get("category") or "", ""),
        "分级": LEVEL_ZH.get(answer.get("tier") or "", answer.get("tier") or ""),  # a label, like 决策类别
        "是否纳入": verdict_zh,
        "需履行程序": "、".join(required),
        "依据": "; ".join(r.get("basis") for r in answer.get("reasons", []) if r.get("basis")) or "",
        "程序依据": "; ".join(bases),
        "置信度": answer.get("confidence"),
        "理由": "; ".join(r.get("text", "") for r in answer.get("reasons", [])),
        "重复": f"与第{answer['duplicate_of']}行重复" if answer.get("duplicate_of") else "",
        "近似重复": describe(answer.get("near_duplicates")),
        "verdict": answer.get("verdict"),
        "probability": answer.get("probability"),
        "category": answer.get("category"),
        "exclusion": (answer.get("exclusion") or {}).get("type"),
        "profile": answer.get("profile"),
        "level": answer.get("level"),
        "error": answer.get("error"),
        "model_version": answer.get("model_version"),
        "rules_version": answer.get("rules_version"),
    }
    return {k: safe_cell(v) for k, v in out.items()}


# The flat columns, in order (flatten always gives them all).
COLUMNS = tuple(flatten({}))


class Writer:
    """Writes answers to .jsonl, .csv or .xlsx as they come: nothing is held back in memory."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.suffix = suffix_of(self.path, "输出")
        self._fh = None
        self._csv = None
        self._book = self._sheet = None
        if self.suffix == ".jsonl":
            self._fh = self.path.open("wb")  # UTF-8 lines, written as the workers serialised them
        elif self.suffix == ".csv":
            self._fh = self.path.open("w", encoding="utf-8-sig", newline="")
            self._csv = csv.writer(self._fh)
            self._csv.writerow(COLUMNS)
        else:
            from openpyxl import Workbook

            self._book = Workbook(write_only=True)  # rows go to a temporary file, not to memory
            self._sheet = self._book.create_sheet("筛查结果")
            self._sheet.append(list(COLUMNS))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write_serialised(self, payload: bytes | str | dict) -> None:
        """One JSON line (.jsonl: UTF-8 bytes, or text) or one flat row from `flatten` (.csv, .xlsx)."""
        if self.suffix == ".jsonl":
            self._fh.write(payload if isinstance(payload, bytes) else payload.encode("utf-8"))
            self._fh.write(b"\n")
        elif self._csv is not None:
            self._csv.writerow([payload.get(c) for c in COLUMNS])
        else:
            self._sheet.append([payload.get(c) for c in COLUMNS])

    def close(self) -> None:
        if self._book is not None:
            self._book.save(self.path)
            self._book = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None

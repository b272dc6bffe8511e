"""Reading and writing matter files: .jsonl, .csv and .xlsx.

Spreadsheets are read by model.sheets, the reader the service's uploads use (one table of
column headings, GBK/GB18030 CSV, a heading row below a title row); answers are written with
pandas + openpyxl."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from .errors import ScreenInputError
from .sheets import field_for, read_table
from .vocab import CATEGORY_ZH, VERDICT_ZH, safe_cell

SUFFIXES = (".jsonl", ".csv", ".xlsx")


def _suffix(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
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


def read_rows(path: Path) -> Iterator[dict]:
    """Yield one dict per input row, in order. Structural problems of the whole file raise;
    problems of one row are left to the screener, which reports them with the row number."""
    path = Path(path)
    suffix = _suffix(path, "输入")
    if not path.exists():
        raise ScreenInputError("no_file", f"找不到输入文件: {path}", f"input file not found: {path}")
    if suffix == ".jsonl":
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ScreenInputError("bad_encoding", "JSONL 文件必须是 UTF-8 编码", "a JSONL file must be UTF-8") from None
        for n, line in enumerate(text.splitlines(), start=1):
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
        return
    # The service's reader: the same headings, encodings and checks as an upload.
    table = read_table(path.read_bytes(), suffix[1:], allow_empty=True)
    yield from table.rows


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
        "分级": answer.get("tier") or "",
        "是否纳入": verdict_zh,
        "需履行程序": "、".join(required),
        "依据": "; ".join(r.get("basis") for r in answer.get("reasons", []) if r.get("basis")) or "",
        "程序依据": "; ".join(bases),
        "置信度": answer.get("confidence"),
        "理由": "; ".join(r.get("text", "") for r in answer.get("reasons", [])),
        "重复": f"与第{answer['duplicate_of']}行重复" if answer.get("duplicate_of") else "",
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


class Writer:
    """Streams answers to .jsonl, or collects them for .csv/.xlsx written on close."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.suffix = _suffix(self.path, "输出")
        self.rows: list[dict] = []
        self._fh = self.path.open("w", encoding="utf-8") if self.suffix == ".jsonl" else None

    def write(self, answer: dict, row: dict | None) -> None:
        if self._fh is not None:
            self._fh.write(json.dumps(answer, ensure_ascii=False) + "\n")
        else:
            self.rows.append(flatten(answer, row))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            return
        frame = pd.DataFrame(self.rows)
        if self.suffix == ".csv":
            frame.to_csv(self.path, index=False, encoding="utf-8-sig")
        else:
            frame.to_excel(self.path, index=False, engine="openpyxl", sheet_name="筛查结果")

"""Reading and writing matter files: .jsonl, .csv and .xlsx (pandas + openpyxl).

Column names may be the English contract names or the usual Chinese catalogue headings.
CSV files in GBK/GB18030 (what Excel on a Chinese Windows writes) are read as such."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from .errors import ScreenInputError

SUFFIXES = (".jsonl", ".csv", ".xlsx")
COLUMN_ALIASES = {
    "序号": "id", "编号": "id", "决策事项名称": "title", "事项名称": "title", "标题": "title", "名称": "title",
    "决策事项": "title", "事项说明": "description", "说明": "description", "主要内容": "description",
    "承办单位": "unit", "决策承办单位": "unit", "牵头单位": "unit", "层级": "level", "标准": "profile",
    "金额(万元)": "amount_wan", "金额（万元）": "amount_wan", "投资(万元)": "amount_wan", "涉及人数": "people",
    "面积(亩)": "area_mu", "长度(公里)": "length_km", "期限(年)": "duration_years",
    "计划决策日期": "planned_date", "计划时间": "planned_date",
}
_ENCODINGS = ("utf-8-sig", "gb18030")
# Cells starting with these run as formulas in spreadsheet programs (CSV/formula injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _suffix(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ScreenInputError("bad_suffix", f"{what}文件类型不支持: {suffix or '(无)'}, 应为 .jsonl/.csv/.xlsx",
                               f"unsupported {what} file type {suffix or '(none)'}: use .jsonl, .csv or .xlsx")
    return suffix


def _clean(record: dict) -> dict:
    out = {}
    for k, v in record.items():
        key = COLUMN_ALIASES.get(str(k).strip(), str(k).strip())
        if v is None or (isinstance(v, float) and v != v):
            continue
        if isinstance(v, str) and not v.strip():
            continue
        if hasattr(v, "isoformat") and key == "planned_date":
            v = v.isoformat()[:10]
        out[key] = v
    return out


def _check_columns(columns) -> None:
    names = {COLUMN_ALIASES.get(str(c).strip(), str(c).strip()) for c in columns}
    if "title" not in names:
        raise ScreenInputError("missing_column", "缺少“决策事项名称”(title)列",
                               "missing column: title (决策事项名称)", "title")


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
    if suffix == ".csv":
        frame = None
        for enc in _ENCODINGS:
            try:
                frame = pd.read_csv(path, dtype=str, encoding=enc, keep_default_na=False)
                break
            except UnicodeDecodeError:
                continue
            except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
                raise ScreenInputError("bad_csv", f"CSV 文件无法解析: {exc}", f"cannot parse CSV: {exc}") from None
        if frame is None:
            raise ScreenInputError("bad_encoding", "CSV 文件编码无法识别 (支持 UTF-8 与 GBK/GB18030)",
                                   "cannot decode CSV (UTF-8 and GBK/GB18030 are supported)")
    else:
        try:
            frame = pd.read_excel(path, dtype=object, engine="openpyxl")
        except Exception as exc:  # openpyxl raises many types for a damaged file
            raise ScreenInputError("bad_xlsx", f"xlsx 文件无法读取: {type(exc).__name__}",
                                   f"cannot read xlsx file: {type(exc).__name__}") from None
    _check_columns(frame.columns)
    for rec in frame.to_dict(orient="records"):
        yield _clean(rec)


def _safe_cell(v):
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


def flatten(answer: dict, row: dict | None = None) -> dict:
    """One flat row for CSV/xlsx: the usual catalogue columns plus the contract's fields."""
    from .explain import CATEGORY_ZH

    required = [p["name"] for p in answer.get("procedures", []) if p.get("required")]
    bases = sorted({p["basis"] for p in answer.get("procedures", []) if p.get("required")})
    verdict_zh = {"major": "纳入", "not_major": "不纳入", "review": "待人工研判"}.get(answer.get("verdict"), "")
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
    return {k: _safe_cell(v) for k, v in out.items()}


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

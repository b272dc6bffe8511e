"""An uploaded spreadsheet (.xlsx or .csv) as matter rows, refusing bad files with a bilingual
error that names the field and row.

The reading itself is model.sheets' (the one reader, with the one table of column headings, that
the CLI uses too); this module adds what only the service needs: the HTTP status of each refusal
and the check of every row against the profiles before a job is queued."""
from __future__ import annotations

from model.contract import parse_matter
from model.errors import ScreenInputError
from model.sheets import SheetError, Table, read_table
from model.sheets import file_type as _sheet_type
from model.vocab import unknown_profile

from .errors import ApiError
from .xlsx_guard import check_xlsx_archive

Parsed = Table
_TEMPLATE_HINT = (": 请使用模板 (GET /api/v1/jobs/template)", "; see the template at GET /api/v1/jobs/template")


def _api_error(exc: SheetError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.zh, exc.en, exc.field, **exc.extra)


def file_type(filename: str | None, head: bytes = b"") -> str:
    try:
        return _sheet_type(filename)
    except SheetError as exc:
        raise _api_error(exc) from None


def parse_upload(filename: str | None, data: bytes, max_rows: int) -> Parsed:
    if not data:
        raise ApiError(422, "empty_file", "上传的文件是空的", "the uploaded file is empty", "file")
    kind = file_type(filename, data[:8])
    if kind == "xlsx":
        check_xlsx_archive(data)  # before openpyxl inflates anything
    try:
        return read_table(data, kind, max_rows=max_rows, missing_hint=_TEMPLATE_HINT)
    except SheetError as exc:
        raise _api_error(exc) from None


def validate_rows(parsed: Parsed, known_profiles: set[str], default_profile: str | None,
                  limit: int = 100) -> list[dict]:
    """Check every row as the screener will; the errors (row = data row, sheet_row = where it
    is in the file), at most `limit` of them."""
    errors: list[dict] = []
    for n, (rec, sheet_row) in enumerate(zip(parsed.rows, parsed.sheet_rows), start=1):
        try:
            m = parse_matter(rec, n)
            prof = m.profile or default_profile
            if prof is not None and prof not in known_profiles:
                raise unknown_profile(prof, known_profiles, n)
        except ScreenInputError as exc:
            d = exc.as_dict()
            d["row"], d["sheet_row"] = n, sheet_row
            d["message_zh"] = f"第{sheet_row}行: {exc.zh}"
            d["message_en"] = f"row {sheet_row}: {exc.en}"
            errors.append(d)
            if len(errors) >= limit:
                break
    return errors

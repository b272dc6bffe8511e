"""Downloads the JSON API and the pages both offer: the upload template and a finished job's
result, with a Content-Disposition that carries the Chinese file name."""
from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import Response, StreamingResponse

from .export import template_csv, template_xlsx
from .services import jobs as job_service

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def template_response(format: str) -> Response:
    """The upload template as a download (the batch page offers the same files)."""
    if format == "csv":
        return Response(template_csv(), media_type="text/csv; charset=utf-8",
                        headers=disposition("决策事项上传模板.csv", "upload-template.csv"))
    return Response(template_xlsx(), media_type=XLSX, headers=disposition("决策事项上传模板.xlsx", "upload-template.xlsx"))


def disposition(name: str, ascii_name: str | None = None) -> dict[str, str]:
    """Content-Disposition for a download with a Chinese name (and an ASCII one for old clients)."""
    ascii_name = ascii_name or "".join(c if c.isascii() and c not in '"\\' else "_" for c in name)
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"}


def result_response(ctx, job: dict, format: str) -> Response:
    """A finished job's result as a download (the batch page offers the same file)."""
    job_id = job["id"]
    if format == "jsonl":
        return StreamingResponse(job_service.result_lines(ctx, job), media_type="application/x-ndjson",
                                 headers=disposition(f"screened-{job_id}.jsonl"))
    return Response(job_service.result_xlsx(ctx, job), media_type=XLSX,
                    headers=disposition(f"重大行政决策事项目录草稿-{job_id[:8]}.xlsx", f"draft-catalogue-{job_id[:8]}.xlsx"))

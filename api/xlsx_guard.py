""".xlsx bombs: an .xlsx is a zip archive, and a 1 MB upload can inflate to gigabytes of XML
that openpyxl would then hold (its shared strings) or walk. The archive's directory is read
first (cheap: no member is inflated) and the file is refused before parsing when it declares
too much. The declared sizes bind: Python's zipfile, which openpyxl reads through, never
returns more bytes of a member than its declared size (and then fails its CRC check).

Entity expansion inside the XML ("billion laughs") is the other half: openpyxl parses with
defusedxml when it is installed, which the api extra requires."""
from __future__ import annotations

import io
import zipfile

from .errors import ApiError

MB = 1024 * 1024
# A 50,000-row catalogue (the job limit) is some tens of MB of XML; four times that is plenty.
MAX_UNCOMPRESSED_BYTES = 256 * MB
# Spreadsheet XML compresses well (10-50x is usual); thousands-fold is a bomb. Small members
# are exempt: a tiny, highly regular part (styles, an empty sheet) may reach any ratio harmlessly.
MAX_RATIO = 200
RATIO_EXEMPT_BYTES = 1 * MB
# A workbook has a few dozen parts; thousands are no spreadsheet.
MAX_MEMBERS = 1000


def check_xlsx_archive(data: bytes) -> None:
    """Refuse an .xlsx whose archive would inflate too far, before anything parses it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return  # not a zip at all: the reader refuses it with its own message (bad_xlsx)
    if len(members) > MAX_MEMBERS:
        raise ApiError(422, "xlsx_too_complex", f".xlsx 文件包含的部件过多 ({len(members)} 个, 上限 {MAX_MEMBERS}), "
                       "不是正常的表格文件", f"the .xlsx archive has too many parts ({len(members)}; at most "
                       f"{MAX_MEMBERS}): not a normal spreadsheet", "file", members=len(members))
    total = sum(m.file_size for m in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ApiError(413, "xlsx_too_large", f".xlsx 文件解压后过大 (约 {total / MB:,.0f} MB, 上限 "
                       f"{MAX_UNCOMPRESSED_BYTES / MB:g} MB): 请删除多余内容或拆分文件",
                       f"the .xlsx file inflates to too much data (about {total / MB:,.0f} MB; the limit is "
                       f"{MAX_UNCOMPRESSED_BYTES / MB:g} MB): remove unneeded content or split the file", "file",
                       limit_bytes=MAX_UNCOMPRESSED_BYTES)
    for m in members:
        if m.file_size > RATIO_EXEMPT_BYTES and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise ApiError(422, "xlsx_bomb", f".xlsx 文件中的 {m.filename} 压缩比异常 (约 "
                           f"{m.file_size // max(m.compress_size, 1):,} 倍), 疑似压缩炸弹, 已拒绝",
                           f"{m.filename} in the .xlsx file is compressed {m.file_size // max(m.compress_size, 1):,}"
                           f"-fold, far beyond any spreadsheet: refused as a likely zip bomb", "file",
                           member=m.filename)

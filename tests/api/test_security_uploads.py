""".xlsx bombs are refused from the archive's directory, before openpyxl parses anything
(issue 14, finding 4). The bombs are built here, small: a sheet of repeated rows deflated a
thousand-fold, an archive of too many parts, and an archive over the (lowered) size limit."""
import io
import zipfile

from api import xlsx_guard

WATER = "关于调整城区居民生活用水价格的实施方案"
ROW = '<row><c t="inlineStr"><is><t>{}</t></is></c></row>'.format(WATER)


def _workbook(extra=None, sheet_rows: int = 1) -> bytes:
    """A minimal valid .xlsx whose first sheet holds `sheet_rows` copies of one row (streamed
    into the archive, so a big sheet never sits in memory)."""
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override '
        'PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        'sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            fh.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                     b'2006/main"><sheetData><row><c t="inlineStr"><is><t>\xe5\x86\xb3\xe7\xad\x96\xe4\xba\x8b'
                     b'\xe9\xa1\xb9\xe5\x90\x8d\xe7\xa7\xb0</t></is></c></row>')
            chunk = ROW.encode() * 1000
            for _ in range(sheet_rows // 1000):
                fh.write(chunk)
            fh.write(ROW.encode() * (sheet_rows % 1000))
            fh.write(b"</sheetData></worksheet>")
        for name, text in (extra or {}).items():
            zf.writestr(name, text)
    return buf.getvalue()


def _upload(service, data: bytes):
    return service.client.post("/api/v1/jobs", files={"file": ("bomb.xlsx", data, "application/octet-stream")},
                               headers=service.headers)


def test_the_hand_built_workbook_is_a_readable_spreadsheet(service):
    r = _upload(service, _workbook(sheet_rows=3))
    assert r.status_code == 202, r.text
    assert r.json()["total_rows"] == 3


def test_a_sheet_deflated_a_thousand_fold_is_refused_before_parsing(service, monkeypatch):
    data = _workbook(sheet_rows=200_000)  # about 24 MB of XML in an archive of a few dozen kB
    assert len(data) < 200_000
    import openpyxl

    def never(*a, **k):
        raise AssertionError("openpyxl was asked to parse a zip bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    r = _upload(service, data)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "xlsx_bomb" and body["field"] == "file" and "压缩" in body["message_zh"]


def test_an_archive_of_thousands_of_parts_is_refused(service):
    data = _workbook(extra={f"xl/media/p{i}.xml": "<x/>" for i in range(1200)})
    r = _upload(service, data)
    assert r.status_code == 422 and r.json()["code"] == "xlsx_too_complex"


def test_an_archive_that_inflates_past_the_limit_is_a_413(service, monkeypatch):
    # The real limit is 256 MB; lowered here so the test builds a few MB, not hundreds.
    monkeypatch.setattr(xlsx_guard, "MAX_UNCOMPRESSED_BYTES", 2 * 1024 * 1024)
    monkeypatch.setattr(xlsx_guard, "MAX_RATIO", 10**9)
    r = _upload(service, _workbook(sheet_rows=30_000))
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["code"] == "xlsx_too_large" and "解压后过大" in body["message_zh"]


def test_openpyxl_parses_with_defusedxml():
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True

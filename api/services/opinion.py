"""研判意见书: one screened matter's opinion as a reviewer signs it, for the printable page
(/ui/screenings/{id}/opinion) and as a .docx (python-docx). One function gathers the facts in
Chinese from the stored answer and the reviewers' feedback; both forms show exactly those."""
from __future__ import annotations

import io

from model.vocab import ATTRIBUTE_ZH, CATEGORY_ZH, EXCLUSION_ZH, LABEL_ZH, LEVEL_ZH
from model.vocab import VERDICT_OR_ERROR_ZH as VERDICT_ZH

from ..auth import KeyInfo
from . import screenings
from .history import beijing

TITLE = "重大行政决策事项研判意见书"
CONCLUSION = {"major": "属于重大行政决策事项, 建议纳入年度目录", "not_major": "不属于重大行政决策事项",
              "review": "证据不足以自动判断, 须经人工研判确定"}
RULE_KINDS = ("exclusion", "exclusion_overridden", "enumeration", "threshold")


def _zh(text: str | None) -> str:
    # Engine messages are "中文 / English": the opinion is a Chinese document.
    return (text or "").split(" / ")[0].strip()


def _pct(v) -> str:
    return "—" if v is None else f"{float(v) * 100:.1f}%"


def opinion_data(ctx, key: KeyInfo, screening_id: str) -> dict:
    """The opinion's content for a record the key may see (404 otherwise)."""
    rec = screenings.get_visible(ctx, key, screening_id)
    matter = rec["input"] or {}
    ans = rec["answer"] or {}
    profile = ans.get("profile") or matter.get("profile")
    try:
        profile_name = ctx.screener.rulebooks.get(profile).summary()["name"] if profile else ""
    except KeyError:
        profile_name = profile or ""
    facts = [("决策事项名称", matter.get("title") or ""), ("承办单位", matter.get("unit") or "未填"),
             ("决策机关层级", LEVEL_ZH.get(ans.get("level") or matter.get("level") or "", "未填")),
             ("计划决策时间", str(matter.get("planned_period") or matter.get("planned_date_text")
                                 or matter.get("planned_date") or "未定")),
             ("适用标准", profile_name)]
    if matter.get("description"):
        facts.append(("事项说明", matter["description"]))
    verdict = ans.get("verdict")
    result = [("研判结论", f"{VERDICT_ZH.get(verdict, '未能研判')}: {CONCLUSION.get(verdict, '输入有误, 未能研判')}"),
              ("重大概率", _pct(ans.get("probability"))),
              ("决策类别", CATEGORY_ZH.get(ans.get("category") or "", "—")),
              ("分级", LEVEL_ZH.get(ans.get("tier") or "", "未达数值标准"))]
    if ans.get("exclusion"):
        ex = ans["exclusion"]
        result.append(("排除事项", EXCLUSION_ZH.get(ex.get("type"), ex.get("type") or "")))
    attrs = [ATTRIBUTE_ZH.get(k, k) for k, v in (ans.get("attributes") or {}).items() if v >= 0.5]
    if attrs:
        result.append(("事项特征", "、".join(attrs)))
    reasons = [{"text": _zh(r.get("text")), "basis": r.get("basis") or ""} for r in ans.get("reasons") or []
               if r.get("kind") in RULE_KINDS
               or r.get("kind") in ("disagreement", "review_band", "too_little_text", "no_rule")]
    procedures = []
    for p in ans.get("procedures") or []:
        if not p.get("required"):
            continue
        d = p.get("deadline") or {}
        when = "; ".join(f"{label} {d[k]}" for k, label in (("latest_start", "最迟启动"), ("latest_finish", "最迟完成"),
                                                            ("earliest", "不早于")) if d.get(k))
        procedures.append({"name": p["name"], "when": when, "basis": p.get("basis") or ""})
    reviews = [{"label": LABEL_ZH.get(f["label"] or "", ""), "comment": f["comment"] or "",
                "reviewer": f["reviewer"] or "", "when": beijing(f["created_at"])}
               for f in screenings.feedback_of(ctx, rec["id"])]
    return {"title": TITLE, "id": rec["id"], "created": beijing(rec["created_at"]), "facts": facts, "result": result,
            "reasons": reasons, "procedures": procedures, "reviews": reviews,
            "versions": f"模型 {rec['model_version'] or '—'} · 规则 {rec['rules_version'] or '—'}"}


def opinion_docx(data: dict) -> bytes:
    """The opinion as a Word document: A4, a title, two tables, the reasons and procedures, and
    lines for the reviewer's signature."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    sec = doc.sections[0]
    sec.page_height, sec.page_width = Cm(29.7), Cm(21.0)
    sec.top_margin = sec.bottom_margin = Cm(2.0)
    sec.left_margin = sec.right_margin = Cm(2.2)
    normal = doc.styles["Normal"]
    normal.font.size = Pt(10.5)
    normal.font.name = "宋体"
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")
    head = doc.add_paragraph()
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = head.add_run(data["title"])
    run.bold, run.font.size = True, Pt(16)
    doc.add_paragraph(f"编号 {data['id']} · 研判时间 {data['created']} (北京时间)")

    def table(rows):
        t = doc.add_table(rows=0, cols=2)
        t.style = "Table Grid"
        for label, value in rows:
            cells = t.add_row().cells
            cells[0].width, cells[1].width = Cm(3.5), Cm(13.0)
            cells[0].text, cells[1].text = label, str(value)
            cells[0].paragraphs[0].runs[0].bold = True

    doc.add_heading("一、事项基本情况", level=2)
    table(data["facts"])
    doc.add_heading("二、研判结论", level=2)
    table(data["result"])
    doc.add_heading("三、研判理由与依据", level=2)
    for i, r in enumerate(data["reasons"] or [{"text": "未命中规则, 依学习模型与人工研判。", "basis": ""}], start=1):
        doc.add_paragraph(f"{i}. {r['text']}" + (f" (依据: {r['basis']})" if r["basis"] else ""))
    doc.add_heading("四、须履行的法定程序", level=2)
    if data["procedures"]:
        for p in data["procedures"]:
            doc.add_paragraph(f"{p['name']}" + (f": {p['when']}" if p["when"] else "") +
                              (f" (依据: {p['basis']})" if p["basis"] else ""), style="List Bullet")
    else:
        doc.add_paragraph("无。")
    if data["reviews"]:
        doc.add_heading("五、审核意见", level=2)
        for r in data["reviews"]:
            doc.add_paragraph(f"{r['label']} {r['comment']} ({r['reviewer']} · {r['when']})".strip())
    doc.add_paragraph()
    doc.add_paragraph("研判人 (签名): ____________        审核人 (签名): ____________        日期: ____年__月__日")
    foot = doc.add_paragraph(f"本意见为辅助研判意见, 是否纳入目录由决策机关依法决定。{data['versions']}")
    foot.runs[0].font.size = Pt(8)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()

"""Proposal-style restatements of real document titles: the form units send in the fourth quarter.

A published document is titled 关于印发《X办法》的通知; the unit's proposal for it reads 制定《X办法》,
and a plan's reads 编制《X规划》. Each restatement keeps its original's facts, label, issuer, profile
and provenance, and points at it with `derived_from` (so the split keeps the two together).
Only label-preserving rewrites are made: the wrapper is removed, nothing is added to the matter.

    python -m training.derive corpora/items/derived_proposals.jsonl
"""
import json
import re
import sys

from training.corpus import _title_key, load_corpus

POLICY_NOUN = re.compile(r"(办法|规定|细则|意见|方案|规划|纲要|计划|标准|政策|措施|条例|规则|机制|制度)(\((?:试行|暂行|修订|[^()]{0,20}年)\))?$")
SKIP = re.compile(r"(清理结果|工作规则|工作报告|执行情况|名单|目录|决算|总结)")
WRAP = re.compile(r"^(?:(?P<issuer>[^关]{2,40}?(?:人民政府|政府办公室|政府办公厅|办公室|局|委员会|委|厅|办|管委会|街道办事处|党工委))\s*)?"
                  r"关于(?P<inner>.+?)的(?:通知|公告|通告|决定|批复|函|报告|请示|意见的通知)$")
BOOK = re.compile(r"^(?:印发|下发|发布|公布|颁布|出台)(?:《(?P<book>[^《》]+)》|(?P<plain>.+))$")
VERBS = ("调整", "实施", "开展", "建立", "推进", "加强", "做好", "进一步", "加快", "规范", "设立", "撤销", "启动",
         "划定", "征收", "提高", "降低", "取消", "免收", "延长", "同意", "批准", "申请", "修订", "废止", "成立",
         "组织", "举办", "确定", "公布", "下达", "转发", "表彰", "召开", "命名", "授予", "印发")


def main(path: str) -> None:
    records, _ = load_corpus(strict=False)
    records = [r for r in records if not r.derived_from]
    keys = {_title_key(r.title) + "|" + r.profile for r in records}
    out = []
    for r in records:
        if r.source_type != "document" or r.derived_from or re.search(r"[,，;；]", r.title):
            continue
        t = r.title.strip()
        new = None
        m = WRAP.match(t)
        if m:
            inner = m.group("inner").strip()
            b = BOOK.match(inner)
            if b:
                book = (b.group("book") or b.group("plain") or "").strip()
                if book and not book.startswith(("关于", "转发")) and POLICY_NOUN.search(book) and not SKIP.search(book):
                    new = f"制定《{book}》" if not re.search(r"(规划|纲要)", book) else f"编制《{book}》"
            elif inner.startswith(VERBS) and not inner.startswith(("转发", "印发")):
                new = inner
        if new is None and not m:
            bare = t.strip("《》 ")
            if (POLICY_NOUN.search(bare) and not SKIP.search(bare) and "关于" not in bare and "《" not in bare
                    and not bare.startswith(("制定", "编制", "修订")) and len(bare) >= 8):
                new = f"编制《{bare}》" if re.search(r"(规划|纲要)", bare) else f"制定《{bare}》"
        if not new or len(new) < 6 or new == t:
            continue
        k = _title_key(new) + "|" + r.profile
        if k in keys:
            continue
        keys.add(k)
        d = r.model_dump(exclude_none=False)
        d.update(title=new, derived_from=r.id)
        out.append(d)
    print(len(out), file=sys.stderr)
    with open(path, "w", encoding="utf-8") as f:
        for i, d in enumerate(out, 1):
            d["id"] = f"derived_proposals-{i:04d}"
            d = {k: v for k, v in d.items()
                 if not (k in ("issuer_claim", "found_in", "read_at") and v is None)}
            f.write(json.dumps(d, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])

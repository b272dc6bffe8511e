"""A clerk's keyword checklist: the baseline every learned or rule-based answer must beat.

A matter is flagged "major" when its title contains any word of the list below, otherwise
"not major"; there is no review verdict and nothing is learned. The list was written once
from general knowledge of what 重大行政决策事项目录 tend to contain (plans, prices and fees,
land taking and compensation, public works, public policies and their rules) and is never
tuned on any evaluation data: a baseline tuned on the data it is scored on would flatter it."""
from __future__ import annotations

from model.normalise import normalise

KEYWORDS: tuple[str, ...] = (
    # plans
    "规划", "计划", "纲要",
    # policies and the documents that carry them
    "方案", "办法", "规定", "细则", "实施意见", "政策", "措施", "标准",
    # prices and fees
    "价格", "收费", "定价", "调价",
    # land, relocation and compensation
    "征收", "征用", "征地", "补偿", "安置", "拆迁", "搬迁", "征迁",
    # public works and resources
    "建设项目", "工程", "改造", "新建", "扩建", "布局", "保护", "开发", "出让", "特许经营",
    # reforms and money
    "改革", "预算", "民生实事", "重点项目",
)


def keyword_hits(title: str) -> list[str]:
    text = normalise(title)
    return [k for k in KEYWORDS if k in text]


def keyword_verdict(title: str) -> str:
    return "major" if keyword_hits(title) else "not_major"

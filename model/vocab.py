"""The project's one vocabulary: the names the engine, the service, the pages, the CLI and the
training code all use, with their Chinese labels, and the few small rules that must read the
same everywhere (what counts as a duplicate title, how a spreadsheet cell is made safe, how an
unknown rule profile is reported).

A leaf module: it imports nothing of the project but model.normalise and model.errors, so
model/, training/ and api/ can all depend on it."""
from __future__ import annotations

import re
from typing import Literal, get_args

from .errors import ScreenInputError
from .normalise import normalise

# -- levels of the deciding body ---------------------------------------------------------------
Level = Literal["province", "city", "county", "town", "department"]
LEVELS: tuple[str, ...] = get_args(Level)
LEVEL_ZH = {"province": "省级", "city": "市级", "county": "县级", "town": "乡镇(街道)", "department": "部门"}
# What people write in a level column.
LEVEL_ALIASES = {"省": "province", "省级": "province", "市": "city", "市级": "city", "县": "county",
                 "县级": "county", "区": "county", "县区": "county", "乡": "town", "镇": "town",
                 "乡镇": "town", "街道": "town", "部门": "department"}

# -- categories of major decisions (条例第3条) --------------------------------------------------
Category = Literal["public_policy", "plan", "resources", "construction", "catch_all"]
CATEGORIES: tuple[str, ...] = get_args(Category)
CATEGORY_ZH = {"public_policy": "重大公共政策和措施", "plan": "重要规划", "resources": "自然和文化资源",
               "construction": "重大公共建设项目", "catch_all": "兜底 (其他重大事项)"}

# -- exclusion types ---------------------------------------------------------------------------
ExclusionType = Literal["legislation", "emergency_response", "macro_fiscal", "personnel",
                        "internal_management", "individual_act", "statutory_procedure",
                        "foreign_affairs", "normative_document", "confidential", "routine"]
EXCLUSION_TYPES: tuple[str, ...] = get_args(ExclusionType)
EXCLUSION_ZH = {
    "legislation": "政府立法 (规章、地方性法规草案)", "emergency_response": "突发事件应急处置",
    "macro_fiscal": "宏观调控 (财政、货币政策)", "personnel": "人事任免", "internal_management": "机关内部管理",
    "individual_act": "个案行政行为 (许可、处罚、复议等)", "statutory_procedure": "法律另有程序规定",
    "foreign_affairs": "外事事项", "normative_document": "规范性文件 (另行程序)", "confidential": "依法不公开事项",
    "routine": "日常事务 (通知、会议、表彰、报告等)",
}

# -- attributes that trigger procedures --------------------------------------------------------
Attribute = Literal["technical", "stability_risk", "market_entities", "price_utility",
                    "public_interest", "land_relocation"]
ATTRIBUTES: tuple[str, ...] = get_args(Attribute)
ATTRIBUTE_ZH = {"technical": "专业性、技术性较强", "stability_risk": "可能影响社会稳定或公共安全",
                "market_entities": "涉及市场主体经济活动", "price_utility": "公用事业、公益服务价格",
                "public_interest": "涉及重大公共利益", "land_relocation": "征地拆迁、补偿安置"}

# -- measures read from the text ---------------------------------------------------------------
Measure = Literal["amount_wan", "people", "area_mu", "length_km", "duration_years"]
MEASURE_ZH = {"amount_wan": "金额(万元)", "people": "人数", "area_mu": "面积(亩)", "length_km": "长度(公里)",
              "duration_years": "期限(年)"}

# -- procedures, in the order a decision goes through them -------------------------------------
PROCEDURE_NAMES: tuple[str, ...] = (
    "公众参与", "听证", "专家论证", "风险评估", "合法性审查", "集体讨论决定", "公平竞争审查",
    "党委请示报告", "人大报告", "决策公布", "档案归档", "决策后评估",
)

# -- verdicts and reviewers' labels ------------------------------------------------------------
Verdict = Literal["major", "not_major", "review"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
Label = Literal["major", "not_major"]
LABELS: tuple[str, ...] = get_args(Label)
# As the catalogue column 是否纳入 reads; "error" is a row that could not be screened.
VERDICT_ZH = {"major": "纳入", "not_major": "不纳入", "review": "待人工研判"}
VERDICT_OR_ERROR_ZH = {**VERDICT_ZH, "error": "输入错误"}
LABEL_ZH = {"major": "重大 (纳入)", "not_major": "非重大 (不纳入)"}

# -- where a screening record came from (the service's record sources) -------------------------
SOURCE_ZH = {"screen": "单项研判", "batch": "批量接口", "job": "表格任务"}


# -- duplicates --------------------------------------------------------------------------------
_DUP_DRAFT = re.compile(r"\((送审稿|草案|征求意见稿|试行)\)")
_DUP_DOC_END = re.compile(r"(的通知|的请示|的报告)$")
_DUP_NOISE = re.compile(r"[\s\"'“”‘’《》〈〉()\[\]【】\-—,.;:、。!?！？]")


def duplicate_key(title: str | None) -> str:
    """What two titles share when they name the same matter: normalised (full-width digits and
    punctuation folded), without a draft marker, the 关于…的通知 wrapper, punctuation or spaces.
    The CLI's file mode, a job's draft catalogue and the batch page all flag duplicates by it."""
    t = _DUP_NOISE.sub("", _DUP_DRAFT.sub("", normalise(title or "")))
    return re.sub(r"^关于", "", _DUP_DOC_END.sub("", t))


class DuplicateFinder:
    """Feed titles in row order; `see` returns the row number of the first identical matter."""

    def __init__(self) -> None:
        self._first: dict[str, int] = {}

    def see(self, row: int, title: str | None) -> int | None:
        key = duplicate_key(title)
        if not key:
            return None
        first = self._first.setdefault(key, row)
        return None if first == row else first


# -- spreadsheet cells -------------------------------------------------------------------------
# Cells starting with these run as formulas in spreadsheet programs (CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_cell(v):
    """A value as a spreadsheet should show it: text that would run as a formula is escaped
    with a leading apostrophe, and characters XML cannot hold are dropped (openpyxl would
    refuse the whole file)."""
    if isinstance(v, str):
        v = _ILLEGAL_XML.sub("", v)
        if v.startswith(FORMULA_START):
            return "'" + v
    return v


# -- errors ------------------------------------------------------------------------------------

def unknown_profile(name: str | None, known, row: int | None = None, field: str = "profile") -> ScreenInputError:
    """The one "unknown rule profile" error, listing the profiles there are."""
    names = ", ".join(sorted(known))
    return ScreenInputError("unknown_profile", f"未知的标准: {name} (可选: {names})",
                            f"unknown profile: {name} (known: {names})", field, row)

"""The answer contract (docs/ARCHITECTURE.md, "The contract"), as pydantic models shared by CLI, API and UI.
Extend, never break: new fields are optional, names never change."""
from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .dates import read_planned
from .errors import ScreenInputError
from .safe_text import CONTROL_ERROR, MultiLine, SingleLine, blank_to_none, control_messages
from .vocab import LEVEL_ALIASES, PROCEDURE_NAMES  # noqa: F401  (PROCEDURE_NAMES: part of the contract's names)
from .vocab import Level as LevelName

MAX_TITLE = 500
MAX_DESCRIPTION = 20_000
_JUNK = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class MatterIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    id: SingleLine | None = Field(default=None, max_length=200, description="调用方的编号 / caller's id, echoed back")
    title: MultiLine = Field(min_length=1, max_length=MAX_TITLE, description="决策事项名称 / title of the matter")
    description: MultiLine | None = Field(default=None, max_length=MAX_DESCRIPTION,
                                          description="事项说明 / description")
    unit: MultiLine | None = Field(default=None, max_length=200, description="承办单位 / lead unit")
    level: LevelName | None = Field(default=None, description="决策机关层级 / level of the deciding body")
    profile: SingleLine | None = Field(default=None, max_length=64, description="适用的标准 / rule profile")
    amount_wan: float | None = Field(default=None, ge=0, le=1e9, description="金额 (万元) / amount, 10k yuan")
    people: float | None = Field(default=None, ge=0, le=2e9, description="涉及人数 / people affected")
    area_mu: float | None = Field(default=None, ge=0, le=1e9, description="面积 (亩) / area in mu")
    length_km: float | None = Field(default=None, ge=0, le=1e6, description="长度 (公里) / length in km")
    duration_years: float | None = Field(default=None, ge=0, le=100, description="期限 (年) / duration")
    planned_date: dt.date | None = Field(default=None, description="计划决策日期 / planned decision date "
                                         "(also 2027/4/15, 2027年4月15日, 2027年第二季度, 下半年, 待定 …)")
    planned_period: SingleLine | None = Field(
        default=None, max_length=50, description="计划决策时间为一个期间时 (如 2027年第二季度) 的原样表述, planned_date 取其"
                                                 "最后一个工作日; 未定为“未定” / the period the date was given as")
    planned_date_text: SingleLine | None = Field(
        default=None, max_length=200, description="无法识别的计划决策日期原文 (表格上传时保留, 该行照常筛查并给出提示) / "
                                                  "an unreadable planned date as written")

    @model_validator(mode="before")
    @classmethod
    def _office_dates(cls, data):
        # Office spellings (2027/4/15, 2027年第二季度, 下半年, 待定) become a date, or a period's
        # last working day with the period kept; what cannot be read is left for _date_only to refuse.
        if not isinstance(data, dict):
            return data
        v = data.get("planned_date")
        if not isinstance(v, str) or not v.strip() or _ISO_DATE.fullmatch(v.strip()):
            return data
        pd = read_planned(v)
        if pd.kind in ("date", "period"):
            data = {**data, "planned_date": pd.date.isoformat()}
            if pd.kind == "period" and not data.get("planned_period"):
                data["planned_period"] = pd.period
        elif pd.kind == "undecided":
            data = {**data, "planned_date": None}
            data.setdefault("planned_period", "未定")
        return data

    @field_validator("description", "unit", "profile", "amount_wan", "people", "area_mu", "length_km",
                     "duration_years", "planned_date", mode="before")
    @classmethod
    def _blank_is_absent(cls, v):
        return blank_to_none(v)

    @field_validator("amount_wan", "people", "area_mu", "length_km", "duration_years", mode="before")
    @classmethod
    def _no_bool_numbers(cls, v):
        # JSON true would otherwise read as 1.0; numbers written as text (spreadsheet cells) stay accepted.
        if isinstance(v, bool):
            raise PydanticCustomError("bool_not_number", "a number is expected, not true/false")
        return v

    @field_validator("planned_date", mode="before")
    @classmethod
    def _date_only(cls, v):
        # A date, not a datetime or a timestamp: "2026-12-18T10:00" or 1766016000 is a mistake
        # of the caller's, not a date to guess at.
        v = blank_to_none(v)
        if isinstance(v, dt.datetime):
            if v.time() != dt.time(0) or v.tzinfo is not None:
                raise PydanticCustomError("date_not_datetime", "a date (YYYY-MM-DD) is expected, not a datetime")
            return v.date()
        if isinstance(v, (bool, int, float)):
            raise PydanticCustomError("date_type", "a date (YYYY-MM-DD) is expected")
        if isinstance(v, str) and not _ISO_DATE.fullmatch(v.strip()):
            raise PydanticCustomError("date_not_datetime", "a date (YYYY-MM-DD) is expected")
        return v

    @field_validator("id", mode="before")
    @classmethod
    def _id_to_str(cls, v):
        v = blank_to_none(v)
        if v is None or (isinstance(v, float) and v != v):
            return None
        if isinstance(v, bool):
            raise PydanticCustomError("bool_not_id", "an id is text or a number, not true/false")
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return str(v)

    @field_validator("planned_date")
    @classmethod
    def _plausible_date(cls, v):
        # Deadlines are counted back over months of working days; far-off years overflow and
        # are certainly typos.
        if v is not None and not (1900 <= v.year <= 2200):
            raise ValueError("planned_date out of range")
        return v

    @field_validator("level", mode="before")
    @classmethod
    def _level_alias(cls, v):
        if isinstance(v, str):
            v = v.strip()
            if not v:
                return None
            return LEVEL_ALIASES.get(v, v)
        return v

    @field_validator("title", "description")
    @classmethod
    def _not_junk(cls, v):
        if v is None:
            return v
        if _JUNK.search(v):
            raise ValueError("contains binary or undecodable characters")
        if not re.search(r"[\u4e00-\u9fff\u3400-\u4dbfA-Za-z0-9]", v):
            raise ValueError("contains no readable text")
        return v


class Deadline(BaseModel):
    # Frozen: answers share Deadline and Procedure instances (model.procedures builds each once).
    model_config = ConfigDict(frozen=True)

    latest_start: dt.date | None = None
    latest_finish: dt.date | None = None
    earliest: dt.date | None = None
    rule: str
    # True when a year's holiday schedule was estimated from the holiday rule, not published.
    estimated: bool = False


class Procedure(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    required: bool
    basis: str
    why: str
    # required (应当) | recommended (可以, and the facts point to it) | conditional (可以, if
    # something happens later) | not_required; `required` is True only for "required".
    status: Literal["required", "recommended", "conditional", "not_required"] | None = None
    deadline: Deadline | None = None


class Reason(BaseModel):
    kind: str
    rule_id: str | None = None
    text: str
    evidence: str | None = None
    span: list[int] | None = None
    basis: str | None = None
    source: str | None = None


class Similar(BaseModel):
    title: str
    label: str
    issuer: str | None = None
    year: int | None = None
    source_url: str | None = None
    score: float


class Answer(BaseModel):
    id: str | None
    verdict: Literal["major", "not_major", "review"]
    probability: float
    confidence: float
    category: str | None
    tier: str | None
    exclusion: dict | None = None
    procedures: list[Procedure]
    reasons: list[Reason]
    numbers: dict
    attributes: dict[str, float]
    similar: list[Similar]
    profile: str
    level: str
    model_version: str
    rules_version: str
    warnings: list[str] = Field(default_factory=list)


_FIELD_ZH = {"title": "标题", "description": "说明", "unit": "承办单位", "level": "层级", "profile": "标准",
             "amount_wan": "金额", "people": "人数", "area_mu": "面积", "length_km": "长度",
             "duration_years": "期限", "planned_date": "计划决策日期", "id": "编号",
             "planned_period": "计划决策期间", "planned_date_text": "计划决策日期原文"}


_ZH_PROBLEM = {"bool_not_number": "应为数字, 不接受 true/false", "bool_not_id": "应为文字或数字, 不接受 true/false",
               "float_parsing": "应为数字", "float_type": "应为数字", "finite_number": "应为有限的数字",
               "greater_than_equal": "不能为负数", "less_than_equal": "超出允许的最大值",
               "string_type": "应为文字", "int_from_float": "应为整数"}


def parse_matter(data: dict, row: int | None = None) -> MatterIn:
    """Validate one matter, turning pydantic's error into our bilingual one."""
    try:
        return MatterIn.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else None
        zh_field = _FIELD_ZH.get(field or "", field or "输入")
        kind = err["type"]
        if kind == CONTROL_ERROR:
            zh, en = control_messages(field or "input", zh_field, (err.get("ctx") or {}).get("codepoint", "?"))
            raise ScreenInputError(CONTROL_ERROR, zh, en, field, row) from None
        if field == "title" and kind in ("missing", "string_too_short"):
            raise ScreenInputError("title_required", "标题不能为空", "title is required and must not be blank",
                                   "title", row) from None
        if kind == "string_too_long":
            raise ScreenInputError("too_long", f"{zh_field}过长", f"{field} is too long", field, row) from None
        if field == "planned_date":
            bad = str(err.get("input"))[:60]
            raise ScreenInputError("bad_date", f"计划决策日期“{bad}”无法识别: 应为1900至2200年间的真实日期, 如 2027-04-15、"
                                   "2027年4月15日、2027年6月、2027年第二季度、下半年、待定",
                                   f"planned_date {bad!r} cannot be read: give a real date between 1900 and 2200 "
                                   "(2027-04-15), a month, quarter or half year, or 待定", field, row) from None
        if field == "level":
            raise ScreenInputError("bad_level", "层级应为 province/city/county/town/department (或 省/市/县/乡镇/部门)",
                                   "level must be one of province, city, county, town, department", field, row) from None
        if kind == "value_error" and "binary" in str(err.get("msg")):
            raise ScreenInputError("binary_input", f"{zh_field}含有无法识别的二进制字符",
                                   f"{field} contains binary or undecodable characters", field, row) from None
        if kind == "value_error":
            raise ScreenInputError("unreadable", f"{zh_field}没有可识别的文字", f"{field} has no readable text",
                                   field, row) from None
        # message_zh stays Chinese: pydantic's English text goes only into message_en.
        raise ScreenInputError("bad_field", f"{zh_field}{_ZH_PROBLEM.get(kind, '无效')}", f"invalid {field}: {err['msg']}",
                               field, row) from None

"""The HTTP API's own models. The matter and the answer are the engine's contract
(model.contract.MatterIn / Answer), reused as they are; what is added here only extends them."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from model.contract import Answer, MatterIn
from model.safe_text import MultiLine, SingleLine, blank_to_none
from model.vocab import Category, Label
from model.vocab import ExclusionType as Exclusion


class ErrorBody(BaseModel):
    """错误 (中英双语, 同 CLI) / an error, in Chinese and English, the same as the CLI's."""
    model_config = ConfigDict(extra="allow")
    code: str = Field(description="稳定的错误代码 / stable error code, e.g. title_required, unknown_profile")
    message_zh: str = Field(description="中文说明 / message in Chinese")
    message_en: str = Field(description="英文说明 / message in English")
    field: str | None = Field(default=None, description="出错的字段 / the field at fault, e.g. matters[3].title")


class ScreenedAnswer(Answer):
    screening_id: str = Field(description="筛查记录编号, 用于反馈 / id of the screening record (for feedback)")


class BatchIn(BaseModel):
    matters: list[MatterIn] = Field(min_length=1, max_length=1000,
                                    description="1-1000 个事项 / 1 to 1,000 matters")


class BatchOut(BaseModel):
    count: int
    answers: list[ScreenedAnswer] = Field(description="与输入同序 / in the order of the input")
    model_version: str
    rules_version: str


class FeedbackBrief(BaseModel):
    id: int
    agree: bool
    label: Label
    comment: str | None
    reviewer: str | None
    created_at: str


class ScreeningRecord(BaseModel):
    screening_id: str
    created_at: str
    source: Literal["screen", "batch", "job"]
    job_id: str | None
    row: int | None
    input: dict[str, Any]
    answer: Answer | None
    error: ErrorBody | None
    model_version: str
    rules_version: str
    feedback: list[FeedbackBrief]


class JobCounts(BaseModel):
    major: int
    not_major: int
    review: int
    error: int


class CallbackState(BaseModel):
    url: str
    state: Literal["pending", "sent", "failed"] | None = Field(
        description="pending 待发送 / sent 已送达 / failed 多次重试后放弃; null 任务未结束")
    attempts: int
    last_error: str | None


class DecisionCounts(BaseModel):
    adopt: int = Field(description="采纳 / adopted")
    reject: int = Field(description="不采纳 / rejected")
    pending: int = Field(description="待定 / pending")
    undecided: int = Field(description="未决定 / not decided yet")
    withdrawn: int = Field(description="年中撤回 (仍计入 adopt) / withdrawn mid-year (counted in adopt too)")


class JobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"] = Field(
        description="queued 排队 / running 筛查中 / done 完成 / failed 失败")
    filename: str
    profile: str | None
    total_rows: int
    done_rows: int
    progress: float = Field(ge=0, le=1, description="已完成比例 / fraction done")
    counts: JobCounts
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    result_url: str | None
    ignored_columns: list[str] = Field(description="未识别而忽略的列 / headings not recognised (ignored)")
    error: ErrorBody | None
    callback: CallbackState | None
    decisions: DecisionCounts | None = Field(default=None, description="审核决策计数 (任务完成后) / decision counts")


class JobEvent(JobOut):
    """回调请求体 / the body POSTed to callback_url when the job ends."""
    event: Literal["job.finished"]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    screening_id: SingleLine = Field(min_length=1, max_length=64, description="筛查记录编号 / screening_id of the answer")
    agree: bool = Field(description="是否同意该结论 / does the reviewer agree with the verdict")
    label: Label | None = Field(default=None, description="正确结论; 不同意或结论为 review 时必填 / the correct "
                                "label; required when disagreeing or when the verdict was review")
    comment: MultiLine | None = Field(default=None, max_length=5000, description="理由 / why")
    reviewer: SingleLine | None = Field(default=None, max_length=200, description="审核人 / reviewer's name")
    category: Category | None = Field(default=None, description="正确的决策类别 (可选) / correct category")
    exclusion: Exclusion | None = Field(default=None, description="不纳入的原因类型 (可选) / why not major")

    @field_validator("label", "comment", "reviewer", "category", "exclusion", mode="before")
    @classmethod
    def _blank_is_absent(cls, v):
        return blank_to_none(v)


class FeedbackOut(BaseModel):
    id: int
    screening_id: str
    agree: bool
    label: Label
    verdict: str | None = Field(description="服务当时的结论 / what the service had answered")
    created_at: str


class ModelInfo(BaseModel):
    model_version: str
    rules_version: str
    learned: bool = Field(description="是否加载了学习模型 (否则仅规则) / learned model loaded (else rules only)")
    default_profile: str
    profiles: list[str]
    model_card: dict[str, Any] | None
    backend: dict[str, Any] = Field(default_factory=dict, description="在用的模型后端; 回退到 TF-IDF 时说明原因 / "
                                    "the backend answering, and why when it fell back to TF-IDF")
    api_version: str


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


__all__ = ["Answer", "MatterIn"]


# -- the catalogue year (issue 12) ----------------------------------------------------------------

class RowPatch(BaseModel):
    """一行的审核决策, 和/或更正后的字段 (更正后该行重新筛查) / a row's decision and/or corrected fields."""
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")
    decision: Literal["adopt", "reject", "pending"] | None = Field(
        default=None, description="adopt 采纳 / reject 不采纳 / pending 待定")
    reason: MultiLine | None = Field(default=None, max_length=2000, description="理由 / why")
    reviewer: SingleLine | None = Field(default=None, max_length=200,
                                        description="审核人 (默认为密钥名称) / reviewer (default: the key's name)")
    fields: dict[str, Any] | None = Field(
        default=None, description="更正的字段 (title, unit, description, planned_date, …; 空值清除), 保存后该行重新筛查 / "
                                  "corrected fields (a blank clears one); the row is screened again")

    @field_validator("reason", "reviewer", mode="before")
    @classmethod
    def _blank_is_absent(cls, v):
        return blank_to_none(v)


class AdjustmentChange(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")
    action: Literal["add", "withdraw", "reschedule"] = Field(
        description="add 新增 / withdraw 撤回 / reschedule 调整计划时间")
    row: int | None = Field(default=None, ge=1, description="目录事项的行号 (withdraw, reschedule) / the row")
    planned_date: SingleLine | None = Field(default=None, max_length=50,
                                            description="新的计划时间 (reschedule) / the new planned date")
    fields: dict[str, Any] | None = Field(
        default=None, description="新增事项的字段 (add), 至少有 title / the new matter's fields")
    reason: MultiLine | None = Field(default=None, max_length=2000, description="该项的理由 (默认用总理由)")


class AdjustmentIn(BaseModel):
    """年中调整: 一次调整生成一个新的目录版本 / a mid-year adjustment: one new catalogue version."""
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")
    reason: MultiLine = Field(min_length=1, max_length=2000, description="调整理由 / why")
    reviewer: SingleLine | None = Field(default=None, max_length=200, description="操作人 / who")
    changes: list[AdjustmentChange] = Field(min_length=1, max_length=500)


class TickIn(BaseModel):
    """勾选一项程序已完成 (或取消) / tick a procedure done (or not done)."""
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")
    row: int = Field(ge=1, description="目录事项的行号 / the row")
    procedure: SingleLine = Field(min_length=1, max_length=32, description="程序名称, 如 公众参与 / procedure name")
    done: bool = Field(default=True, description="是否已完成 / done")
    note: MultiLine | None = Field(default=None, max_length=2000, description="备注 / note")
    reviewer: SingleLine | None = Field(default=None, max_length=200, description="操作人 / who")

"""Bilingual, structured input errors: every layer (CLI, HTTP, UI) shows the same message."""
from __future__ import annotations


class ScreenInputError(ValueError):
    """Bad input from a user: carries a stable code, the field at fault and a message in
    Chinese and English. Never a bug of ours (those stay ordinary exceptions)."""

    def __init__(self, code: str, zh: str, en: str, field: str | None = None, row: int | None = None):
        super().__init__(f"{zh} / {en}")
        self.code, self.zh, self.en, self.field, self.row = code, zh, en, field, row

    def one_line(self) -> str:
        where = f"第{self.row}行 row {self.row}: " if self.row is not None else ""
        fld = f" [{self.field}]" if self.field else ""
        return f"{where}{self.zh} / {self.en}{fld}"

    def as_dict(self) -> dict:
        out = {"code": self.code, "message_zh": self.zh, "message_en": self.en, "field": self.field}
        if self.row is not None:
            out["row"] = self.row
        return out

"""Text types for every field a caller fills in: they refuse characters that are never content.

Control characters (C0 incl. NUL, DEL, C1) come from binary data pasted or uploaded by mistake,
and PostgreSQL cannot store NUL at all; the bidirectional overrides and isolates (U+202A-U+202E,
U+2066-U+2069) make a page show text in an order other than the one stored (a title that reads
differently from what was screened). `SingleLine` (ids, names, profiles, URLs) also refuses tab
and line breaks; `MultiLine` (titles, units, descriptions, comments: spreadsheet cells that people
wrap, e.g. two joint lead units on two lines) keeps them.

Both raise one pydantic error type, `control_character`, which the CLI (contract.parse_matter)
and the API (api/errors.py) turn into the same bilingual message. `blank_to_none` makes an
empty optional value mean "not given"."""
from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

CONTROL_ERROR = "control_character"
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_IN_LINE = re.compile(f"[\t\n\r{_CONTROL}]")
_IN_TEXT = re.compile(f"[{_CONTROL}]")


def first_control(value: str, multiline: bool = False) -> str | None:
    """The first refused character as U+XXXX, or None."""
    m = (_IN_TEXT if multiline else _IN_LINE).search(value)
    return f"U+{ord(m.group()):04X}" if m else None


def _checker(multiline: bool):
    def check(value: str) -> str:
        cp = first_control(value, multiline)
        if cp is not None:
            raise PydanticCustomError(CONTROL_ERROR, "contains the control or formatting character {codepoint}",
                                      {"codepoint": cp})
        return value

    return check


SingleLine = Annotated[str, AfterValidator(_checker(multiline=False))]
MultiLine = Annotated[str, AfterValidator(_checker(multiline=True))]


def blank_to_none(value: Any) -> Any:
    """An optional field sent as "" (or only spaces) is absent, as a blank spreadsheet cell is."""
    return None if isinstance(value, str) and not value.strip() else value


def control_messages(field: str, zh_field: str, codepoint: str) -> tuple[str, str]:
    """(Chinese, English) for a refused character, the same in every layer."""
    return (f"{zh_field}含有控制字符或不可见的排版控制符 ({codepoint}), 可能来自二进制内容或文字方向控制符; 请删除后重新提交",
            f"{field} contains a control or invisible formatting character ({codepoint}), e.g. from binary data "
            "or a text-direction override; remove it and send again")

"""Checks the API makes on a matter before it reaches the engine, beyond the contract's own.

The engine's procedure deadlines count working days back from planned_date, which overflows
Python's calendar for dates near year 1 or 9999 (model/procedures.py raises OverflowError):
such a date is a typing mistake, so it gets the bilingual bad_date error instead of a 500."""
from __future__ import annotations

import datetime as dt

from model.contract import MatterIn
from model.errors import ScreenInputError

EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2200, 12, 31)


def check_matter(m: MatterIn, row: int | None = None) -> None:
    if m.planned_date is not None and not EARLIEST <= m.planned_date <= LATEST:
        raise ScreenInputError("bad_date", f"计划决策日期超出范围 ({EARLIEST.year}-{LATEST.year}年)",
                               f"planned_date must be between {EARLIEST} and {LATEST}", "planned_date", row)

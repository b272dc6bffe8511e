"""Who may see a record: the key that made it, or an admin key. One rule for screenings,
their feedback, jobs and the pages, so no path is laxer than another."""
from __future__ import annotations

from ..auth import KeyInfo


def can_see(owner_key_id: str | None, key: KeyInfo) -> bool:
    return owner_key_id == key.id or key.allows("admin")


def visible_where(owner_column, key: KeyInfo, *other_owner_columns) -> list:
    """The same rule as a SQL condition (empty for admin): the rows one of whose owner columns
    is this key. Feedback is visible to the key that gave it and to the owner of its record."""
    if key.allows("admin"):
        return []
    from sqlalchemy import or_

    cols = (owner_column, *other_owner_columns)
    return [or_(*(c == key.id for c in cols))] if len(cols) > 1 else [owner_column == key.id]

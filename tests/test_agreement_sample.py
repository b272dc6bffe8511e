"""The blind double-labelling sample (training/agreement.py, round 2026-12)."""
from types import SimpleNamespace

from training.agreement import BLIND_FIELDS, _allocate, blind_rows, draw_sample


def _records():
    recs = []
    for stem, n_major, n_not in (("big", 60, 140), ("mid", 50, 50), ("small", 3, 9)):
        for i in range(n_major + n_not):
            recs.append(SimpleNamespace(
                id=f"{stem}-{i:04d}", label="major" if i < n_major else "not_major", title=f"t{stem}{i}",
                description=None, issuer="某县人民政府", level="county", unit=None, profile="national",
                exclusion=None if i < n_major else "routine", reason="r"))
    recs.append(SimpleNamespace(id="other-0001", label="major", title="x", description=None, issuer=None,
                                level="city", unit=None, profile="national", exclusion=None, reason=None))
    return recs


def test_allocation_gives_each_group_its_minimum_and_adds_up_exactly():
    parts = _allocate({"big": 200, "mid": 100, "small": 12}, 60, 20)
    assert sum(parts.values()) == 60
    assert parts["small"] == 12 and parts["mid"] >= 20 and parts["big"] > parts["mid"]


def test_sample_is_reproducible_and_drawn_only_from_the_named_files():
    a = draw_sample(_records(), files=("big", "mid", "small"), n=60, seed=7, minimum=10)
    b = draw_sample(_records(), files=("big", "mid", "small"), n=60, seed=7, minimum=10)
    assert [r.id for r in a] == [r.id for r in b]
    assert len(a) == 60 and not any(r.id.startswith("other-") for r in a)
    c = draw_sample(_records(), files=("big", "mid", "small"), n=60, seed=8, minimum=10)
    assert [r.id for r in a] != [r.id for r in c]


def test_each_file_keeps_its_label_mix_in_the_sample():
    sample = draw_sample(_records(), files=("big", "mid", "small"), n=60, seed=7, minimum=10)
    big = [r for r in sample if r.id.startswith("big-")]
    share = sum(r.label == "major" for r in big) / len(big)
    assert abs(share - 0.3) < 0.05


def test_the_blind_file_shows_no_label_exclusion_or_reason():
    rows = blind_rows(draw_sample(_records(), files=("big", "mid", "small"), n=30, seed=1, minimum=5))
    assert all(tuple(row) == BLIND_FIELDS for row in rows)
    assert not any({"label", "exclusion", "reason", "category", "attributes"} & set(row) for row in rows)

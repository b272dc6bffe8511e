"""A job's JSON-lines download copies stored JSON text as it is: the lines are the same as
those made from parsed records, chunked or not."""
import datetime as dt
import json

from api.export import result_jsonl


def _records():
    answer = {"verdict": "major", "procedures": [{"name": "公众参与", "required": True}], "reasons": []}
    error = {"code": "bad_row", "message_zh": "标题为空", "message_en": "empty title", "field": "title"}
    return [
        {"row_no": 1, "id": "a" * 32, "input": {"title": "县城乡供水专项规划"}, "answer": answer, "error": None},
        {"row_no": 2, "id": "b" * 32, "input": {"title": ""}, "answer": None, "error": error},
        {"row_no": 3, "id": "c" * 32, "input": {"title": "关于召开会议的通知"}, "answer": answer, "error": None},
    ]


def _raw(rec: dict) -> dict:
    return {**rec, **{k: (json.dumps(rec[k], ensure_ascii=False) if rec[k] is not None else None)
                      for k in ("input", "answer", "error")}}


def test_stored_json_text_gives_the_same_lines_as_parsed_records():
    decisions = {3: {"decision": "reject", "reason": "例行", "reviewer": "张三",
                     "decided_at": dt.datetime(2026, 12, 7, 9, 0), "withdrawn_version": None}}
    parsed = b"".join(result_jsonl(_records(), decisions))
    raw = b"".join(result_jsonl([_raw(r) for r in _records()], decisions, lines_per_chunk=1))
    assert parsed == raw
    lines = [json.loads(x) for x in parsed.decode("utf-8").splitlines()]
    assert [x["row"] for x in lines] == [1, 2, 3]
    assert lines[0]["answer"]["verdict"] == "major" and "error" not in lines[0]
    assert lines[1]["error"]["code"] == "bad_row" and "answer" not in lines[1]
    assert lines[2]["decision"]["decision"] == "reject"


def test_lines_come_in_chunks_not_one_by_one():
    chunks = list(result_jsonl(_records() * 100, lines_per_chunk=128))
    assert len(chunks) == 3 and sum(c.count(b"\n") for c in chunks) == 300

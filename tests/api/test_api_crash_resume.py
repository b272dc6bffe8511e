"""Nothing is lost to a crash: the real server (uvicorn, `decision-screen serve`) is killed
with SIGKILL in the middle of a big job, then started again. The job resumes at the first
unscreened row, the rows screened before the crash are kept as they were (same record ids,
never screened twice), and the feedback acknowledged before the crash is there."""
import io
import time

import httpx
from sqlalchemy import select

from api.db import Database, feedback, jobs, screenings

ROWS = 6000
TITLES = ["关于调整城区居民生活用水价格的实施方案", "全市国土空间总体规划(2021-2035年)", "关于召开全市安全生产工作会议的通知",
          "市区中小学校布局调整方案", "启动防汛IV级应急响应的通知", "县城乡供水专项规划(2025-2035年)"]


def _csv(n: int) -> bytes:
    lines = ["序号,决策事项名称,承办单位"] + [f"{i},{TITLES[i % len(TITLES)]}(第{i}项),市政府办公室"
                                             for i in range(1, n + 1)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _job_rows(db: Database, job_id: str) -> dict[int, str]:
    with db.read() as conn:
        return dict(conn.execute(select(screenings.c.row_no, screenings.c.id)
                                 .where(screenings.c.job_id == job_id)).all())


def test_kill_9_mid_job_then_restart_resumes_and_loses_nothing(server_factory, db_url):
    # Rules only and small chunks: a job of a few seconds with many commits, so the kill lands mid-job.
    srv = server_factory({"DECISION_SCREEN_MODEL": "rules-only", "DECISION_SCREEN_JOB_CHUNK_ROWS": "50"})
    srv.start()
    # First start printed and saved a usable key (what `make run` shows a new user).
    key = (srv.var_dir / "local_api_key.txt").read_text().strip()
    assert key in srv.log.read_text()
    h = {"X-API-Key": key}
    with httpx.Client(base_url=srv.base, headers=h, timeout=30) as c:
        job = c.post("/api/v1/jobs", files={"file": ("big.csv", io.BytesIO(_csv(ROWS)), "text/csv")}).json()
        job_id = job["id"]
        answer = c.post("/api/v1/screen", json={"title": TITLES[0]}).json()
        fb = c.post("/api/v1/feedback", json={"screening_id": answer["screening_id"], "agree": False,
                                               "label": "not_major", "comment": "崩溃前提交"})
        assert fb.status_code == 201
        deadline = time.monotonic() + 60
        while True:
            status = c.get(f"/api/v1/jobs/{job_id}").json()
            if status["done_rows"] >= 500:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.01)
    srv.kill()
    assert status["done_rows"] < ROWS, "the job finished before the kill; make it bigger"

    db = Database(db_url)
    try:
        before = _job_rows(db, job_id)
        with db.read() as conn:
            cut = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one()
        # Chunks commit whole: the rows done are exactly 1..k, and the cursor says k+1.
        k = len(before)
        assert status["done_rows"] <= k < ROWS
        assert set(before) == set(range(1, k + 1))
        assert cut["status"] == "running" and cut["next_row"] == k + 1 and cut["done_rows"] == k

        srv.start()
        restarted = time.monotonic()
        with httpx.Client(base_url=srv.base, headers=h, timeout=30) as c:
            while (status := c.get(f"/api/v1/jobs/{job_id}").json())["status"] != "done":
                assert time.monotonic() - restarted < 60, status
                time.sleep(0.1)
            # Taken over at once (the dead owner was seen to be dead), not after the 60 s lease.
            assert time.monotonic() - restarted < 40
            assert status["done_rows"] == ROWS and sum(status["counts"].values()) == ROWS
            lines = c.get(f"/api/v1/jobs/{job_id}/result?format=jsonl").text.splitlines()
            assert len(lines) == ROWS
            rec = c.get(f"/api/v1/screenings/{answer['screening_id']}").json()
        after = _job_rows(db, job_id)
        assert set(after) == set(range(1, ROWS + 1))
        assert all(after[n] == before[n] for n in before)  # kept, not screened again
        assert "resuming job" in srv.log.read_text()
        assert [f["comment"] for f in rec["feedback"]] == ["崩溃前提交"]
        with db.read() as conn:
            assert conn.execute(select(feedback.c.label)).scalars().all() == ["not_major"]
    finally:
        srv.stop()
        db.dispose()

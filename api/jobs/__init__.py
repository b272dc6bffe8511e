"""Spreadsheet jobs: the queue in the database (queue.py), the worker thread that screens the
rows (worker.py) and the job-end callbacks (callbacks.py)."""
from ..services.ids import new_id
from .callbacks import CallbackSender
from .queue import create_job, get_job, job_records, public, recent_jobs
from .worker import MAX_ATTEMPTS, JobWorker

__all__ = ["MAX_ATTEMPTS", "CallbackSender", "JobWorker", "create_job", "get_job", "job_records", "new_id",
           "public", "recent_jobs"]

"""The service's commands, joined onto `decision-screen` by model/cli.py:

    decision-screen serve [--host --port --workers --no-job-worker]
    decision-screen worker
    decision-screen keys create|list|revoke
    decision-screen export-feedback --output F.jsonl
    decision-screen migrate

Web and database libraries are imported inside the commands, so `decision-screen screen`
keeps working (and starting fast) on an install without the `api` extra."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sys
from pathlib import Path

import typer

keys_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="API 密钥管理 / manage API keys (scopes: screen, jobs, feedback, admin)")


def _db():
    from .db import Database, migrate
    from .settings import from_env

    settings = from_env()
    db = Database(settings.db_url)
    migrate(db)
    return settings, db


def _say(msg: str) -> None:
    typer.echo(msg, err=True)


def write_local_key(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the first byte: the key is never readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    os.chmod(path, 0o600)


def ensure_local_key(settings, db) -> tuple[str | None, str]:
    """A key a new user can use at once. Returns (key or None, what happened)."""
    from .auth import SCOPES, active_key_count, create_key, lookup

    path = settings.local_key_file
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if key and lookup(db, key) is not None:
            return key, f"本地密钥 (保存在 {path}) / local key, kept in {path}"
    if active_key_count(db) == 0:
        key, _ = create_key(db, "local (first start)", SCOPES)
        write_local_key(path, key)
        return key, f"已创建本地密钥, 保存在 {path} (仅本人可读) / created a local key, saved to {path} (mode 0600)"
    return None, ("数据库中已有密钥; 新建: decision-screen keys create --name 名称 --scope screen / "
                  "the database already has keys; make one with `decision-screen keys create`")


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="listen address"),
    port: int = typer.Option(8000, "--port", help="listen port"),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="uvicorn worker processes"),
    log_level: str = typer.Option("info", "--log-level"),
    access_log: bool = typer.Option(False, "--access-log/--no-access-log", help="log every request"),
    job_worker: bool = typer.Option(True, "--job-worker/--no-job-worker",
                                    help="start one job worker process beside the server (off: jobs are run "
                                         "by `decision-screen worker` processes elsewhere)"),
) -> None:
    """启动 HTTP 服务 / run the HTTP API (uvicorn), with one job worker process beside it."""
    from model.learned.base import one_blas_thread

    one_blas_thread()  # before numpy loads; the web and worker processes inherit it
    import uvicorn

    settings, db = _db()
    key, note = ensure_local_key(settings, db)
    db.dispose()
    base = f"http://{host if host not in ('0.0.0.0', '::') else '127.0.0.1'}:{port}"
    _say("")
    _say(f"decision-screen API: {base}   (docs: {base}/docs)")
    _say(f"数据库 database: {_redact(settings.db_url)}")
    if key:
        _say(f"API 密钥 / API key: {key}")
        _say(f"  {note}")
        _say(f"  curl -s -H 'X-API-Key: {key}' -H 'Content-Type: application/json' \\")
        _say(f"       -d '{{\"title\": \"关于调整城区居民生活用水价格的实施方案\"}}' {base}/api/v1/screen")
    else:
        _say(note)
    _say("")
    if workers > 1:
        # prometheus-client's multiprocess mode: each worker writes its own files, /metrics sums them.
        prom = settings.var_dir / "prometheus"
        shutil.rmtree(prom, ignore_errors=True)
        prom.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prom.resolve())
    from .http_protocol import PROTOCOL  # requests uvicorn itself refuses get the JSON error shape too

    # The web processes only queue jobs: the worker tier runs them (api/jobs/tier.py). By default
    # that is one worker process beside the server, so `make run` needs no other service.
    child = _start_worker_child() if job_worker and settings.run_job_worker else None
    os.environ["DECISION_SCREEN_JOB_WORKER"] = "0"  # read by the web processes' Settings
    try:
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, access_log=access_log, timeout_graceful_shutdown=15, http=PROTOCOL)
    finally:
        if child is not None:
            from .process import stop

            stop(child, grace=40)


WORKER_NICENESS = 5  # the job worker that serve starts runs at this much lower CPU priority


def _start_worker_child():
    """`decision-screen worker` as a child process that dies with this one, even on SIGKILL
    (the kernel's parent-death signal), so a killed server never leaves a worker behind."""
    import signal
    import subprocess

    def _die_with_parent() -> None:
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:  # not Linux: the finally of serve still stops it on a normal exit
            pass
        # Below the web processes: when both want the CPU (start-up, a job during screening
        # traffic), the callers waiting on a screening come first; idle cores still run jobs.
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)

    # serve has started no thread yet, so preexec_fn is safe here.
    return subprocess.Popen([sys.executable, "-m", "decision_screen", "worker"], preexec_fn=_die_with_parent)  # noqa: PLW1509


def worker(
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """运行任务进程 (批量任务与回调) / run a job worker: spreadsheet jobs and their callbacks, no HTTP.

    Run any number of them, on any number of machines, against one PostgreSQL database; on
    SQLite, `serve` starts the one worker it needs itself."""
    import logging

    from model.learned.base import one_blas_thread

    one_blas_thread()
    from .jobs.tier import run
    from .settings import from_env

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run(from_env())


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@keys_app.command("create")
def keys_create(
    name: str = typer.Option(..., "--name", help="who or what uses the key, e.g. 'OA system'"),
    scope: list[str] = typer.Option(["screen"], "--scope", help="screen | jobs | feedback | admin (repeat)"),
) -> None:
    """新建密钥 (只显示一次) / create a key (shown once)."""
    from .services import keys

    _, db = _db()
    try:
        key, row = keys.create(db, name, scope)
    except ValueError as exc:
        _say(f"错误 error: {exc}")
        raise typer.Exit(2) from None
    _say(f"已创建 created key {row['id']} ({row['name']}; scopes {row['scopes']}). "
         "请妥善保存, 不会再次显示 / store it now: it is not shown again.")
    typer.echo(key)


@keys_app.command("list")
def keys_list() -> None:
    """列出密钥 (不含密钥本身) / list keys (never the secrets)."""
    from .services import keys

    _, db = _db()
    rows = keys.listing(db)
    typer.echo(f"{'id':<10} {'scopes':<28} {'created':<26} {'revoked':<26} name")
    for r in rows:
        typer.echo(f"{r['id']:<10} {r['scopes']:<28} {r['created_at'].isoformat(timespec='seconds'):<26} "
                   f"{(r['revoked_at'].isoformat(timespec='seconds') if r['revoked_at'] else '-'):<26} {r['name']}")


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="the key's id (see `keys list`)")) -> None:
    """吊销密钥 / revoke a key (takes effect within seconds in running services)."""
    from .services import keys

    _, db = _db()
    if not keys.revoke(db, key_id):
        _say(f"错误 error: 没有有效的密钥 {key_id} / no active key {key_id}")
        raise typer.Exit(2)
    _say(f"已吊销 revoked {key_id}")


def export_feedback(
    output: Path = typer.Option(..., "--output", "-o", help=".jsonl to write ('-' for stdout)"),
    since: str | None = typer.Option(None, "--since", help="only feedback from this date (YYYY-MM-DD)"),
) -> None:
    """导出审核反馈为训练数据 (corpora/SCHEMA.md, source_type=feedback) / export feedback as corpus records."""
    from .feedback_export import export

    start = None
    if since:
        try:
            start = dt.datetime.combine(dt.date.fromisoformat(since), dt.time(), tzinfo=dt.UTC)
        except ValueError:
            _say("错误 error: --since 应为 YYYY-MM-DD / --since must be YYYY-MM-DD")
            raise typer.Exit(2) from None
    _, db = _db()
    if str(output) == "-":
        n, skipped = export(db, sys.stdout, "feedback", start)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("w", encoding="utf-8") as fh:
            n, skipped = export(db, fh, output.stem, start)
    _say(f"导出 exported {n} 条 records" + (f"; 略过 {skipped} 条 (标题长度不在 2-300) / left out {skipped} "
                                           "(title not 2-300 characters)" if skipped else "")
         + ("" if str(output) == "-" else f" → {output}"))


def migrate_cmd() -> None:
    """升级数据库结构 / bring the database schema up to date (Alembic)."""
    from .db import current_revision

    settings, db = _db()
    _say(f"{_redact(settings.db_url)}: revision {current_revision(db)}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(keys_app, name="keys")
    app.command("export-feedback")(export_feedback)
    app.command("migrate")(migrate_cmd)

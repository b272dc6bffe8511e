"""What a web process loads at start (issue 13: cold start to ready under 1.5 s): not the
libraries only some requests need, and no Alembic where the schema is already current."""
import subprocess
import sys
from pathlib import Path

from api.db import Database, alembic_config, at_head, head_revision, migrate

ROOT = Path(__file__).resolve().parents[2]
# Loaded where a request needs them (spreadsheets, Word files, pages, training), never at start.
NOT_AT_START = ("sklearn", "scipy", "joblib", "pandas", "openpyxl", "docx", "matplotlib", "transformers", "torch",
                "jinja2", "alembic")


def test_head_revision_read_from_the_files_is_alembics():
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_a_current_schema_is_recognised_and_a_new_one_migrated(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    assert not at_head(db)  # empty: Alembic creates the tables
    migrate(db)
    assert at_head(db)
    db.dispose()


def test_web_process_starts_without_the_libraries_few_requests_need(tmp_path):
    code = ("import sys\n"
            "from fastapi.testclient import TestClient\n"
            "from api.app import create_app\n"
            "from api.db import Database, migrate\n"
            "from api.settings import from_env\n"
            "migrate(Database(from_env().db_url))\n"
            "sys.modules.pop('alembic', None)\n"
            "for k in [k for k in sys.modules if k.startswith('alembic.')]: sys.modules.pop(k)\n"
            "with TestClient(create_app()) as c:\n"
            "    assert c.get('/readyz').status_code == 200\n"
            f"    bad = sorted({{k.split('.')[0] for k in sys.modules}} & set({NOT_AT_START!r}))\n"
            "print(bad)\n"
            "assert not bad, bad\n")
    env = {"PATH": "/usr/bin:/bin", "DECISION_SCREEN_VAR": str(tmp_path), "DECISION_SCREEN_JOB_WORKER": "0",
           "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True,
                         timeout=180, env=env)
    assert out.returncode == 0, out.stdout + out.stderr


def test_service_processes_run_numpy_with_one_blas_thread(tmp_path):
    """Entry points set one BLAS thread before numpy loads (an operator's setting wins): the
    products of a screening are small, and extra BLAS threads only contend with the other
    processes (a batch's precedents took several times longer on a busy 2-core machine)."""
    code = ("from model.learned.base import one_blas_thread\n"
            "one_blas_thread()\n"
            "import numpy\n"
            "from threadpoolctl import threadpool_info\n"
            "blas = [p for p in threadpool_info() if p['user_api'] == 'blas']\n"
            "print(blas)\n"
            "assert blas and all(p['num_threads'] == 1 for p in blas)\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    env["OPENBLAS_NUM_THREADS"] = "2"
    show = "from model.learned.base import one_blas_thread; import os; one_blas_thread(); print(os.environ['OPENBLAS_NUM_THREADS'])"
    out = subprocess.run([sys.executable, "-c", show],
                         check=False, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert out.stdout.strip() == "2"

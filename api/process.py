"""Running the service as a child process: wait until it answers /readyz, stop it.

Used by the HTTP benchmark and by the tests that need a real server (crash-resume, browser)."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path


def wait_until_ready(proc: subprocess.Popen, base_url: str, log: Path, timeout: float, poll: float = 0.1) -> None:
    """Return once GET {base_url}/readyz answers 200; RuntimeError with the log's tail if the
    process exits first or the timeout passes."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server not ready after {timeout:g}s:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(poll)


def stop(proc: subprocess.Popen | None, grace: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it has not ended after `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)

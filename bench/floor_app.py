"""The floor for the HTTP benchmark: a bare FastAPI app whose POST /api/v1/screen validates the
same pydantic body as the service (model.contract.MatterIn) and returns a constant answer.

Served exactly as the service is (uvicorn, same workers, same HTTP protocol class), it shows what
the framework alone costs on this machine; bench/bench_all.py reports the service against it.

    uvicorn bench.floor_app:app --workers 2"""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response

from model.contract import MatterIn

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
_CONSTANT = b'{"verdict":"not_major","probability":0.1}'


@app.post("/api/v1/screen")
async def screen(matter: MatterIn) -> Response:
    return Response(_CONSTANT, media_type="application/json")


@app.get("/readyz")
async def readyz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


if __name__ == "__main__":  # served the way `decision-screen serve` serves the service
    import argparse
    import sys
    from pathlib import Path

    import uvicorn

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from api.http_protocol import PROTOCOL

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--app", default="bench.floor_app:app", help="what to serve (module:attribute)")
    ap.add_argument("--factory", action="store_true", help="the attribute is a factory (uvicorn's --factory)")
    a = ap.parse_args()
    uvicorn.run(a.app, factory=a.factory, host="127.0.0.1", port=a.port, workers=a.workers, log_level="warning",
                access_log=False, timeout_graceful_shutdown=15, http=PROTOCOL)

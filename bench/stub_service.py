"""The service with its screener replaced by one that returns a fixed, real answer at once: the
HTTP path of POST /api/v1/screen (middleware, key check, validation, batcher, record hand-off,
serialisation) without the screening. bench/bench_all.py serves it like the floor and the
service, so the three rows separate the framework's cost, the service path's and the screening's.

    python bench/floor_app.py --app bench.stub_service:create --factory --port 8000 --workers 2"""
from __future__ import annotations

from model.screener import Screener


class FixedScreener(Screener):
    """Answers every matter with the answer of one sample matter, computed once."""

    def __init__(self):
        super().__init__(model=None)
        self._fixed = super().screen_many([{"title": "关于调整城区居民生活用水价格的实施方案"}])[0]

    def screen_many(self, matters, start_row=None):
        return [self._fixed for _ in matters]


def create():
    from api.app import create_app

    return create_app(screener=FixedScreener())

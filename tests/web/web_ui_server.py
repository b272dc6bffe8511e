"""The service with the reviewer pages, built exactly as api/app.py's create_app is asked to
mount them (two lines, see api/web/__init__.py); run as a script it is the real uvicorn
server the browser tests drive:

    python tests/web/web_ui_server.py --port 8765   (settings from the environment, as `serve`)
"""
from __future__ import annotations

import argparse


def build_app(settings=None, screener=None):
    from api import web
    from api.app import create_app

    app = create_app(settings, screener=screener)
    # -- the two lines for create_app --
    app.include_router(web.router)
    app.mount(web.STATIC_URL, web.static_files(), name="ui-static")
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(build_app(), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

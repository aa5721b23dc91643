"""`python -m bench.framework`: what FastAPI costs over plain Starlette, per request.

Both apps get the same middleware and answer the same constant JSON; the ASGI
callable is invoked directly (no server, no network, no dependencies), so the
difference is the framework layer alone. Alternating rounds; the median is printed.
"""

from __future__ import annotations

import argparse
import statistics
import time

from fastapi import Depends, FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from app.middleware import RequestContext

BODY = b'{"status":"ok"}'


async def _ping(_request=None):
    return Response(BODY, media_type="application/json")


async def _dep(request: Request):
    return request.app


def _sync_dep(request: Request):
    return request.app


def fastapi_app() -> FastAPI:
    app = FastAPI()
    app.add_api_route("/v1/ping", _ping, methods=["GET"])

    async def with_dep(_x=Depends(_dep)):
        return Response(BODY, media_type="application/json")
    app.add_api_route("/v1/dep", with_dep, methods=["GET"])

    async def with_sync_dep(_x=Depends(_sync_dep)):
        return Response(BODY, media_type="application/json")
    app.add_api_route("/v1/syncdep", with_sync_dep, methods=["GET"])
    app.add_middleware(RequestContext, max_body_bytes=16384, access_log=None)
    return app


def starlette_app() -> Starlette:
    app = Starlette(routes=[Route("/v1/ping", _ping), Route("/v1/dep", _ping)])
    app.add_middleware(RequestContext, max_body_bytes=16384, access_log=None)
    return app


async def _rate(app, path: str, n: int) -> float:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message):
        return None

    start = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - start) / n * 1e6


async def main(n: int, rounds: int) -> None:
    apps = {"starlette /v1/ping": (starlette_app(), "/v1/ping"),
            "fastapi /v1/ping": (fastapi_app(), "/v1/ping"),
            "fastapi, one async Depends": (fastapi_app(), "/v1/dep"),
            "fastapi, one plain-def Depends (thread pool)": (fastapi_app(), "/v1/syncdep")}
    results: dict[str, list[float]] = {k: [] for k in apps}
    for _ in range(rounds):
        for name, (app, path) in apps.items():
            results[name].append(await _rate(app, path, n))
    base = statistics.median(results["starlette /v1/ping"])
    for name, values in results.items():
        med = statistics.median(values)
        print(f"{name}: {med:.1f} us/request ({med - base:+.1f} us vs starlette)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.framework", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import uvloop

    uvloop.run(main(args.requests, args.rounds))

"""A bundled stand-in for Apptoto's API, for the quick start: answers JSON and shows what the gateway forwarded."""

from __future__ import annotations

from aiohttp import web

_SAMPLE: dict[str, dict[str, object]] = {
    "/v1/events": {"events": [{"id": 1, "title": "Dentist", "start_time": "2026-12-01T09:00:00-08:00"}]},
    "/v1/contacts": {"contacts": [{"id": 7, "name": "Ada Lovelace", "phone": "+15555550100"}]},
    "/v1/status": {"status": "ok"},
}


async def handle(request: web.Request) -> web.Response:
    body = await request.read()
    payload: dict[str, object] = {
        **_SAMPLE.get(request.path, {}),
        "demo_upstream": {
            "method": request.method,
            "path": request.raw_path,
            "body_bytes": len(body),
            "identity": {k: v for k, v in request.headers.items() if k.lower().startswith("x-auth-")},
            "request_id": request.headers.get("X-Request-Id"),
        },
    }
    return web.json_response(payload)


def build_demo_upstream() -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="run the demo upstream alone")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    web.run_app(build_demo_upstream(), host=args.host, port=args.port, access_log=None, print=None)

"""Send a request target byte for byte (client libraries normalize paths, which would hide bypass attempts)."""

from __future__ import annotations

import asyncio


async def raw_request(host: str, port: int, request: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(65536), timeout)
    finally:
        writer.close()
        await writer.wait_closed()
    status_line = data.split(b"\r\n", 1)[0]
    return int(status_line.split()[1]), data


def get(target: bytes, *headers: bytes) -> bytes:
    extra = b"".join(h + b"\r\n" for h in headers)
    return b"GET " + target + b" HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n" + extra + b"\r\n"

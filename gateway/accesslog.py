"""The access log: one JSON line per request, buffered and written in batches.

Building a record through the logging module and writing it per request costs more CPU than many requests' own work
(about 22 us here), so lines are formatted directly and written every `interval` seconds or every `batch` lines.
A line carries ids, method, path, route, decision, reason, status and latency: never a token, secret, cookie or
query string.
"""

from __future__ import annotations

import asyncio
import sys
import time
from json.encoder import encode_basestring  # the C string escaper json itself uses
from typing import TextIO


class AccessLog:
    def __init__(self, stream: TextIO | None = None, *, interval: float = 0.2, batch: int = 512) -> None:
        self._stream = stream
        self._interval = interval
        self._batch = batch
        self._lines: list[str] = []

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def record(
        self,
        request_id: str,
        method: str,
        path: str,
        route: str,
        decision: str,
        reason: str,
        status: int,
        latency: float,
    ) -> None:
        # request_id is a sanitized or generated id and method an HTTP token: neither can hold a quote.
        self._lines.append(
            f'{{"ts":{time.time():.3f},"request_id":"{request_id}","method":"{method}","path":{encode_basestring(path)},'
            f'"route":{encode_basestring(route)},"decision":"{decision}","reason":{encode_basestring(reason)},'
            f'"status":{status},"latency_ms":{latency * 1000:.3f}}}'
        )
        if len(self._lines) >= self._batch:
            self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        stream = self.stream
        stream.write("\n".join(lines) + "\n")
        stream.flush()

    async def run(self) -> None:
        """Flush periodically until cancelled; what is buffered at cancellation is written too."""
        try:
            while True:
                await asyncio.sleep(self._interval)
                self.flush()
        finally:
            self.flush()

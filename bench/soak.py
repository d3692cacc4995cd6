"""`python -m bench.soak`: minutes of mixed traffic with application churn against N gateways on one Redis.

Everything runs on 127.0.0.1 and is stopped on exit: a redis-server of its own, the bundled demo upstream and
`--gateways` `scopegate serve` processes with this checkout's code. Applications are registered through the admin
API; their tokens are minted with scopegate's own issuance code against the same Redis (bench/tokens.py). A bounded
pool of concurrent clients sends GETs with live and with revoked tokens to every gateway, while a churn task, on the
first gateway's admin API, deletes applications and revokes user authorizations (one user of one application, or a
user everywhere), then keeps sending the revoked tokens everywhere. A 2xx for a token whose revocation was
acknowledged more than `ALLOWANCE` seconds before the request was sent is WRONGLY ACCEPTED (exit status 1); a 2xx
within that second after the acknowledgement is reported separately. Key counts per family (SCAN) and Redis memory
are sampled every `--sample-every` seconds. Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import secrets
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from bench.procs import Procs, free_port, wait_port
from bench.servers import ROOT, SERVER_CORE, Gateway, Stack
from bench.tokens import SCOPES, Minter
from gateway.issuance import start_grant
from gateway.models import AccessTokenRecord
from gateway.security import TokenKind, mint

ALLOWANCE = 1.0  # redis.subscription_timeout: the propagation allowance after an acknowledged revocation
ACCESS_TTL = 60  # short lifetimes so that the TTL families plateau within minutes
REFRESH_TTL = 120
APPS = 4  # live applications at any time
USERS_PER_APP = 5
TOKENS_PER_GRANT = 3
USER_POOL = 40  # user ids are drawn from a fixed pool: per-user keys stay bounded
PATH = "/v1/events"  # needs events:read

# Key families (the patterns of tests/store/test_keys_bounded.py FAMILIES, copied: bench does not import tests).
FAMILIES: list[tuple[str, str]] = [
    (r"sg:at:[^:]+", f"ttl {ACCESS_TTL} s (minted here)"),
    (r"sg:rt:\{[^}]+\}", f"ttl {REFRESH_TTL} s"),
    (r"sg:rtu:\{[^}]+\}", f"ttl {REFRESH_TTL} s"),
    (r"sg:code:\{[^}]+\}", "ttl"),
    (r"sg:codeu:\{[^}]+\}", "ttl"),
    (r"sg:grant:\{[^}]+\}:[^:]+", f"ttl {REFRESH_TTL} s"),
    (r"sg:epoch:ua:.+", f"ttl {REFRESH_TTL + 3600} s (refresh_ttl + 1 h)"),
    (r"sg:epoch:u:.+", f"ttl {REFRESH_TTL + 3600} s (refresh_ttl + 1 h)"),
    (r"sg:tmp:.+", "ttl"),
    (r"sg:cnt:.+", "ttl"),
    (r"sg:app:\{[^}]+\}", "owner: the application"),
    (r"sg:app:\{[^}]+\}:secrets", "owner: the application"),
    (r"sg:app:\{[^}]+\}:grants", "owner: the application (clean-up)"),
    (r"sg:app:\{[^}]+\}:users", "owner: the application (clean-up)"),
    (r"sg:app:\{[^}]+\}:consents", "owner: the application (clean-up)"),
    (r"sg:authz:\{[^}]+\}", "owner: the user's consents"),
    (r"sg:authz:\{[^}]+\}:lastused", "owner: the user's consents"),
    (r"sg:apps", "registry"),
    (r"sg:cleanup:apps", "queue"),
    (r"sg:audit", "stream, trimmed"),
    (r"sg:scopebits(:next)?", "scope catalog"),
]
_COMPILED = [(re.compile(p), p) for p, _ in FAMILIES]


def family_of(key: str) -> str:
    for rx, pattern in _COMPILED:
        if rx.fullmatch(key):
            return pattern
    return "(unknown)"


@dataclass
class Tok:
    client_id: str
    user_id: str
    minted: float  # monotonic
    revoke_started: float | None = None
    acked: float | None = None


@dataclass
class Sample:
    t: float  # seconds since the start of traffic
    families: Counter[str]
    used_memory: int
    keys: int


@dataclass
class Stats:
    sent: int = 0
    live_ok: int = 0
    live_refused: Counter[int] = field(default_factory=Counter)
    inflight_ok: int = 0  # sent before / answered after the revocation call started: either answer is right
    inflight_refused: int = 0
    revoked_refused: int = 0
    late_ok: int = 0  # 2xx within ALLOWANCE after the acknowledgement
    wrong: int = 0  # 2xx more than ALLOWANCE after the acknowledgement
    wrong_examples: list[str] = field(default_factory=list)
    revoked_other: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    churn: Counter[str] = field(default_factory=Counter)
    churn_failed: Counter[str] = field(default_factory=Counter)
    revoked_tokens: int = 0
    max_ack_after_call: float = 0.0  # slowest admin revocation call (s)

    @property
    def accepted(self) -> int:
        return self.live_ok + self.inflight_ok + self.late_ok + self.wrong

    @property
    def refused(self) -> int:
        return (
            sum(self.live_refused.values())
            + self.inflight_refused
            + self.revoked_refused
            + sum(self.revoked_other.values())
        )


class Soak:
    def __init__(self, stack: Stack, gateways: list[Gateway], minter: Minter, args: argparse.Namespace) -> None:
        self.stack = stack
        self.gateways = gateways
        self.minter = minter
        self.args = args
        self.stats = Stats()
        self.tokens: dict[str, Tok] = {}
        self.live: list[str] = []
        self.revoked: deque[str] = deque(maxlen=2000)
        self.apps: deque[str] = deque()  # oldest first
        self.grants: dict[str, dict[str, list[str]]] = {}  # client id -> user id -> tokens
        self.samples: list[Sample] = []
        self.t0 = 0.0
        self.stop = asyncio.Event()
        self.admin = gateways[0].admin_url
        self.admin_headers = {"Authorization": f"Bearer {stack.admin_token}"}

    # --- population ------------------------------------------------------------------------------------------

    async def register_app(self, http: aiohttp.ClientSession) -> str:
        body = {"name": f"soak-{secrets.token_hex(3)}", "redirect_uri": "https://soak.example/cb", "owner": "soak"}
        async with http.post(f"{self.admin}/admin/applications", json=body, headers=self.admin_headers) as r:
            if r.status != 201:
                raise RuntimeError(f"POST /admin/applications: {r.status} {await r.text()}")
            client_id = str((await r.json())["client_id"])
        self.apps.append(client_id)
        self.grants[client_id] = {}
        for _ in range(USERS_PER_APP):
            await self.add_user(client_id)
        return client_id

    async def add_user(self, client_id: str) -> None:
        taken = self.grants[client_id]
        user_id = random.choice([u for u in (str(50_000 + n) for n in range(USER_POOL)) if u not in taken])
        issued = await start_grant(
            self.minter.store,
            self.minter.hasher,
            client_id=client_id,
            user_id=user_id,
            scopes=SCOPES,
            access_ttl=ACCESS_TTL,
            refresh_ttl=REFRESH_TTL,
        )
        g = issued.grant
        now = int(time.time())
        extra = [mint(TokenKind.ACCESS) for _ in range(TOKENS_PER_GRANT - 1)]
        await self.minter.store.save_access_tokens(
            [
                (
                    self.minter.hasher.hash(t),
                    AccessTokenRecord(g.grant_id, client_id, user_id, frozenset(SCOPES), now, now + ACCESS_TTL),
                )
                for t in extra
            ]
        )
        toks = [issued.access_token, *extra]
        taken[user_id] = toks
        for t in toks:
            self.tokens[t] = Tok(client_id, user_id, time.monotonic())
            self.live.append(t)

    # --- churn ------------------------------------------------------------------------------------------------

    async def _revoke(
        self, http: aiohttp.ClientSession, kind: str, method: str, url: str, body: Any, victims: list[str]
    ) -> None:
        started = time.monotonic()
        for t in victims:
            self.tokens[t].revoke_started = started
        async with http.request(method, url, json=body, headers=self.admin_headers) as r:
            text = await r.text()
            ok = r.status == 200
        acked = time.monotonic()
        if not ok:
            # Not acknowledged: these tokens are in an unknown state; they are no longer sent.
            self.stats.churn_failed[f"{kind} {r.status} {text[:80]}"] += 1
            gone = set(victims)
            self.live = [t for t in self.live if t not in gone]
            for t in victims:
                del self.tokens[t]
            return
        self.stats.churn[kind] += 1
        self.stats.max_ack_after_call = max(self.stats.max_ack_after_call, acked - started)
        gone = set(victims)
        self.live = [t for t in self.live if t not in gone]
        for t in victims:
            self.tokens[t].acked = acked
            if len(self.revoked) == self.revoked.maxlen:
                self.tokens.pop(self.revoked[0], None)
            self.revoked.append(t)
        self.stats.revoked_tokens += len(victims)

    async def delete_app(self, http: aiohttp.ClientSession) -> None:
        client_id = self.apps.popleft()
        victims = [t for toks in self.grants.pop(client_id).values() for t in toks]
        await self._revoke(
            http, "DELETE application", "DELETE", f"{self.admin}/admin/applications/{client_id}", None, victims
        )
        await self.register_app(http)

    async def revoke_user_app(self, http: aiohttp.ClientSession) -> None:
        client_id = random.choice(list(self.apps))
        user_id = random.choice(list(self.grants[client_id]))
        victims = self.grants[client_id].pop(user_id)
        body = {"client_id": client_id, "user_id": user_id}
        await self._revoke(http, "revoke user x application", "POST", f"{self.admin}/admin/revocations", body, victims)
        await self.add_user(client_id)

    async def revoke_user(self, http: aiohttp.ClientSession) -> None:
        client_id = random.choice(list(self.apps))
        user_id = random.choice(list(self.grants[client_id]))
        holders = [c for c in self.apps if user_id in self.grants[c]]
        victims = [t for c in holders for t in self.grants[c].pop(user_id)]
        await self._revoke(
            http, "revoke user", "POST", f"{self.admin}/admin/revocations", {"user_id": user_id}, victims
        )
        for c in holders:
            await self.add_user(c)

    async def churn(self, http: aiohttp.ClientSession) -> None:
        actions = [self.delete_app, self.revoke_user_app, self.revoke_user_app, self.revoke_user]
        i = 0
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.args.churn_every)
            if self.stop.is_set():
                return
            action = actions[i % len(actions)]
            i += 1
            try:
                await action(http)
            except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
                self.stats.churn_failed[f"{action.__name__}: {type(exc).__name__}: {str(exc)[:80]}"] += 1

    # --- traffic ----------------------------------------------------------------------------------------------

    def pick(self) -> str | None:
        now = time.monotonic()
        if self.revoked and random.random() < self.args.revoked_share:
            if random.random() < 0.5:  # the most recently revoked: the propagation window
                return self.revoked[-1 - random.randrange(min(50, len(self.revoked)))]
            return random.choice(self.revoked)
        fresh = [t for t in self.live[-200:] if now - self.tokens[t].minted < ACCESS_TTL - 15]
        return random.choice(fresh) if fresh else None

    async def worker(self, http: aiohttp.ClientSession) -> None:
        while not self.stop.is_set():
            token = self.pick()
            if token is None:
                await asyncio.sleep(0.01)
                continue
            tok = self.tokens[token]
            gw = random.choice(self.gateways)
            sent = time.monotonic()
            self.stats.sent += 1
            try:
                async with http.get(gw.url + PATH, headers={"Authorization": f"Bearer {token}"}) as r:
                    await r.read()
                    status = r.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.stats.errors[type(exc).__name__] += 1
                continue
            answered = time.monotonic()
            self.classify(token, tok, gw, sent, answered, status)
            if self.args.pause:
                await asyncio.sleep(self.args.pause)

    def classify(self, token: str, tok: Tok, gw: Gateway, sent: float, answered: float, status: int) -> None:
        ok = 200 <= status < 300
        s = self.stats
        if tok.acked is not None and sent > tok.acked:
            if not ok:
                if status == 401:
                    s.revoked_refused += 1
                else:
                    s.revoked_other[status] += 1
            elif sent > tok.acked + ALLOWANCE:
                s.wrong += 1
                if len(s.wrong_examples) < 20:
                    s.wrong_examples.append(
                        f"{gw.name}: token of {tok.client_id}/{tok.user_id} got {status}, "
                        f"sent {sent - tok.acked:.3f} s after the acknowledgement"
                    )
            else:
                s.late_ok += 1
        elif tok.revoke_started is not None and answered >= tok.revoke_started:
            if ok:
                s.inflight_ok += 1
            else:
                s.inflight_refused += 1
        elif ok:
            s.live_ok += 1
        else:
            s.live_refused[status] += 1

    # --- sampling ---------------------------------------------------------------------------------------------

    async def sample(self, r: aioredis.Redis) -> None:
        fams: Counter[str] = Counter({p: 0 for p, _ in FAMILIES})
        n = 0
        async for key in r.scan_iter(count=1000):
            fams[family_of(key.decode() if isinstance(key, bytes) else str(key))] += 1
            n += 1
        info = await r.info("memory")
        self.samples.append(Sample(time.monotonic() - self.t0, fams, int(info["used_memory"]), n))
        print(
            f"[soak] t={self.samples[-1].t:6.0f}s sent={self.stats.sent} wrong={self.stats.wrong} keys={n} "
            f"used_memory={int(info['used_memory']) // 1024} KiB",
            flush=True,
        )

    async def sampler(self, r: aioredis.Redis) -> None:
        while not self.stop.is_set():
            try:
                await asyncio.wait_for(self.stop.wait(), self.args.sample_every)
            except TimeoutError:
                await self.sample(r)

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        conn = aiohttp.TCPConnector(limit=self.args.concurrency + 4)
        r = aioredis.Redis.from_url(self.stack.redis_url)
        try:
            async with aiohttp.ClientSession(timeout=timeout, connector=conn) as http:
                for _ in range(APPS):
                    await self.register_app(http)
                self.t0 = time.monotonic()
                await self.sample(r)
                tasks = [asyncio.create_task(self.worker(http)) for _ in range(self.args.concurrency)]
                tasks += [asyncio.create_task(self.churn(http)), asyncio.create_task(self.sampler(r))]
                await asyncio.sleep(self.args.minutes * 60)
                self.stop.set()
                await asyncio.gather(*tasks)
                if self.samples[-1].t < self.args.minutes * 60 - 1:
                    await self.sample(r)
        finally:
            await r.aclose()


# --- report -------------------------------------------------------------------------------------------------


def flat_verdict(series: list[int]) -> str:
    """ "flat" when the last sample is no higher than the highest of the first half (+25 %, +10 keys): the family
    has reached its plateau; otherwise it is still growing at the end of the run."""
    if len(series) < 3:
        return "too few samples"
    first_half = series[: max(1, len(series) // 2)]
    return "flat" if series[-1] <= max(first_half) * 1.25 + 10 else "GROWING"


def report(soak: Soak, args: argparse.Namespace, started: datetime, elapsed: float) -> str:
    s = soak.stats
    samples = soak.samples
    mid = samples[len(samples) // 2]
    out = [
        "# Soak run (`python -m bench.soak`)",
        "",
        f"{started:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} minutes of traffic (`--minutes {args.minutes:g}`), "
        f"{len(soak.gateways)} `scopegate serve` gateways on one redis-server, the bundled demo upstream, "
        f"{args.concurrency} concurrent clients, all on 127.0.0.1. Servers pinned to core 0 (bench/servers.py).",
        "",
        *(
            [f"This is a short sample run ({args.minutes:g} minutes); the soak of issue 10 is `--minutes 10`.", ""]
            if args.minutes < 10
            else []
        ),
        f"Traffic: GET {PATH} with a random token to a random gateway; {args.revoked_share:.0%} of requests carry a "
        f"revoked token (half of those among the 50 most recently revoked). {APPS} live applications of "
        f"{USERS_PER_APP} users x {TOKENS_PER_GRANT} tokens (user ids from a pool of {USER_POOL}), access TTL "
        f"{ACCESS_TTL} s, refresh TTL {REFRESH_TTL} s. Churn every {args.churn_every:g} s on gateway 1's admin API, "
        "in turn: DELETE an application (and register a new one), revoke one user of one application "
        "(`POST /admin/revocations` with client_id and user_id) twice, revoke a user everywhere (user_id only); "
        "each revoked grant is replaced by a new one.",
        "",
        "## Requests",
        "",
        "| | count |",
        "|---|---:|",
        f"| sent | {s.sent:,} |",
        f"| accepted (2xx) | {s.accepted:,} |",
        f"| refused | {s.refused:,} |",
        f"| transport errors | {sum(s.errors.values()):,} {dict(s.errors) or ''} |",
        f"| live token, accepted | {s.live_ok:,} |",
        f"| live token, refused (unexpected) | {sum(s.live_refused.values()):,} {dict(s.live_refused) or ''} |",
        f"| in flight across its revocation call, accepted / refused | {s.inflight_ok:,} / {s.inflight_refused:,} |",
        f"| revoked token sent after the acknowledgement, refused 401 | {s.revoked_refused:,} |",
        f"| revoked token, other non-2xx | {sum(s.revoked_other.values()):,} {dict(s.revoked_other) or ''} |",
        f"| revoked token, 2xx within {ALLOWANCE:g} s of the acknowledgement | {s.late_ok:,} |",
        f"| **WRONGLY ACCEPTED** (2xx more than {ALLOWANCE:g} s after the acknowledgement) | **{s.wrong:,}** |",
        "",
        f"Churn acknowledged: {', '.join(f'{k} {v}' for k, v in sorted(s.churn.items()))}; "
        f"{s.revoked_tokens:,} tokens revoked; slowest acknowledgement {s.max_ack_after_call * 1000:.0f} ms. "
        f"Churn calls that failed: {sum(s.churn_failed.values())}"
        + (f" ({dict(s.churn_failed)})" if s.churn_failed else "")
        + ".",
    ]
    if s.wrong_examples:
        out += ["", "Wrongly accepted (first ones):", "", *(f"- {e}" for e in s.wrong_examples)]
    out += [
        "",
        "## Redis keys per family",
        "",
        f"Sampled with SCAN every {args.sample_every:g} s ({len(samples)} samples); start = when traffic began, "
        f'middle = t {mid.t:.0f} s, end = t {samples[-1].t:.0f} s. max/min over all samples. "flat": the last '
        "sample is no higher than the highest of the first half (+25 %, +10 keys).",
        "",
        "| family | bound | start | middle | end | min | max | max/min | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    bounds = dict(FAMILIES)
    for pattern in [*bounds, "(unknown)"]:
        series = [smp.families.get(pattern, 0) for smp in samples]
        if not any(series):
            continue
        lo, hi = min(series), max(series)
        ratio = f"{hi / lo:.2f}" if lo else "-"
        verdict = flat_verdict(series)
        ttl = re.search(r"ttl (\d+) s", bounds.get(pattern, ""))
        if verdict == "GROWING" and ttl and int(ttl.group(1)) > samples[-1].t / 2:
            verdict += " (its TTL is longer than half the run: no plateau expected yet)"
        out.append(
            f"| `{pattern}` | {bounds.get(pattern, 'NOT A KNOWN FAMILY')} | {series[0]} | "
            f"{mid.families.get(pattern, 0)} | {series[-1]} | {lo} | {hi} | {ratio} | {verdict} |"
        )
    empty = [p for p in bounds if not any(smp.families.get(p, 0) for smp in samples)]
    if empty:
        out += ["", "No key at any sample: " + ", ".join(f"`{p}`" for p in empty) + "."]
    out += [
        "",
        "| t (s) | keys | used_memory (KiB) |",
        "|---:|---:|---:|",
        *(f"| {smp.t:.0f} | {smp.keys} | {smp.used_memory // 1024} |" for smp in samples),
        "",
        f"Result: **{'PASS' if s.wrong == 0 else 'FAIL'}**: {s.wrong} wrongly accepted request(s).",
        "",
    ]
    return "\n".join(out)


async def amain(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="scopegate-soak-") as tmp, Procs(Path(tmp)) as procs:
        stack = Stack(procs, Path(tmp), access_log=False)
        stack.redis_proc, stack.redis_port = stack.start_redis()
        stack.upstream_port = free_port()
        up = procs.start(
            "demo-upstream",
            [sys.executable, "-m", "gateway.demo_upstream", "--port", str(stack.upstream_port)],
            core=SERVER_CORE,
            env={**stack.env(), "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
        )
        wait_port(stack.upstream_port, up)
        overrides = {"tokens": {"access_ttl": ACCESS_TTL, "refresh_ttl": REFRESH_TTL}}
        gateways = [stack.start_gateway(f"gateway{i + 1}", overrides=overrides) for i in range(args.gateways)]
        print(
            f"[soak] redis :{stack.redis_port}, upstream :{stack.upstream_port}, gateways "
            + ", ".join(f":{g.port}" for g in gateways),
            flush=True,
        )
        started = datetime.now(UTC)
        async with Minter(stack.redis_url, stack.secret) as minter:
            soak = Soak(stack, gateways, minter, args)
            t = time.monotonic()
            await soak.run()
            elapsed = time.monotonic() - t
        for g in gateways:
            if g.proc.poll() is not None:
                print(f"[soak] {g.name} exited with {g.proc.returncode}", flush=True)
    text = report(soak, args, started, elapsed)
    args.output.write_text(text)
    print(text)
    return 1 if soak.stats.wrong else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--gateways", type=int, default=2)
    p.add_argument("--output", type=Path, default=ROOT / "bench" / "SOAK.md")
    p.add_argument("--concurrency", type=int, default=8, help="concurrent client requests (bounded)")
    p.add_argument("--pause", type=float, default=0.002, help="seconds each client waits between requests")
    p.add_argument("--churn-every", type=float, default=2.0, help="seconds between churn actions")
    p.add_argument("--revoked-share", type=float, default=0.3, help="share of requests with a revoked token")
    p.add_argument("--sample-every", type=float, default=30.0, help="seconds between key-count samples")
    args = p.parse_args(argv)
    if args.gateways < 1:
        p.error("--gateways must be at least 1")
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())

"""A team opening its workspace at once: many concurrent clients of ONE tenant, each in its
own session, reading the dashboard and the notes fragment in a closed loop. Used by
tests/test_burst.py and bench/burst.py."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import httpx

from tests.support.html import csrf_from

PAGES = (("/dashboard", {}), ("/notes", {"HX-Request": "true"}))


@dataclass
class Burst:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def answers(self) -> int:
        return len(self.latencies)

    def slower_than(self, seconds: float) -> int:
        return sum(1 for t in self.latencies if t > seconds)

    def summary(self) -> str:
        ordered = sorted(self.latencies) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"{self.answers} answers, {len(self.failures)} failed, "
            f"{self.slower_than(5)} over 5 s, p50 {statistics.median(ordered) * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, slowest {ordered[-1] * 1000:.0f} ms"
        )


async def _session(base_url: str, email: str) -> httpx.Cookies:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        token = csrf_from((await client.get("/login")).text)
        signed_in = await client.post("/login/dev", data={"email": email, "csrf_token": token})
        assert signed_in.status_code == 303, signed_in.text
        return client.cookies


async def burst(base_url: str, clients: int, seconds: float, email: str) -> Burst:
    """`clients` sessions of one person (so one tenant), each looping over PAGES."""
    first = await _session(base_url, email)  # provisions the tenant once
    cookies = [first, *[await _session(base_url, email) for _ in range(clients - 1)]]
    result, deadline = Burst(), time.monotonic() + seconds

    async def one(jar: httpx.Cookies, n: int) -> None:
        async with httpx.AsyncClient(base_url=base_url, cookies=jar, timeout=60) as client:
            while time.monotonic() < deadline:
                path, headers = PAGES[n % len(PAGES)]
                n += 1
                start = time.monotonic()
                try:
                    response = await client.get(path, headers=headers)
                except httpx.HTTPError as error:
                    result.failures.append(f"{path}: {type(error).__name__}")
                    continue
                result.latencies.append(time.monotonic() - start)
                if response.status_code != 200:
                    result.failures.append(f"{path}: {response.status_code}")

    await asyncio.gather(*[one(jar, n) for n, jar in enumerate(cookies)])
    return result

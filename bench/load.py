"""Closed-loop HTTP load at a fixed concurrency: ``wrk`` when installed, else an httpx async client.

Both keep ``concurrency`` connections busy for ``seconds`` and give latency percentiles as the client
sees them (on loopback that is the server's time plus a little transport).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from dataclasses import dataclass

import httpx

from bench.report import percentile


@dataclass(frozen=True, slots=True)
class Load:
    p50: float
    p99: float
    requests_per_s: float
    errors: int
    tool: str


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def _wrk_time(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, concurrency: int, seconds: float) -> Load:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(n) for n in socket_errors.groups())
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Load(_wrk_time(latency["50"]), _wrk_time(latency["99"]), rate, failed, "wrk")


async def _httpx(url: str, concurrency: int, seconds: float) -> Load:
    samples: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def one_connection() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(url)
                samples.append(time.perf_counter() - started)
                errors += response.status_code >= 400

        began = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return Load(percentile(samples, 50), percentile(samples, 99), len(samples) / elapsed, errors, "httpx")


def measure(url: str, concurrency: int, seconds: float) -> Load:
    if shutil.which("wrk"):
        return wrk(url, concurrency, seconds)
    return asyncio.run(_httpx(url, concurrency, seconds))

"""Closed-loop HTTP load at a fixed concurrency: ``wrk`` when installed, else an httpx async client.

Both keep ``concurrency`` connections open for ``seconds``. Without ``think`` each connection sends its
next request as soon as the last one is answered (saturating: latency is then mostly queueing, about
``concurrency / throughput``). With ``think=(low, high)`` each connection waits a random time in that
range (seconds) between an answer and its next request, like a phone user who opens the page and reads.

Two latencies are reported: the client's (request sent to response read, on loopback) and the server's
own, from the ``Server-Timing: app;dur=...`` header the companion puts on every response (the app's time
from receiving the request to starting its response; see ``posdesk/companion/server_timing.py``).
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.report import percentile

_SERVER_TIMING = re.compile(r"app;dur=([\d.]+)")


@dataclass(frozen=True, slots=True)
class Load:
    p50: float
    p99: float
    requests_per_s: float
    errors: int
    tool: str
    server_p50: float = float("nan")  # from Server-Timing; NaN when the server did not send it
    server_p99: float = float("nan")
    server_max: float = float("nan")
    requests: int = 0


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def _wrk_time(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


# The script's response() makes wrk parse every response's headers (a little more work for the load
# generator, the same for every level and for the baseline); done() gathers the threads' samples.
_WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
server_ms = {}
local count = 0
function response(status, headers, body)
  local value = headers["server-timing"] or headers["Server-Timing"]
  if value then
    local ms = string.match(value, "app;dur=([%d%.]+)")
    if ms then count = count + 1; server_ms[count] = tonumber(ms) end
  end
end
THINK
function done(summary, latency, requests)
  local out = io.open("OUT", "w")
  for _, thread in ipairs(threads) do
    local samples = thread:get("server_ms")
    for i = 1, #samples do out:write(samples[i], "\\n") end
  end
  out:close()
end
"""


def _server_figures(samples_ms: list[float]) -> dict[str, float]:
    if not samples_ms:
        return {}
    seconds = [ms / 1000 for ms in samples_ms]
    return {
        "server_p50": percentile(seconds, 50),
        "server_p99": percentile(seconds, 99),
        "server_max": max(seconds),
    }


def wrk(url: str, concurrency: int, seconds: float, think: tuple[float, float] | None = None) -> Load:
    with tempfile.TemporaryDirectory(prefix="posdesk-bench-wrk-") as tmp:
        out = Path(tmp) / "server_ms.txt"
        think_lua = (
            f"function init(args) math.randomseed(os.time()) end\n"
            f"function delay() return math.random({round(think[0] * 1000)}, {round(think[1] * 1000)}) end"
            if think
            else ""
        )
        script = Path(tmp) / "load.lua"
        script.write_text(_WRK_SCRIPT.replace("THINK", think_lua).replace("OUT", str(out)))
        text = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script), url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        server_ms = [float(line) for line in out.read_text().split()] if out.exists() else []
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", text, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(n) for n in socket_errors.groups())
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    return Load(
        _wrk_time(latency["50"]), _wrk_time(latency["99"]), rate, failed, "wrk",
        requests=requests, **_server_figures(server_ms),
    )  # fmt: skip


async def _httpx(url: str, concurrency: int, seconds: float, think: tuple[float, float] | None) -> Load:
    samples: list[float] = []
    server_ms: list[float] = []
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
                timing = _SERVER_TIMING.search(response.headers.get("server-timing", ""))
                if timing:
                    server_ms.append(float(timing.group(1)))
                if think:
                    await asyncio.sleep(random.uniform(*think))

        began = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return Load(
        percentile(samples, 50), percentile(samples, 99), len(samples) / elapsed, errors, "httpx",
        requests=len(samples), **_server_figures(server_ms),
    )  # fmt: skip


def measure(url: str, concurrency: int, seconds: float, think: tuple[float, float] | None = None) -> Load:
    if shutil.which("wrk"):
        return wrk(url, concurrency, seconds, think)
    return asyncio.run(_httpx(url, concurrency, seconds, think))

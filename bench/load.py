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
import os
import random
import re
import shutil
import statistics
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
    seconds: float = 0.0  # how long the load ran
    server_samples: tuple[float, ...] = ()  # every Server-Timing value, in seconds
    server_cpu: float = float("nan")  # the server process's CPU seconds per request, when measured
    server_waiting: float = float("nan")  # its threads' seconds waiting for a CPU per second of load


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def _wrk_time(text: str) -> float:
    if text == "nan":
        return float("nan")
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


def _server_figures(samples_ms: list[float]) -> dict[str, object]:
    if not samples_ms:
        return {}
    seconds = [ms / 1000 for ms in samples_ms]
    return {
        "server_p50": percentile(seconds, 50),
        "server_p99": percentile(seconds, 99),
        "server_max": max(seconds),
        "server_samples": tuple(seconds),
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
        # A slice in which no request completed prints no distribution: NaN, and the rate says 0.
        _wrk_time(latency.get("50", "nan")), _wrk_time(latency.get("99", "nan")), rate, failed, "wrk",
        requests=requests, seconds=requests / rate if rate else 0.0, **_server_figures(server_ms),
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
        requests=len(samples), seconds=elapsed, **_server_figures(server_ms),
    )  # fmt: skip


def measure(url: str, concurrency: int, seconds: float, think: tuple[float, float] | None = None) -> Load:
    if shutil.which("wrk"):
        return wrk(url, concurrency, seconds, think)
    return asyncio.run(_httpx(url, concurrency, seconds, think))


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (Linux ``/proc``; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_queue_seconds(pid: int) -> float:
    """Seconds the process's threads have spent runnable but waiting for a CPU (``/proc/<pid>/task/*/
    schedstat``; NaN where unknown). On a shared machine a server whose work is on one thread gets a
    smaller share of the CPUs than one that spreads it over several: this says how much."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return float("nan")
    waited = 0
    for task in tasks:
        try:
            waited += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return waited / 1e9


def _merged(loads: list[Load], cpu_seconds: float, waited: float = float("nan")) -> Load:
    """One load out of slices of it: throughput over their total time, server percentiles over every
    sample, client percentiles as the median of the slices' (wrk reports only percentiles)."""
    requests = sum(load.requests for load in loads)
    seconds = sum(load.seconds for load in loads)
    samples = [sample for load in loads for sample in load.server_samples]
    server = {
        "server_p50": percentile(samples, 50), "server_p99": percentile(samples, 99),
        "server_max": max(samples), "server_samples": tuple(samples),
    } if samples else {}  # fmt: skip
    return Load(
        statistics.median(load.p50 for load in loads), statistics.median(load.p99 for load in loads),
        requests / seconds if seconds else 0.0, sum(load.errors for load in loads), loads[0].tool,
        requests=requests, seconds=seconds, server_cpu=cpu_seconds / requests if requests else float("nan"),
        server_waiting=waited / seconds if seconds else float("nan"),
        **server,  # type: ignore[arg-type]
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Paired:
    """Two URLs loaded in turn, slice by slice (A B A B ...), so the machine's drift hits both alike."""

    a: Load
    b: Load
    ratios: tuple[float, ...]  # A's requests/s over B's, slice pair by slice pair

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def paired(
    a_url: str, b_url: str, concurrency: int, rounds: int, seconds: float, server_pid: int | None = None
) -> Paired:
    """``rounds`` pairs of ``seconds``-long saturating loads, A then B (B then A every other round)."""
    slices: dict[str, list[Load]] = {"a": [], "b": []}
    cpu = {"a": 0.0, "b": 0.0}
    waited = {"a": 0.0, "b": 0.0}
    ratios = []
    for round_ in range(rounds):
        got = {}
        for name in ("a", "b") if round_ % 2 == 0 else ("b", "a"):
            before = process_cpu_seconds(server_pid) if server_pid else float("nan")
            queued = run_queue_seconds(server_pid) if server_pid else float("nan")
            got[name] = measure(a_url if name == "a" else b_url, concurrency, seconds)
            cpu[name] += (process_cpu_seconds(server_pid) if server_pid else float("nan")) - before
            waited[name] += (run_queue_seconds(server_pid) if server_pid else float("nan")) - queued
            slices[name].append(got[name])
        if got["b"].requests_per_s:
            ratios.append(got["a"].requests_per_s / got["b"].requests_per_s)
    return Paired(
        _merged(slices["a"], cpu["a"], waited["a"]),
        _merged(slices["b"], cpu["b"], waited["b"]),
        tuple(ratios),
    )

"""Client overhead with pacing off: tightknit_async vs a bare aiohttp loop vs an httpx client.

The peer is a bare asyncio protocol server in a separate process (``_protocol_server.py``: a
canned Tightknit-shaped answer in about 30 us), pinned to one core while the client runs on the
other, so that the client's cost is what is measured: an aiohttp.web server costs about as much CPU
as the client and flattens every ratio (``--server aiohttp`` to see that). Every contender's client
is opened once and warmed up; then the run alternates between them in short chunks
(``--requests`` per chunk; httpx a tenth as many), rotating their order every round, so that the
shared machine's speed, which drifts over seconds, is the same for all of them. Each figure is the
median over rounds, and each ratio the median of per-round ratios.

Two tables: requests/s of the three clients (GETs), then every contender with its requests/s and
the client's CPU microseconds per request (``time.process_time()`` of this process over the
measured loop, divided by the requests; the server's CPU is in its own process), including
tightknit_async with each layer on so the cost of each is visible:

- GET, pacing off, no idempotency key (the hot path);
- + governor at a very high rate (``rate_limit=1_000_000``: a slot is always free);
- ``max_retries=0`` vs ``max_retries=3`` (no failures occur: the cost of being ready to retry);
- + model decoding: ``resp.parse(Envelope[Feed])`` after ``request``, and ``tk.feeds.retrieve``;
- telemetry on, with OpenTelemetry's no-op providers and with its SDK;
- POST with a minted idempotency key (the coordinator path), POST with a caller's key (the store:
  begin, finish), against a bare aiohttp POST of the same request on the wire (same body, a fresh
  ``Idempotency-Key`` per call).

    .venv/bin/python benchmarks/overhead.py [--requests 300] [--concurrency 20] [--rounds 80]
        [--quick] [--uvloop] [--server protocol|aiohttp]

``--uvloop`` also measures the three-client table with uvloop's event loop in the client (the
server keeps the default loop): blocks of 4 rounds alternate between the two loops.

Targets (the last table): GET >= 0.90x bare aiohttp's req/s and <= 1.10x its CPU per request;
caller-keyed POST >= 0.85x and <= 1.25x; minted-key POST >= 0.90x; GET >= 1.5x httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import platform
import socket
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import aiohttp
import httpx
from _protocol_server import answer, serve  # same directory
from aiohttp import web

from tightknit_async import AsyncTightknit
from tightknit_async.models import Envelope, Feed
from tightknit_async.transport import AiohttpTransport, Request

FEED_ID = "b7a0df7e-e867-4847-8577-3bed1774ac7c"
BODY = {"success": True, "data": {"id": FEED_ID, "label": "Announcements", "slug": "a"}}
CREATED = {"success": True, "message": "Member created", "data": {"member": {"id": FEED_ID}}}
PATH = f"/admin/v0/feeds/{FEED_ID}"
POST_PATH = "/admin/v0/members"
POST_BODY = {"email": "ada@example.com", "full_name": "Ada Lovelace"}
KEY = "sk_bench_key"
FEED_ENVELOPE = Envelope[Feed]

Sample = tuple[float, float]  # (requests/s, client CPU microseconds per request)
One = Callable[[], Awaitable[object]]
Contender = Callable[[str], AbstractAsyncContextManager[One]]
"""Opens its client against the base URL and yields the coroutine function of one request."""


def _serve_aiohttp(port: int) -> None:
    async def get(_: web.Request) -> web.Response:
        return web.json_response(BODY)

    async def post(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(CREATED, status=201)

    app = web.Application()
    app.router.add_get(PATH, get)
    app.router.add_post(POST_PATH, post)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


SERVER_CORE = 1
"""The CPU the server is pinned to (the client takes the others), when the machine has two."""


def _serve(port: int, kind: str = "protocol") -> None:
    """The server: a bare asyncio protocol (``"protocol"``, ~30 us a request, the default) or
    an aiohttp.web application (``"aiohttp"``: about as costly as the client, it flattens every
    ratio), pinned to `SERVER_CORE` where the machine allows."""
    if kind == "aiohttp":
        _pin({SERVER_CORE})
        _serve_aiohttp(port)
        return
    routes = {
        f"GET {PATH}": answer(200, "OK", json.dumps(BODY).encode()),
        f"POST {POST_PATH}": answer(201, "Created", json.dumps(CREATED).encode()),
    }
    serve(port, routes, core=SERVER_CORE if _can_pin() else None)


def _can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def _pin(cores: set[int]) -> None:
    if _can_pin():
        os.sched_setaffinity(0, cores)


def client_cores() -> set[int]:
    """Every CPU this process may use but the server's."""
    return set(os.sched_getaffinity(0)) - {SERVER_CORE}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _drive(n: int, concurrency: int, one: One) -> Sample:
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return n / elapsed, (time.process_time() - cpu) / n * 1e6


WARM_UP = 50
"""Requests each contender sends before it is measured (opens its pool)."""


async def run_once(name: str, base: str, n: int, concurrency: int) -> Sample:
    """Open contender ``name``, warm it up, and measure ``n`` requests (instructions.py's unit)."""
    async with CONTENDERS[name](base) as one:
        await _drive(WARM_UP, concurrency, one)
        return await _drive(n, concurrency, one)


def bare_aiohttp(method: str) -> Contender:
    @contextlib.asynccontextmanager
    async def open_(base: str) -> AsyncIterator[One]:
        headers = {"Authorization": f"Bearer {KEY}", "Accept": "application/json"}
        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def get() -> object:
                async with session.get(base + PATH, headers=headers) as resp:
                    body = await resp.read()
                    resp.raise_for_status()
                    return body

            async def post() -> object:
                # The same request on the wire as ours: a fresh key per call, as a caller makes it.
                keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
                async with session.post(base + POST_PATH, headers=keyed, json=POST_BODY) as resp:
                    body = await resp.read()
                    resp.raise_for_status()
                    return body

            yield get if method == "GET" else post

    return open_


@contextlib.asynccontextmanager
async def httpx_client(base: str) -> AsyncIterator[One]:
    headers = {"Authorization": f"Bearer {KEY}", "Accept": "application/json"}
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:

        async def one() -> object:
            resp = await client.get(PATH)
            resp.raise_for_status()
            return resp.content

        yield one


@contextlib.asynccontextmanager
async def transport_alone(base: str) -> AsyncIterator[One]:
    """The client's transport on its own (the bare loop's headers, prepared once): what aiohttp
    and the transport cost, without the client's layers above it."""
    headers = {"Authorization": f"Bearer {KEY}", "Accept": "application/json"}
    request = Request("GET", base + PATH, headers, path=PATH)
    transport = AiohttpTransport()
    try:

        async def one() -> object:
            return (await transport.send(request)).content

        yield one
    finally:
        await transport.aclose()


def ours(variant: str, **client_options: object) -> Contender:
    @contextlib.asynccontextmanager
    async def open_(base: str) -> AsyncIterator[One]:
        options: dict[str, object] = {"rate_limit": None, **client_options}
        async with AsyncTightknit(api_key=KEY, base_url=base, **options) as tk:  # type: ignore[arg-type]

            async def get() -> object:
                return (await tk.request("GET", PATH)).content

            async def parse() -> object:
                return (await tk.request("GET", PATH)).parse(FEED_ENVELOPE).data

            async def retrieve() -> object:
                return await tk.feeds.retrieve(FEED_ID)

            async def minted() -> object:
                return (await tk.request("POST", POST_PATH, json=POST_BODY)).content

            async def caller_key() -> object:
                key = str(uuid.uuid4())  # a fresh key per call: first use, never a replay
                return (
                    await tk.request("POST", POST_PATH, json=POST_BODY, idempotency_key=key)
                ).content

            yield {
                "get": get,
                "parse": parse,
                "retrieve": retrieve,
                "minted": minted,
                "caller": caller_key,
            }[variant]

    return open_


BARE = "bare aiohttp loop"
OURS = "tightknit_async (pacing off)"
HTTPX = "httpx.AsyncClient"
BARE_POST = "bare aiohttp loop, POST json + Idempotency-Key"
MINTED = "ours POST, minted key (coordinator)"
CALLER = "ours POST, caller key (store begin/finish)"


# The three-client table (kept as it was) is the first three; the layer table is all of them.
def _sdk_providers() -> dict[str, object]:
    """OpenTelemetry's SDK providers with in-memory readers: telemetry on, as an app has it."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return {"tracer_provider": tracer_provider, "meter_provider": meter_provider}


def ours_with_sdk(variant: str) -> Contender:
    @contextlib.asynccontextmanager
    async def open_(base: str) -> AsyncIterator[One]:
        async with ours(variant, telemetry=True, **_sdk_providers())(base) as one:
            yield one

    return open_


TRANSPORT = "the transport alone: AiohttpTransport.send()"
TELEMETRY_NOOP = "ours + telemetry on, no-op providers"
TELEMETRY_SDK = "ours + telemetry on, SDK (in-memory export)"

# OURS runs with telemetry off, as for an application without OpenTelemetry installed.
CONTENDERS: dict[str, Contender] = {
    BARE: bare_aiohttp("GET"),
    OURS: ours("get", telemetry=False),
    HTTPX: httpx_client,
    TRANSPORT: transport_alone,
    TELEMETRY_NOOP: ours("get", telemetry=True),
    TELEMETRY_SDK: ours_with_sdk("get"),
    "ours + governor (rate_limit=1_000_000)": ours("get", rate_limit=1_000_000, telemetry=False),
    "ours, max_retries=0": ours("get", max_retries=0, telemetry=False),
    "ours, max_retries=3": ours("get", max_retries=3, telemetry=False),
    "ours + decode: request().parse(Envelope[Feed])": ours("parse", telemetry=False),
    "ours + decode: tk.feeds.retrieve()": ours("retrieve", telemetry=False),
    BARE_POST: bare_aiohttp("POST"),
    MINTED: ours("minted", telemetry=False),
    CALLER: ours("caller", telemetry=False),
}
MAIN = (BARE, OURS, HTTPX)


def _wait_for(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("benchmark server did not start")


def _loop_factories(use_uvloop: bool) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    if use_uvloop:
        import uvloop  # optional: only with --uvloop

        factories["uvloop"] = uvloop.new_event_loop
    return factories


UVLOOP_BLOCK = 4
"""Rounds per block when asyncio and uvloop alternate."""

SLOW = {HTTPX: 10}
"""Contenders sent a fraction of the chunk (httpx: a tenth), so a round stays short."""


async def _measure(
    base: str, names: list[str], requests: int, concurrency: int, rounds: int, first: int = 0
) -> dict[str, list[Sample]]:
    """Open every contender, warm each up, then ``rounds`` rounds of one chunk each (numbered
    from ``first``: the order rotates with the round's number)."""
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    async with contextlib.AsyncExitStack() as stack:
        ones = {name: await stack.enter_async_context(CONTENDERS[name](base)) for name in names}
        for name in names:
            await _drive(WARM_UP, concurrency, ones[name])
        gc.collect()
        for round_ in range(rounds):
            shift = (first + round_) % len(names)
            for name in names[shift:] + names[:shift]:
                n = max(concurrency, requests // SLOW.get(name, 1))
                samples[name].append(await _drive(n, concurrency, ones[name]))
    return samples


def run(
    requests: int, concurrency: int, rounds: int, use_uvloop: bool, server_kind: str = "protocol"
) -> dict[str, dict[str, list[Sample]]]:
    """Return samples per loop name, per contender.

    Without uvloop, one block of ``rounds`` rounds. With it, blocks of ``UVLOOP_BLOCK`` rounds
    alternate between the two loops (the three-client table only under uvloop; each block opens
    and warms its clients anew), so that both loops see the machine's drift alike.
    """
    port = _free_port()
    server = multiprocessing.Process(target=_serve, args=(port, server_kind), daemon=True)
    server.start()
    _pin(client_cores())
    base = f"http://127.0.0.1:{port}"
    factories = _loop_factories(use_uvloop)
    per_block = min(rounds, UVLOOP_BLOCK) if use_uvloop else rounds
    blocks = max(1, rounds // per_block)
    results: dict[str, dict[str, list[Sample]]] = {
        loop: {name: [] for name in (CONTENDERS if loop == "asyncio" else MAIN)}
        for loop in factories
    }
    try:
        _wait_for(port)
        for number in range(blocks):
            for loop, factory in factories.items():
                names = list(results[loop])
                measure = _measure(
                    base, names, requests, concurrency, per_block, number * per_block
                )
                with asyncio.Runner(loop_factory=factory) as runner:
                    block = runner.run(measure)
                for name, samples in block.items():
                    results[loop][name].extend(samples)
        return results
    finally:
        server.terminate()
        server.join()


def _medians(samples: dict[str, list[Sample]]) -> dict[str, Sample]:
    return {
        name: (statistics.median(s[0] for s in values), statistics.median(s[1] for s in values))
        for name, values in samples.items()
    }


def _paired(samples: dict[str, list[Sample]], name: str, reference: str, index: int) -> float:
    """The median over rounds of ``name``'s sample divided by ``reference``'s in the same round
    (``index`` 0: req/s, 1: CPU): the machine's speed drifts between rounds on a shared host,
    and a ratio of two samples taken moments apart cancels most of that drift."""
    return statistics.median(
        mine[index] / theirs[index]
        for mine, theirs in zip(samples[name], samples[reference], strict=True)
    )


_SERVERS = {"protocol": "a bare asyncio protocol", "aiohttp": "aiohttp.web"}

TARGETS = (  # (what, contender, baseline, 0 req/s or 1 CPU, bound, at least)
    ("GET req/s >= 0.90x bare aiohttp", OURS, BARE, 0, 0.90, True),
    ("GET CPU/request <= 1.10x bare aiohttp", OURS, BARE, 1, 1.10, False),
    ("caller-keyed POST req/s >= 0.85x bare aiohttp", CALLER, BARE_POST, 0, 0.85, True),
    ("caller-keyed POST CPU/request <= 1.25x bare aiohttp", CALLER, BARE_POST, 1, 1.25, False),
    ("minted-key POST req/s >= 0.90x bare aiohttp", MINTED, BARE_POST, 0, 0.90, True),
    ("GET req/s >= 1.5x httpx", OURS, HTTPX, 0, 1.5, True),
)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=300, help="per chunk")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=80)
    parser.add_argument("--quick", action="store_true", help="8 rounds")
    parser.add_argument("--uvloop", action="store_true", help="also measure under uvloop")
    parser.add_argument(
        "--server",
        choices=("protocol", "aiohttp"),
        default="protocol",
        help="the peer: a bare asyncio protocol (default) or an aiohttp.web app",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds = min(args.rounds, 8)
    pinned = _can_pin()  # asked before run() pins this process to the client's cores
    results = run(args.requests, args.concurrency, args.rounds, args.uvloop, args.server)
    samples = results["asyncio"]
    medians = _medians(samples)
    print(
        f"client overhead: {args.rounds} rounds of {args.requests}-request chunks per contender "
        f"(httpx {args.requests // SLOW[HTTPX]}), contenders interleaved, concurrency "
        f"{args.concurrency}, server ({_SERVERS[args.server]}) in another process on loopback"
        f"{', client and server pinned to separate cores' if pinned else ''}"
        f"{' (--quick)' if args.quick else ''}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"aiohttp {aiohttp.__version__}, httpx {httpx.__version__}"
    )
    print()
    print("| client | median req/s | vs bare aiohttp | tightknit_async vs it |")
    print("|---|---:|---:|---:|")
    for name in MAIN:
        print(
            f"| {name} | {medians[name][0]:,.0f} | {_paired(samples, name, BARE, 0):.2f}x | "
            f"{_paired(samples, OURS, name, 0):.2f}x |"
        )
    print()
    print("### Per layer: requests/s and client CPU per request (medians)")
    print()
    print(
        "| contender | median req/s | req/s min-max | vs bare aiohttp | CPU us/req | "
        "CPU vs bare aiohttp |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, (rate, cpu) in medians.items():
        reference = BARE_POST if "POST" in name else BARE
        rates = [sample[0] for sample in samples[name]]
        print(
            f"| {name} | {rate:,.0f} | {min(rates):,.0f}-{max(rates):,.0f} | "
            f"{_paired(samples, name, reference, 0):.2f}x | {cpu:,.0f} | "
            f"{_paired(samples, name, reference, 1):.2f}x |"
        )
    print()
    print(
        "(Ratios are medians of per-round ratios: each round measures every contender moments "
        "apart, in a rotating order. POST rows are compared with the bare aiohttp POST; the "
        "others with the bare GET. Client and server share 2 cores: req/s varies between rounds "
        "more than CPU us/req; benchmarks/instructions.py counts the CPU cost without noise.)"
    )
    print()
    print("| target | measured | result |")
    print("|---|---:|---|")
    for what, name, reference, index, bound, at_least in TARGETS:
        ratio = _paired(samples, name, reference, index)
        met = ratio >= bound if at_least else ratio <= bound
        print(f"| {what} | {ratio:.2f}x | {_verdict(met)} |")
    if "uvloop" in results:
        uv = _medians(results["uvloop"])
        print()
        print("### uvloop (client loop only; same run, blocks of rounds alternate between loops)")
        print()
        print(
            "| client | asyncio req/s | uvloop req/s | uvloop/asyncio | asyncio CPU us/req | "
            "uvloop CPU us/req |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for name in MAIN:
            (a_rate, a_cpu), (u_rate, u_cpu) = medians[name], uv[name]
            print(
                f"| {name} | {a_rate:,.0f} | {u_rate:,.0f} | {u_rate / a_rate:.2f}x | "
                f"{a_cpu:,.0f} | {u_cpu:,.0f} |"
            )


if __name__ == "__main__":
    main()

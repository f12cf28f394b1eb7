"""Decoding cost: the typed models vs ``json.loads`` into dicts vs untyped ``msgspec.json.decode``.

Every recorded list response (``tests/models/recorded/*_list*.json`` and the feed's posts) is
re-serialised to compact UTF-8 JSON bytes, then decoded by three contenders in the same run:

- ``json.loads``: the standard library, into dicts and lists (the baseline);
- ``msgspec.json.decode``: untyped, into dicts and lists;
- models: ``decode(Envelope[ListPage[T]], body)``, the package's cached typed decoder;
- ``APIResponse.parse``: what every resource method runs, the typed decoder with the tolerant
  fallback behind it (taken only when the typed decode fails). Its ratio to "models" is the cost
  of that fallback on well-formed replies (target: within 10%).

A second table times the fallback itself, on the same replies drifted: every record's ``hosts``
sent as ``null`` (the typed decoder rejects it, the tolerant path rebuilds the page).

Rounds interleave the contenders (``timeit``, garbage collector off while timing); each round
times a batch sized to take about ``--batch-ms``, and the table reports the median microseconds per
decode over ``--rounds`` rounds. The models do more work than the other two: they check every
field's type, parse each timestamp into an aware ``datetime`` (through the ``dec_hook``) and build
frozen Structs, while skipping fields they do not model. So the comparison is "typed, validated
objects" against "untyped dicts you still have to check and parse".

    .venv/bin/python benchmarks/decode.py [--rounds 41] [--batch-ms 20]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from tightknit_async import APIResponse
from tightknit_async.models import (
    CalendarEvent,
    Envelope,
    Feed,
    ListPage,
    Post,
    Timestamp,
    dec_hook,
    decode,
)

RECORDED = Path(__file__).resolve().parent.parent / "tests" / "models" / "recorded"

PAYLOADS: dict[str, Any] = {
    "calendar_events_list": Envelope[ListPage[CalendarEvent]],
    "calendar_events_list_upcoming": Envelope[ListPage[CalendarEvent]],
    "feeds_list": Envelope[ListPage[Feed]],
    "feeds_posts": Envelope[ListPage[Post]],
}

CONTENDERS = ("json.loads", "msgspec untyped", "models", "APIResponse.parse")


@dataclass(frozen=True)
class Payload:
    name: str
    type_: Any
    body: bytes
    records: int
    timestamps: int


def load(name: str, type_: Any) -> Payload:
    recording = json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))
    body = json.dumps(
        recording["response"]["body"], ensure_ascii=False, separators=(",", ":")
    ).encode()
    timestamps = 0

    def counting_hook(kind: type, obj: Any) -> Any:
        nonlocal timestamps
        timestamps += kind is Timestamp
        return dec_hook(kind, obj)

    page = msgspec.json.Decoder(type_, dec_hook=counting_hook).decode(body)
    # Same result as the package's decoder, and the same number of records as the dicts.
    assert decode(type_, body) == page
    assert len(page.data.records) == len(json.loads(body)["data"]["records"])
    return Payload(name, type_, body, len(page.data.records), timestamps)


def functions(payload: Payload) -> dict[str, Callable[[], object]]:
    body, type_ = payload.body, payload.type_
    untyped = msgspec.json.decode
    response = APIResponse(status_code=200, headers={}, content=body)
    return {
        "json.loads": lambda: json.loads(body),
        "msgspec untyped": lambda: untyped(body),
        "models": lambda: decode(type_, body),
        "APIResponse.parse": lambda: response.parse(type_),
    }


def drifted(payload: Payload) -> bytes:
    """The same reply with every record's ``hosts`` (or ``is_archived``) sent as null."""
    body = json.loads(payload.body)
    for record in body["data"]["records"]:
        record["hosts" if "hosts" in record else "id"] = None
    return json.dumps(body, separators=(",", ":")).encode()


def measure_drifted(payload: Payload, rounds: int) -> tuple[float, float]:
    """Median microseconds: the typed decode of the good reply, the tolerant parse of the bad."""
    body, type_ = drifted(payload), payload.type_
    response = APIResponse(status_code=200, headers={}, content=body)
    logging.getLogger("tightknit_async").setLevel(logging.ERROR)  # one WARNING, then silence
    good = timeit.Timer(lambda: decode(type_, payload.body))
    bad = timeit.Timer(lambda: APIResponse(status_code=200, headers={}, content=body).parse(type_))
    response.parse(type_)
    goods, bads = [], []
    for _ in range(rounds):
        goods.append(good.timeit(20) / 20 * 1e6)
        bads.append(bad.timeit(5) / 5 * 1e6)
    return statistics.median(goods), statistics.median(bads)


def measure(payload: Payload, rounds: int, batch_ms: float) -> dict[str, float]:
    """Median microseconds per decode for each contender."""
    timers = {name: timeit.Timer(fn) for name, fn in functions(payload).items()}
    numbers: dict[str, int] = {}
    for name, timer in timers.items():
        timer.timeit(50)  # warm up (and build the cached decoder)
        once = min(timer.repeat(repeat=5, number=20)) / 20
        numbers[name] = max(1, int(batch_ms / 1000 / once))
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(rounds):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(numbers[name]) / numbers[name] * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--batch-ms", type=float, default=20.0)
    args = parser.parse_args()

    payloads = [load(name, type_) for name, type_ in PAYLOADS.items()]
    results = {p.name: measure(p, args.rounds, args.batch_ms) for p in payloads}

    print(
        f"decode cost of recorded list responses: median of {args.rounds} interleaved rounds, "
        f"~{args.batch_ms:g} ms batches, gc off while timing"
    )
    print(
        f"machine: {cpu_name()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}; Python {sys.version.split()[0]} "
        f"({platform.python_implementation()}), msgspec {msgspec.__version__}"
    )
    print()
    print(
        "| payload | KiB | records | timestamps parsed | json.loads µs | msgspec untyped µs "
        "| models µs | APIResponse.parse µs | models / json.loads | models / msgspec untyped "
        "| msgspec untyped / json.loads | parse / models |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p in payloads:
        r = results[p.name]
        base, raw, typed = r["json.loads"], r["msgspec untyped"], r["models"]
        parsed = r["APIResponse.parse"]
        print(
            f"| {p.name} | {len(p.body) / 1024:.1f} | {p.records} | {p.timestamps} "
            f"| {base:,.1f} | {raw:,.1f} | {typed:,.1f} | {parsed:,.1f} "
            f"| {typed / base:.2f}x | {typed / raw:.2f}x | {raw / base:.2f}x "
            f"| {parsed / typed:.2f}x |"
        )
    print()
    print("Drifted replies (a null in every record): the tolerant path, against the typed decode")
    print("of the well-formed reply. Only replies that do not fit pay it.")
    print()
    print("| payload | typed decode, well-formed µs | tolerant parse, drifted µs | ratio |")
    print("|---|---:|---:|---:|")
    for p in payloads:
        good, bad = measure_drifted(p, max(5, args.rounds // 4))
        print(f"| {p.name} | {good:,.1f} | {bad:,.1f} | {bad / good:.1f}x |")
    print()
    print(
        "Ratios below 1.00x mean faster than the divisor. The models do more work than either "
        "untyped decode: they validate every modelled field's type, parse every timestamp "
        "(counted above; one dec_hook call and datetime.fromisoformat each) into an aware "
        "datetime, read the page counters leniently (a hook call each) and build frozen "
        "Structs, while skipping unmodelled fields. The dicts still hold strings where the "
        "models hold datetimes, and nothing in them has been checked."
    )


if __name__ == "__main__":
    main()

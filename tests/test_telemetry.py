"""OpenTelemetry: a span per call and the client's metrics, as the SDK's in-memory readers see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, SpanKind, StatusCode

from tightknit_async import AsyncTightknit, NotFoundError
from tightknit_async._routes import route_of
from tightknit_async.telemetry import Telemetry
from tightknit_async.testing import MockTransport, json_response
from tightknit_async.transport import Request, Response

from .conftest import FakeClock

KEY = "sk_test_telemetry_0123456789abcdef"


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def metrics(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        data = self.reader.get_metrics_data()
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = (point.count, point.sum)
                        found.setdefault(metric.name, []).append((dict(point.attributes), value))
        return found


@pytest.fixture
def otel() -> Otel:
    return Otel()


def scripted(*replies: Response) -> MockTransport:
    queue = list(replies)

    def answer(request: Request) -> Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return MockTransport(answer)


def client(transport: MockTransport, otel: Otel, clock: FakeClock, **kwargs: Any) -> AsyncTightknit:
    return AsyncTightknit(
        api_key=KEY,
        transport=transport,
        rate_limit=None,
        clock=clock,
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
        **kwargs,
    )


async def test_a_successful_call_has_one_span_with_its_route(
    otel: Otel, fake_clock: FakeClock
) -> None:
    feed = "3f1c2b9e-8d4a-4c1e-9b7a-2e5f6a7b8c9d"
    transport = scripted(json_response(200, {"success": True, "data": {"id": feed}}))
    async with client(transport, otel, fake_clock) as tk:
        await tk.feeds.retrieve(feed)
    (span,) = otel.spans.get_finished_spans()
    assert span.name == "GET /admin/v0/feeds/{feed_id}"
    assert span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes or {})
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.route"] == "/admin/v0/feeds/{feed_id}"
    assert attributes["server.address"] == "api.tightknit.ai"
    assert attributes["http.response.status_code"] == 200
    assert attributes["tightknit.attempts"] == 1
    assert attributes["tightknit.replayed"] is False
    assert attributes["tightknit.governor.wait_s"] == 0.0
    assert span.status.status_code is StatusCode.UNSET
    metrics = otel.metrics()
    assert metrics["tightknit.client.requests"] == [({"http.response.status_code_class": "2xx"}, 1)]
    assert "tightknit.client.retries" not in metrics
    assert KEY not in str(attributes)


async def test_a_retried_call_counts_each_attempt(otel: Otel, fake_clock: FakeClock) -> None:
    transport = scripted(json_response(503), json_response(503), json_response(200, {"ok": 1}))
    async with client(transport, otel, fake_clock) as tk:
        response = await tk.request("GET", "/admin/v0/feeds")
    assert response.attempts == 3
    (span,) = otel.spans.get_finished_spans()
    assert dict(span.attributes or {})["tightknit.attempts"] == 3
    metrics = otel.metrics()
    assert sorted(metrics["tightknit.client.requests"], key=str) == [
        ({"http.response.status_code_class": "2xx"}, 1),
        ({"http.response.status_code_class": "5xx"}, 2),
    ]
    assert metrics["tightknit.client.retries"] == [({}, 2)]


async def test_a_429_is_counted_and_a_failed_call_records_its_error(
    otel: Otel, fake_clock: FakeClock
) -> None:
    transport = scripted(json_response(429, None, {"Retry-After": "1"}), json_response(404))
    async with client(transport, otel, fake_clock) as tk:
        with pytest.raises(NotFoundError):
            await tk.calendar_events.retrieve("abcdefghijkl")
    (span,) = otel.spans.get_finished_spans()
    assert span.name == "GET /admin/v0/calendar_events/{calendar_event_id}"
    assert span.status.status_code is StatusCode.ERROR
    attributes = dict(span.attributes or {})
    assert attributes["http.response.status_code"] == 404
    assert attributes["error.type"] == "NotFoundError"
    assert [event.name for event in span.events] == ["exception"]
    metrics = otel.metrics()
    assert metrics["tightknit.client.rate_limited"] == [({}, 1)]
    assert sorted(metrics["tightknit.client.requests"], key=str) == [
        ({"http.response.status_code_class": "4xx"}, 2),
    ]


async def test_governor_waits_are_measured(otel: Otel) -> None:
    transport = MockTransport(lambda _: json_response(200, {}))
    async with AsyncTightknit(
        api_key=f"{KEY}_governed",
        transport=transport,
        rate_limit=50,
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
    ) as tk:
        for _ in range(60):  # beyond the cold-start allowance: later calls queue
            await tk.request("GET", "/admin/v0/feeds", priority="bulk")
    spans = otel.spans.get_finished_spans()
    assert len(spans) == 60
    waits = [dict(s.attributes or {})["tightknit.governor.wait_s"] for s in spans]
    assert any(w > 0 for w in waits)
    metrics = otel.metrics()
    ((_, (count, total)),) = metrics["tightknit.client.governor.wait"]
    assert count >= 1
    assert total == pytest.approx(sum(waits))
    queue = {a["tightknit.lane"]: v for a, v in metrics["tightknit.client.governor.queue"]}
    assert queue == {"interactive": 0, "bulk": 0}


async def test_telemetry_off_records_nothing(otel: Otel, fake_clock: FakeClock) -> None:
    transport = scripted(json_response(200, {}))
    async with client(transport, otel, fake_clock, telemetry=False) as tk:
        await tk.request("GET", "/admin/v0/feeds")
    assert otel.spans.get_finished_spans() == ()
    assert otel.metrics() == {}


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/admin/v0/members", "/admin/v0/members"),
        (
            "/admin/v0/members/3f1c2b9e-8d4a-4c1e-9b7a-2e5f6a7b8c9d/deactivate",
            "/admin/v0/members/{member_id}/deactivate",
        ),
        ("/admin/v0/feeds/x/posts", "/admin/v0/feeds/{feed_id}/posts"),
        ("/admin/v0/groups/g1/members", "/admin/v0/groups/{group_id}/members"),
        ("/admin/v0/widgets/3f1c2b9e-8d4a-4c1e-9b7a-2e5f6a7b8c9d", "/admin/v0/widgets/{id}"),
        ("/admin/v0/widgets/abcdefghijkl/7", "/admin/v0/widgets/{id}/{id}"),
    ],
)
def test_routes_are_templates(path: str, route: str) -> None:
    assert route_of(path) == route


# -- nothing configured: nothing spent; configured later: everything recorded --------------------


class SpyTracer:
    """A tracer that counts the spans asked of it (and starts none)."""

    def __init__(self) -> None:
        self.started = 0

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        self.started += 1
        raise AssertionError("a span was started")

    start_span = start_as_current_span


def telemetry_of(tk: AsyncTightknit) -> Telemetry:
    telemetry = tk._runner.telemetry
    assert telemetry is not None
    return telemetry


async def test_default_proxy_providers_start_no_span(fake_clock: FakeClock) -> None:
    if not isinstance(trace.get_tracer_provider(), ProxyTracerProvider):
        pytest.skip("this process has a global tracer provider set")
    transport = scripted(json_response(200, {}))
    async with AsyncTightknit(
        api_key=KEY, transport=transport, rate_limit=None, clock=fake_clock
    ) as tk:
        telemetry = telemetry_of(tk)
        assert telemetry.recording() is False
        spy = SpyTracer()
        telemetry.tracer = spy
        response = await tk.request("GET", "/admin/v0/feeds")
    assert response.status_code == 200
    assert spy.started == 0


async def test_no_op_providers_given_record_nothing(fake_clock: FakeClock) -> None:
    transport = scripted(json_response(200, {}))
    async with AsyncTightknit(
        api_key=KEY,
        transport=transport,
        rate_limit=None,
        clock=fake_clock,
        tracer_provider=NoOpTracerProvider(),
        meter_provider=NoOpMeterProvider(),
    ) as tk:
        telemetry = telemetry_of(tk)
        assert telemetry.recording() is False
        spy = SpyTracer()
        telemetry.tracer = spy
        await tk.request("GET", "/admin/v0/feeds")
    assert spy.started == 0


async def test_an_idle_telemetry_hands_the_call_back_unwrapped() -> None:
    telemetry = Telemetry("https://api.tightknit.ai", tracer_provider=NoOpTracerProvider())

    async def run() -> Any:
        raise AssertionError("not awaited")

    call = run()
    request = Request("GET", "https://api.tightknit.ai/admin/v0/feeds", path="/admin/v0/feeds")
    assert telemetry.traced(request, call) is call
    call.close()


def test_a_provider_given_records(otel: Otel) -> None:
    telemetry = Telemetry("https://api.tightknit.ai", tracer_provider=otel.tracer_provider)
    assert telemetry.recording() is True


CONFIGURED_LATER = """
import asyncio, json
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tightknit_async import AsyncTightknit
from tightknit_async.testing import MockTransport, json_response

async def main():
    found = {}
    transport = MockTransport(lambda _: json_response(200, {}))
    async with AsyncTightknit(api_key=%(key)r, transport=transport, rate_limit=None) as tk:
        telemetry = tk._runner.telemetry
        found["before"] = telemetry.recording()
        await tk.request("GET", "/admin/v0/feeds")  # nothing set yet: no span, no count

        spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        trace.set_tracer_provider(tracer_provider)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

        found["after"] = telemetry.recording()
        await tk.request("GET", "/admin/v0/feeds/abcdefghijkl")
        await tk.request("GET", "/admin/v0/members")
    found["spans"] = [
        [span.name, dict(span.attributes or {})] for span in spans.get_finished_spans()
    ]
    found["metrics"] = {
        metric.name: [[dict(p.attributes), p.value] for p in metric.data.data_points]
        for resource in reader.get_metrics_data().resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    print(json.dumps(found))

asyncio.run(main())
"""


def test_providers_set_after_the_client_is_created_record_later_calls() -> None:
    # The global providers can be set once per process: this runs in a fresh one.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", CONFIGURED_LATER % {"key": KEY}],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["before"] is False
    assert found["after"] is True
    assert [name for name, _ in found["spans"]] == [
        "GET /admin/v0/feeds/{feed_id}",
        "GET /admin/v0/members",
    ]
    attributes = found["spans"][0][1]
    assert attributes["http.response.status_code"] == 200
    assert attributes["tightknit.attempts"] == 1
    assert attributes["server.address"] == "api.tightknit.ai"
    assert found["metrics"]["tightknit.client.requests"] == [
        [{"http.response.status_code_class": "2xx"}, 2]
    ]

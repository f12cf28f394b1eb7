"""OpenTelemetry traces and metrics, when the application uses OpenTelemetry.

Install the extra (``pip install '.[otel]'``, which brings ``opentelemetry-api``); without it this
module imports nothing of OpenTelemetry and the client records nothing. As libraries do, the client
takes the global tracer and meter providers, which are no-ops until the application configures
OpenTelemetry; ``AsyncTightknit(tracer_provider=..., meter_provider=...)`` overrides them, and
``telemetry=False`` turns recording off for one client.

**Spans.** One span per logical call (``SpanKind.CLIENT``), named after its method and route
template (``POST /admin/v0/members``, ``GET /admin/v0/calendar_events/{calendar_event_id}``), with
``http.request.method``, ``http.route``, ``server.address``, ``server.port``,
``http.response.status_code``, ``tightknit.attempts``, ``tightknit.replayed`` and
``tightknit.governor.wait_s`` (seconds spent queued for send slots, all attempts). A call that
fails records its exception, sets ``error.type`` and an error status. The span is current while
the call runs, so the attempt spans of ``opentelemetry-instrumentation-aiohttp-client``, when
installed, nest under it.

**Metrics.**

- ``tightknit.client.requests`` (counter): HTTP requests sent, attempts included, by
  ``http.response.status_code_class`` (``2xx``, ``4xx``, ``5xx``, ``error`` for no answer);
- ``tightknit.client.retries`` (counter): attempts after a call's first;
- ``tightknit.client.rate_limited`` (counter): 429 answers;
- ``tightknit.client.governor.wait`` (histogram, seconds): each wait for a send slot;
- ``tightknit.client.governor.queue`` (gauge): callers queued for a slot, per ``tightknit.lane``.

**Until the application configures OpenTelemetry** the global providers are OpenTelemetry's
proxies, and nothing records: the client then starts no span (no name, attributes or context
switch), checking per call only whether a tracer provider has been set
(``trace.get_tracer_provider()``). Calls that start after the application sets its providers
(``set_tracer_provider`` / ``set_meter_provider``, even after the client was created) have their
spans; the instruments, taken from the proxy meter, count into the application's meter provider
from the moment it is set. A no-op provider (``NoOpTracerProvider``, ``NoOpMeterProvider``),
global or given, records nothing, and the client spends nothing on it.
"""

from __future__ import annotations

import contextvars
import importlib.util
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

from ._routes import route_of
from ._version import __version__

if TYPE_CHECKING:
    from ._response import APIResponse
    from .governor import RateGovernor

__all__ = ["Telemetry", "available"]

_SCOPE: Final = "tightknit_async"
_QUEUED: Final[contextvars.ContextVar[list[float] | None]] = contextvars.ContextVar(
    "tightknit_governor_wait", default=None
)
"""The seconds the current call has waited for send slots (one cell, while a span is open)."""
_UNSEEN: Final = object()
"""The global tracer provider before the first look (nothing is ever this)."""


class _Call(Protocol):
    """What a span reads of a call (the pipeline's call description)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...


def available() -> bool:
    """Whether ``opentelemetry-api`` is installed."""
    return importlib.util.find_spec("opentelemetry") is not None and (
        importlib.util.find_spec("opentelemetry.trace") is not None
    )


def _status_class(status: int | None) -> str:
    return "error" if status is None else f"{status // 100}xx"


_STATUS_CLASSES: Final[dict[int | None, str]] = {
    None: "error",
    **{status: _status_class(status) for status in range(100, 600)},
}
"""``_status_class`` of each status, looked up rather than formatted per attempt."""


class Telemetry:
    """The spans and instruments of one client (see the module docstring).

    Args:
        base_url: the server's URL, for ``server.address`` and ``server.port``.
        tracer_provider, meter_provider: OpenTelemetry providers; ``None``: the global ones.
    """

    def __init__(
        self, base_url: str, *, tracer_provider: Any = None, meter_provider: Any = None
    ) -> None:
        from opentelemetry import metrics, trace

        self._trace = trace
        tracers = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        meters = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        # A proxy tracer (from the global provider, before the application sets one) starts
        # spans of the provider set later: spans follow the global provider, checked per call.
        self.tracer = tracers.get_tracer(_SCOPE, __version__)
        self._global_tracers: Callable[[], Any] = trace.get_tracer_provider
        self._unset: object | None = None
        """The global tracer provider while it is the proxy (nothing set); ``None`` once settled."""
        self._spans = False
        """Whether calls record spans (while ``_unset`` is not ``None``: as of the last look)."""
        if isinstance(tracers, trace.ProxyTracerProvider):
            self._unset = _UNSEEN
            self.recording()
        else:
            self._spans = not isinstance(tracers, trace.NoOpTracerProvider)
        # The proxy meter's instruments forward to the provider set later by themselves.
        self._metrics = not isinstance(meters, metrics.NoOpMeterProvider)
        meter = meters.get_meter(_SCOPE, __version__)
        parts = urlsplit(base_url)
        self._server: dict[str, Any] = {"server.address": parts.hostname or ""}
        if parts.port is not None:
            self._server["server.port"] = parts.port
        self._requests = meter.create_counter(
            "tightknit.client.requests",
            unit="{request}",
            description="HTTP requests sent, attempts included, by status class",
        )
        self._retries = meter.create_counter(
            "tightknit.client.retries", unit="{request}", description="Attempts after the first"
        )
        self._rate_limited = meter.create_counter(
            "tightknit.client.rate_limited", unit="{request}", description="429 answers"
        )
        self._waits = meter.create_histogram(
            "tightknit.client.governor.wait",
            unit="s",
            description="Seconds waited for a send slot from the rate governor",
        )
        self._governors: weakref.WeakSet[Any] = weakref.WeakSet()
        meter.create_observable_gauge(
            "tightknit.client.governor.queue",
            callbacks=[self._queue],
            unit="{request}",
            description="Callers queued for a send slot, per lane",
        )

    def watch(self, governor: RateGovernor) -> None:
        """Report ``governor``'s queue in the queue gauge."""
        self._governors.add(governor)

    def _queue(self, options: Any) -> Iterable[Any]:
        from opentelemetry.metrics import Observation

        interactive = bulk = 0
        for governor in list(self._governors):
            stats = governor.statistics()
            interactive += stats.waiting_interactive
            bulk += stats.waiting_bulk
        return [
            Observation(interactive, {"tightknit.lane": "interactive"}),
            Observation(bulk, {"tightknit.lane": "bulk"}),
        ]

    # -- the runner reports each attempt -------------------------------------------------------

    def attempted(self, status: int | None, attempt: int) -> None:
        """An attempt ended with ``status`` (``None``: no answer)."""
        if not self._metrics:
            return
        status_class = _STATUS_CLASSES.get(status) or _status_class(status)
        self._requests.add(1, {"http.response.status_code_class": status_class})
        if attempt > 1:
            self._retries.add(1)
        if status == 429:
            self._rate_limited.add(1)

    def waited(self, seconds: float) -> None:
        """An attempt waited ``seconds`` for its send slot."""
        if self._metrics:
            self._waits.record(seconds)
        queued = _QUEUED.get()
        if queued is not None:
            queued[0] += seconds

    # -- the client wraps each call in a span ----------------------------------------------------

    def recording(self) -> bool:
        """Whether a call starting now records a span.

        While the global tracer provider is OpenTelemetry's proxy (the application has set none),
        each look asks for the global provider again; once one is set (once per process, by
        OpenTelemetry's rule) the answer is settled: whether that provider is not a no-op.
        """
        unset = self._unset
        if unset is not None:
            provider = self._global_tracers()
            if provider is not unset:
                if isinstance(provider, self._trace.ProxyTracerProvider):  # the first look
                    self._unset = provider
                else:
                    self._unset = None
                    self._spans = not isinstance(provider, self._trace.NoOpTracerProvider)
        return self._spans

    def traced(self, call: _Call, run: Awaitable[APIResponse]) -> Awaitable[APIResponse]:
        """``run`` (the call) inside its span; ``run`` itself while nothing records spans."""
        if self._spans or (self._unset is not None and self.recording()):
            return self._traced(call, run)
        return run

    async def _traced(self, call: _Call, run: Awaitable[APIResponse]) -> APIResponse:
        """Await ``run`` inside its span."""
        trace = self._trace
        route = route_of(call.path)
        attributes = {"http.request.method": call.method, "http.route": route, **self._server}
        queued = [0.0]
        token = _QUEUED.set(queued)
        with self.tracer.start_as_current_span(
            f"{call.method} {route}",
            kind=trace.SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                response = await run
            except BaseException as exc:
                status = getattr(exc, "status_code", None)
                if isinstance(status, int):
                    span.set_attribute("http.response.status_code", status)
                span.set_attribute("error.type", type(exc).__qualname__)
                span.set_attribute("tightknit.governor.wait_s", queued[0])
                span.record_exception(exc)
                span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__qualname__))
                raise
            finally:
                _QUEUED.reset(token)
            span.set_attribute("http.response.status_code", response.status_code)
            span.set_attribute("tightknit.attempts", response.attempts)
            span.set_attribute("tightknit.replayed", response.replayed)
            span.set_attribute("tightknit.governor.wait_s", queued[0])
            return response

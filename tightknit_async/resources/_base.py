"""What every resource shares: the per-call options and typed call helpers."""

from __future__ import annotations

import contextvars
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import msgspec

from .._config import Timeout
from .._types import NotGiven, Priority
from ..models import Envelope, ListPage
from ..pagination import AsyncPager
from ..transport import Multipart

if TYPE_CHECKING:
    from .._response import APIResponse

__all__ = [
    "APIResource",
    "RawResponses",
    "RequestOptions",
    "Requester",
    "apply_extras",
    "path_id",
]

T = TypeVar("T")


class RequestOptions(TypedDict, total=False):
    """Per-call options every resource method takes (left out: the client's setting).

    ``idempotency_key``: a UUIDv4 for a mutation (default, or ``None``: a fresh one), ``False``
    for none; ``timeout``: per attempt; ``max_retries``; ``priority``: ``"interactive"`` or
    ``"bulk"``; ``deadline``: seconds the whole call may take (queue, attempts, backoff).

    For what the typed arguments do not cover (a field or parameter the API gained since):

    - ``extra_query``: query parameters merged over the method's own (same name: yours win;
      ``None`` leaves one out); a list call sends them with every page, so a ``page`` or
      ``per_page`` here fixes every request to that value.
    - ``extra_body``: fields merged over the JSON body at its top level (same name: yours win).
      A method without a body sends these alone, as JSON, even a GET. For a file upload they
      are extra form fields (str, int, float or bool values).
    - ``extra_headers``: headers merged over the client's for this call. ``Authorization`` (the
      client's key) and ``Idempotency-Key`` (use ``idempotency_key``) are refused with a
      ``ValueError``, before anything is sent; ``X-Tightknit-Attempt`` is always the client's.
    """

    idempotency_key: str | Literal[False] | None
    timeout: Timeout | float | None
    max_retries: int
    priority: Priority
    deadline: float | None
    extra_headers: Mapping[str, str]
    extra_query: Mapping[str, object]
    extra_body: Mapping[str, object]


def _mapping(name: str, value: object) -> Mapping[str, Any]:
    """``value`` as a mapping (``None``: an empty one); ``TypeError`` naming ``name`` if not."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping, not {type(value).__name__}")
    return value


def _form_text(name: str, value: object) -> str:
    """An ``extra_body`` value as the text of a multipart form field."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(
        f"extra_body[{name!r}] must be a str, int, float or bool for a form field, "
        f"not {type(value).__name__}"
    )


def apply_extras(
    params: Mapping[str, Any] | None,
    json: object,
    multipart: Multipart | None,
    headers: Mapping[str, str] | None,
    *,
    extra_query: object,
    extra_body: object,
    extra_headers: object,
) -> tuple[Mapping[str, Any] | None, object, Multipart | None, Mapping[str, str] | None]:
    """Fold the ``extra_*`` options into a call's parts (for ``AsyncTightknit.request``).

    ``extra_query`` goes over ``params``; ``extra_body`` over the JSON body's top level (a model
    is turned into its JSON dict first; no body: it becomes the body), or over a multipart
    body's form fields; ``extra_headers`` over ``headers``. Same names: the extras win. ``None``
    or an empty mapping changes nothing. Raises ``TypeError`` for an extra that is not a mapping,
    a JSON body that is not an object, or a form value with no text form.
    """
    query = _mapping("extra_query", extra_query)
    if query:
        params = {**(params or {}), **query}
    extra = _mapping("extra_body", extra_body)
    if extra:
        if multipart is not None:
            fields = {name: _form_text(name, value) for name, value in extra.items()}
            multipart = Multipart(fields={**multipart.fields, **fields}, file=multipart.file)
        elif isinstance(json, NotGiven):
            json = dict(extra)
        else:
            base = msgspec.to_builtins(json) if isinstance(json, msgspec.Struct) else json
            if not isinstance(base, Mapping):
                raise TypeError(
                    f"extra_body merges into a JSON object, but the body is a {type(base).__name__}"
                )
            json = {**base, **extra}
    more_headers = _mapping("extra_headers", extra_headers)
    if more_headers:
        headers = {**(headers or {}), **more_headers}
    return params, json, multipart, headers


_UNRESERVED: Final = re.compile(r"[A-Za-z0-9_.~-]+")
"""Characters a path segment carries as they are (ids are UUIDs and slugs: no quoting needed)."""


def path_id(name: str, value: object) -> str:
    """``value`` as one URL path segment; ``ValueError`` naming ``name`` if empty or not a str."""
    if not isinstance(value, str) or not value.strip() or value in (".", ".."):
        raise ValueError(f"{name} must be a non-empty str, got {value!r}")
    if _UNRESERVED.fullmatch(value):
        return value
    return quote(value, safe="")


def as_list(value: Any) -> Any:
    """A sequence argument as a list; a bare str is passed on as it is, for the request model to
    refuse (``list("U1")`` would quietly send ``["U", "1"]``)."""
    return value if isinstance(value, str) else list(value)


_ENVELOPES: Final[dict[Any, Any]] = {}


def _envelope(data_type: Any) -> Any:
    """``Envelope[data_type]``, built once per type (a generic alias costs more to build and to
    hash than the decoder look-up it keys). The models are a fixed set: the dict stays small."""
    envelope = _ENVELOPES.get(data_type)
    if envelope is None:
        envelope = _ENVELOPES[data_type] = Envelope[data_type]
    return envelope


_RAW_SINK: Final[contextvars.ContextVar[list[APIResponse] | None]] = contextvars.ContextVar(
    "tightknit_raw_sink", default=None
)
"""Set by :class:`RawResponses` for the duration of one call: the responses that call decoded."""


class RawResponses:
    """``resource.with_raw_response``: the same methods, returning the :class:`APIResponse`.

    ::

        response = await tk.members.with_raw_response.create(email=..., full_name=...)
        response.status_code, response.headers, response.request_id, response.replayed
        response.data                              # the JSON as the server sent it
        result = response.parse(Envelope[MemberUpsert])

    The call runs exactly as the typed method does (checks, pacing, retries, idempotency, the
    typed decode, which may raise in strict mode); what comes back is the reply it decoded. For a
    list method it is the reply of the first page (``page=``).
    """

    __slots__ = ("_resource",)

    def __init__(self, resource: APIResource) -> None:
        self._resource = resource

    def __getattr__(self, name: str) -> Callable[..., Awaitable[APIResponse]]:
        method = None if name.startswith("_") else getattr(self._resource, name, None)
        if not callable(method):
            raise AttributeError(f"{type(self._resource).__name__} has no method {name!r}")

        async def call(*args: Any, **kwargs: Any) -> APIResponse:
            sink: list[APIResponse] = []
            token = _RAW_SINK.set(sink)
            try:
                result = method(*args, **kwargs)
                if inspect.isawaitable(result):
                    await result
            finally:
                _RAW_SINK.reset(token)
            if not sink:
                raise TypeError(f"{name}() does not send a request: it has no raw response")
            return sink[-1]

        call.__name__ = call.__qualname__ = name
        call.__doc__ = getattr(method, "__doc__", None)
        return call

    def __repr__(self) -> str:
        return f"<RawResponses of {type(self._resource).__name__}>"


class Requester(Protocol):
    """What a resource needs of its client (:class:`~tightknit_async.AsyncTightknit`): one
    ``request`` and the decoding mode. Resources depend on this, not on the client module."""

    @property
    def strict_responses(self) -> bool: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: object = ...,
        multipart: Multipart | None = None,
        **options: Unpack[RequestOptions],
    ) -> APIResponse: ...


class APIResource:
    """Base of the resources hung on :class:`~tightknit_async.AsyncTightknit`."""

    def __init__(self, client: Requester) -> None:
        self._client = client

    @property
    def with_raw_response(self) -> RawResponses:
        """The same methods, each returning the call's :class:`~tightknit_async.APIResponse`
        (headers, request id, the JSON as sent) instead of the model; ``.parse()`` gives the
        model. See :class:`RawResponses`."""
        return RawResponses(self)

    def _record(self, response: APIResponse) -> None:
        """Hand ``response`` to a :class:`RawResponses` call in progress, if any."""
        sink = _RAW_SINK.get()
        if sink is not None:
            sink.append(response)

    def _parse(self, response: APIResponse, type_: type[T]) -> T:
        """Decode ``response`` as ``type_``: tolerantly, or strictly when the client was built
        with ``strict_responses=True`` (see :meth:`APIResponse.parse`)."""
        self._record(response)
        return response.parse(type_, strict=self._client.strict_responses)

    async def _send(
        self,
        method: str,
        path: str,
        options: RequestOptions,
        *,
        params: Mapping[str, Any] | None = None,
        body: object = None,
    ) -> APIResponse:
        if body is None:
            return await self._client.request(method, path, params=params, **options)
        return await self._client.request(method, path, params=params, json=body, **options)

    async def _data(
        self,
        method: str,
        path: str,
        data_type: type[T],
        options: RequestOptions,
        *,
        params: Mapping[str, Any] | None = None,
        body: object = None,
    ) -> T:
        """Send, then decode ``{"success": ..., "data": <data_type>}`` and return ``data``."""
        client = self._client
        if body is None:
            response = await client.request(method, path, params=params, **options)
        else:
            response = await client.request(method, path, params=params, json=body, **options)
        envelope: Envelope[T] = self._parse(response, _envelope(data_type))
        return envelope.data

    def _pager(
        self,
        path: str,
        record_type: type[T],
        options: RequestOptions,
        *,
        params: dict[str, Any],
        page: int,
        per_page: int | None,
        max_items: int | None,
        max_pages: int | None,
        concurrency: int,
    ) -> AsyncPager[T]:
        if per_page is not None and (isinstance(per_page, bool) or not isinstance(per_page, int)):
            raise ValueError(f"per_page must be an int, got {per_page!r}")
        page_type: Any = ListPage[record_type]  # type: ignore[valid-type]

        async def fetch(number: int) -> ListPage[T]:
            # options (extra_query included) go with every page; request() merges extra_query
            query = {**params, "page": number, "per_page": per_page}
            result: ListPage[T] = await self._data("GET", path, page_type, options, params=query)
            return result

        return AsyncPager(
            fetch, page=page, max_items=max_items, max_pages=max_pages, concurrency=concurrency
        )

"""The transport seam and its aiohttp implementation. Only this package imports aiohttp's client."""

from ._aiohttp import AiohttpTransport, map_aiohttp_error
from ._base import AsyncTransport, Request, Response

__all__ = ["AiohttpTransport", "AsyncTransport", "Request", "Response", "map_aiohttp_error"]

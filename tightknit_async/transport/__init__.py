"""The transport seam and its aiohttp implementation. Only this package imports aiohttp's client."""

from ._aiohttp import AiohttpTransport, map_aiohttp_error
from ._base import AsyncTransport, Multipart, MultipartFile, Request, Response

__all__ = [
    "AiohttpTransport",
    "AsyncTransport",
    "Multipart",
    "MultipartFile",
    "Request",
    "Response",
    "map_aiohttp_error",
]

"""Frozen settings objects, their defaults, and the checks that guard them.

Settings are immutable values (never objects that change while requests share them); a per-call
override builds a new value with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RETRY_DEADLINE",
    "DEFAULT_TIMEOUT",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_REDIS_URL",
    "Limits",
    "Timeout",
    "resolve_api_key",
    "resolve_base_url",
]

ENV_API_KEY: Final = "TIGHTKNIT_API_KEY"
ENV_BASE_URL: Final = "TIGHTKNIT_BASE_URL"
ENV_REDIS_URL: Final = "TIGHTKNIT_REDIS_URL"

DEFAULT_BASE_URL: Final = "https://api.tightknit.ai"
DEFAULT_RATE_LIMIT: Final = 50.0
"""Requests per second per API key: Tightknit's documented cap."""
DEFAULT_MAX_RETRIES: Final = 3
DEFAULT_RETRY_DEADLINE: Final = 60.0
"""Seconds one call may take over all of its attempts and waits before it gives up."""


def check_non_negative(name: str, value: float | None) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is ``None`` or a finite number >= 0."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds or None, not {type(value).__name__}")
    if math.isnan(value) or value < 0:
        raise ValueError(f"{name} must be >= 0 (or None to disable), got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeout:
    """Per-attempt time limits in seconds; ``None`` disables one.

    ``connect``: opening a pooled connection (including waiting for a free one in the pool);
    ``read``: the longest gap between two chunks of the reply (off by default: replies are small
    JSON documents, and ``total`` already bounds a stalled one); ``total``: the whole attempt.
    The call's retry deadline bounds all attempts together, and clips ``total`` when less is left.
    """

    connect: float | None = 10.0
    read: float | None = None
    total: float | None = 30.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            check_non_negative(f"timeout.{name}", getattr(self, name))

    @classmethod
    def coerce(cls, value: Timeout | float | None, *, name: str = "timeout") -> Timeout:
        """A number means the total per-attempt limit (connect and read keep their defaults
        unless they would exceed it); ``None`` means no limit at all."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(connect=None, read=None, total=None)
        check_non_negative(name, value)
        base = DEFAULT_TIMEOUT
        return cls(
            connect=None if base.connect is None else min(base.connect, value),
            read=None if base.read is None else min(base.read, value),
            total=float(value),
        )

    def clipped(self, remaining: float | None) -> Timeout:
        """This timeout with ``total`` no larger than ``remaining`` seconds."""
        if remaining is None:
            return self
        if self.total is not None and self.total <= remaining:
            return self
        # Hot path (every attempt): the fields are already valid, so skip __post_init__.
        clipped = object.__new__(Timeout)
        object.__setattr__(clipped, "connect", self.connect)
        object.__setattr__(clipped, "read", self.read)
        object.__setattr__(clipped, "total", max(remaining, 0.0))
        return clipped


DEFAULT_TIMEOUT: Final = Timeout()


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Connection-pool settings for the aiohttp transport.

    ``max_connections``: open connections in total (0 = unlimited); ``max_connections_per_host``:
    per (host, port) (0 = unlimited); ``keepalive_expiry``: seconds an idle connection is kept;
    ``dns_cache_ttl``: seconds a resolved address is reused (``None`` caches forever).
    """

    max_connections: int = 100
    max_connections_per_host: int = 0
    keepalive_expiry: float = 30.0
    dns_cache_ttl: int | None = 300

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_connections_per_host"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"limits.{name} must be an int >= 0, got {value!r}")
        check_non_negative("limits.keepalive_expiry", self.keepalive_expiry)
        if self.dns_cache_ttl is not None and self.dns_cache_ttl < 0:
            raise ValueError(f"limits.dns_cache_ttl must be >= 0, got {self.dns_cache_ttl!r}")


DEFAULT_LIMITS: Final = Limits()


def resolve_api_key(api_key: str | None) -> str:
    """The API key from the argument, else ``TIGHTKNIT_API_KEY``.

    Raises ``ValueError`` when neither is set, or the key is empty, blank or holds whitespace or
    control characters (such a key cannot be sent in a header). The message never repeats the key.
    """
    source = "api_key"
    if api_key is None:
        api_key = os.environ.get(ENV_API_KEY)
        source = ENV_API_KEY
        if api_key is None:
            raise ValueError(
                f"No API key: pass api_key=... to AsyncTightknit or set the {ENV_API_KEY} "
                "environment variable"
            )
    if not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str, not {type(api_key).__name__}")
    if not api_key.strip():
        raise ValueError(f"{source} is empty or blank")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in api_key):
        raise ValueError(f"{source} contains whitespace or control characters")
    return api_key


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_base_url(base_url: str | None, *, allow_insecure_http: bool = False) -> str:
    """The base URL from the argument, else ``TIGHTKNIT_BASE_URL``, else production.

    Must be ``https://`` with a host, or ``http://`` to a loopback address (a local fake server)
    or with ``allow_insecure_http=True``: the API key must not cross a network in clear text.
    A trailing slash is dropped. Raises ``ValueError`` naming the argument (or the variable).
    """
    source = "base_url"
    if base_url is None:
        env = os.environ.get(ENV_BASE_URL)
        if env is None or not env.strip():
            return DEFAULT_BASE_URL
        base_url, source = env.strip(), ENV_BASE_URL
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, not {type(base_url).__name__}")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{source} must be an absolute http(s) URL with a host, like "
            f"'{DEFAULT_BASE_URL}', got {base_url!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{source} must not carry a query or fragment, got {base_url!r}")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise ValueError(
            f"{source} is plain http:// to {parts.hostname!r}: the API key would travel "
            "unencrypted. Use https://, or pass allow_insecure_http=True for a trusted network"
        )
    return base_url.rstrip("/")

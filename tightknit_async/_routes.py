"""Route templates: ``/admin/v0/feeds/3f1c.../posts`` -> ``/admin/v0/feeds/{feed_id}/posts``.

Spans and metrics are named after the route, not the path, so that a million calls to a million
events make one series, not a million. Paths of the known endpoints map to their template; any
other path keeps its literal segments and has its id-like ones (UUIDs, 12-character ids, digits)
replaced by ``{id}``.
"""

from __future__ import annotations

import functools
import re
from typing import Final

__all__ = ["route_of"]

_ROUTES: Final = (
    "/admin/v0/members",
    "/admin/v0/members/{member_id}/deactivate",
    "/admin/v0/api_key/me",
    "/admin/v0/calendar_events",
    "/admin/v0/calendar_events/{calendar_event_id}",
    "/admin/v0/feeds",
    "/admin/v0/feeds/{feed_id}",
    "/admin/v0/feeds/{feed_id}/posts",
    "/admin/v0/posts/{post_id}",
    "/admin/v0/search",
    "/admin/v0/files",
    "/admin/v0/awards/{award_id}/assign",
    "/admin/v0/badges/{badge_id}/assign",
    "/admin/v0/groups/{group_id}/members",
)


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(template)) + "/?")


_PATTERNS: Final = tuple((_pattern(t), t) for t in _ROUTES)
_ID_LIKE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[a-z0-9]{12}|[0-9]+"
)


@functools.lru_cache(maxsize=1024)
def route_of(path: str) -> str:
    """The route template of ``path`` (a path without its query)."""
    for pattern, template in _PATTERNS:
        if pattern.fullmatch(path):
            return template
    return "/".join(
        "{id}" if _ID_LIKE.fullmatch(segment) and segment not in ("admin", "v0") else segment
        for segment in path.split("/")
    )

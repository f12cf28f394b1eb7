"""Search ([Beta]): ``GET /admin/v0/search?q=...`` answers ``Envelope[ListPage[SearchHit]]``.

A hit has exactly the shape of a :class:`~tightknit_async.models.Post`.
"""

from __future__ import annotations

from typing import TypeAlias

from .posts import Post

__all__ = ["SearchHit"]

SearchHit: TypeAlias = Post
"""One search result: a post."""

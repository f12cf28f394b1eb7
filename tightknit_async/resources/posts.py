"""``/admin/v0/posts``: retrieve one post."""

from __future__ import annotations

from typing import Unpack

from ..models import Post
from ._base import APIResource, RequestOptions, path_id

__all__ = ["PostsResource"]


class PostsResource(APIResource):
    """``tk.posts``."""

    async def retrieve(self, post_id: str, **options: Unpack[RequestOptions]) -> Post:
        """One post with its author, feed, body and Slack message (``GET /admin/v0/posts/{id}``)."""
        return await self._data(
            "GET", f"/admin/v0/posts/{path_id('post_id', post_id)}", Post, options
        )

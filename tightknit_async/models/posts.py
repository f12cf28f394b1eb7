"""Posts: feed content, usually synced from a Slack message.

Endpoints: ``GET /admin/v0/posts/{post_id}`` (``Envelope[Post]``) and
``GET /admin/v0/feeds/{feed_id}/posts`` (``Envelope[ListPage[Post]]``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._common import FeedRef, ProfileSummary, ResponseModel, SlackBlocks, SlackBlocksReferences
from ._scalars import Timestamp

__all__ = ["Post", "SlackMessage"]


class SlackMessage(ResponseModel, kw_only=True, frozen=True):
    """The Slack message a post came from.

    ``message_ts`` is Slack's message timestamp: a number in the docs, a string such as
    ``"1747250195.525399"`` in live data; both are accepted and kept as given (a float would lose
    digits, so prefer the string form when matching against Slack).
    """

    id: str | None = None
    message_ts: str | float | int | None = None
    blocks: SlackBlocks | None = None
    markdown: str | None = None
    permalink: str | None = None
    parent_slack_message_id: str | None = None
    username: str | None = None
    icon: Any = None


class Post(ResponseModel, kw_only=True, frozen=True):
    """A post with its author, feed, plaintext/ProseMirror body and source Slack message.

    ``read_time_minutes`` is documented but absent from live data, hence None when missing.
    """

    id: str
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    content_created_at: Timestamp | None = None
    latest_activity_at: Timestamp | None = None
    title: str | None = None
    slug: str | None = None
    feed_id: str | None = None
    post_detail_display_format: str | None = None
    author_profile_id: str | None = None
    read_time_minutes: int | None = None
    source: str | None = None
    file_attachments_count: int = 0
    reactions_count: int = 0
    comments_count: int = 0
    body_plaintext: str | None = None
    body_prosemirror: dict[str, Any] | None = None
    author: ProfileSummary | None = None
    feed: FeedRef | None = None
    slack_message: SlackMessage | None = None
    cover_image_file_id: str | None = None
    cover_image_url: str | None = None
    references: SlackBlocksReferences = msgspec.field(default_factory=SlackBlocksReferences)

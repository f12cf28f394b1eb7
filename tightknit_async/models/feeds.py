"""Feeds: Slack channels synced to the community site.

Endpoints: ``GET /admin/v0/feeds`` (``Envelope[ListPage[Feed]]``), ``GET .../{feed_id}``
(``Envelope[Feed]``); a feed's posts are in :mod:`~tightknit_async.models.posts`.
"""

from __future__ import annotations

import msgspec

from ._common import ResponseModel, SlackBlocks, SlackBlocksReferences

__all__ = ["Feed"]


class Feed(ResponseModel, kw_only=True, frozen=True):
    """A feed: its label, display settings and the linked Slack channel's metadata."""

    id: str
    label: str | None = None
    slug: str | None = None
    is_archived: bool = False
    is_unlisted: bool = False
    banner_file_id: str | None = None
    banner_file_url: str | None = None
    emoji_icon: str | None = None
    list_view_display_format: str | None = None
    post_detail_display_format: str | None = None
    show_in_navigation_menu: bool = False
    is_site_posting_enabled: bool = False
    slack_channel_id: str | None = None
    slack_channel_name: str | None = None
    slack_channel_num_members: int = 0
    slack_channel_purpose_slack_blocks: SlackBlocks | None = None
    slack_channel_purpose_slack_blocks_references: SlackBlocksReferences = msgspec.field(
        default_factory=SlackBlocksReferences
    )
    slack_channel_topic_slack_blocks: SlackBlocks | None = None
    slack_channel_topic_slack_blocks_references: SlackBlocksReferences = msgspec.field(
        default_factory=SlackBlocksReferences
    )

"""The fake community's data: members, profiles, calendar events, feeds, posts, files, awards,
badges, groups and tags, with their lookups.

Tables are dicts from id to a frozen record, in insertion order. Members are also indexed by
lowercased e-mail, the key ``POST /admin/v0/members`` upserts on, and Slack-linked profiles by
Slack user id. Methods change the tables and return what changed; they never decide HTTP
statuses (the handlers in ``_endpoints.py`` do).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import msgspec

from ._ids import IdFactory
from ._records import (
    Award,
    AwardAssignment,
    Badge,
    BadgeAssignment,
    CalendarEvent,
    Community,
    Feed,
    Group,
    Member,
    Post,
    ProfileSummary,
    StoredFile,
    Tag,
    iso_timestamp,
)

PersonKey = Literal["slack_user_id", "email", "profile_id"]
"""The three ways the API names a person: Slack user id, e-mail, Tightknit profile id."""


@dataclass(slots=True)
class Dataset:
    """Every record of one fake community.

    ``profiles`` are the short `ProfileSummary` of every Slack-linked member, keyed by profile id
    (which is also the member id); members without Slack (added through the API, or the seed's
    site-only members) have none.
    """

    community: Community
    members: dict[str, Member] = field(default_factory=dict)
    profiles: dict[str, ProfileSummary] = field(default_factory=dict)
    deactivated_member_ids: set[str] = field(default_factory=set)
    calendar_events: dict[str, CalendarEvent] = field(default_factory=dict)
    feeds: dict[str, Feed] = field(default_factory=dict)
    posts: dict[str, Post] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    awards: dict[str, Award] = field(default_factory=dict)
    award_assignments: list[AwardAssignment] = field(default_factory=list)
    badges: dict[str, Badge] = field(default_factory=dict)
    badge_assignments: list[BadgeAssignment] = field(default_factory=list)
    groups: dict[str, Group] = field(default_factory=dict)
    _member_ids_by_email: dict[str, str] = field(default_factory=dict, repr=False)
    _profile_ids_by_slack_user: dict[str, str] = field(default_factory=dict, repr=False)

    def add_members(self, members: Iterable[Member]) -> None:
        """Insert members (seed data), indexing them by e-mail."""
        for member in members:
            self.members[member.id] = member
            self._member_ids_by_email[member.email.casefold()] = member.id

    def add_profiles(self, profiles: Iterable[ProfileSummary]) -> None:
        """Insert the profiles of Slack-linked members (seed data), indexing them by Slack id."""
        for profile in profiles:
            self.profiles[profile.profile_id] = profile
            self._profile_ids_by_slack_user[profile.slack_user_id] = profile.profile_id

    def find_member(self, email: str) -> Member | None:
        """Return the member with this e-mail address (compared case-insensitively), or None."""
        member_id = self._member_ids_by_email.get(email.casefold())
        return None if member_id is None else self.members[member_id]

    def find_person(self, key: PersonKey, value: str) -> Member | None:
        """Return the member a Slack user id, e-mail or profile id names, or None."""
        if key == "email":
            return self.find_member(value)
        if key == "slack_user_id":
            profile_id = self._profile_ids_by_slack_user.get(value)
            return None if profile_id is None else self.members.get(profile_id)
        return self.members.get(value)

    def find_profile(self, key: PersonKey, value: str) -> ProfileSummary | None:
        """Return the Slack-linked profile a Slack user id, e-mail or profile id names, or None."""
        member = self.find_person(key, value)
        return None if member is None else self.profiles.get(member.id)

    def upsert_member(
        self,
        ids: IdFactory,
        *,
        email: str,
        full_name: str,
        avatar_url_original: str | msgspec.UnsetType | None,
    ) -> tuple[Member, bool]:
        """Create the member with this e-mail, or update the existing one; return it and whether
        it was created.

        The preferred name is the first word of the full name. An update keeps the stored e-mail
        spelling, and keeps the avatar when ``avatar_url_original`` is `msgspec.UNSET`.
        """
        preferred_name = full_name.split()[0]
        existing = self.find_member(email)
        if existing is None:
            member = Member(
                id=ids.uuid4(),
                email=email,
                full_name=full_name,
                preferred_name=preferred_name,
                avatar_url_original=(
                    None
                    if isinstance(avatar_url_original, msgspec.UnsetType)
                    else avatar_url_original
                ),
                slack_profile_id=None,
            )
            self.add_members([member])
            return member, True
        member = msgspec.structs.replace(
            existing,
            full_name=full_name,
            preferred_name=preferred_name,
            avatar_url_original=(
                existing.avatar_url_original
                if isinstance(avatar_url_original, msgspec.UnsetType)
                else avatar_url_original
            ),
        )
        self.members[member.id] = member
        return member, False

    def deactivate_member(self, member_id: str) -> bool:
        """Mark a member deactivated; return False if it already was."""
        if member_id in self.deactivated_member_ids:
            return False
        self.deactivated_member_ids.add(member_id)
        return True

    def slug_in_use(self, slug: str) -> bool:
        """Return whether a calendar event already has this slug."""
        return any(event.slug == slug for event in self.calendar_events.values())

    def posts_newest_first(self, feed_id: str | None = None) -> list[Post]:
        """Return the posts (of one feed, or all), the most recent content first."""
        posts = [p for p in self.posts.values() if feed_id is None or p.feed_id == feed_id]
        posts.sort(key=lambda post: datetime.fromisoformat(post.content_created_at), reverse=True)
        return posts

    def give_badge(self, badge_id: str, slack_user_ids: Iterable[str], now: datetime) -> int:
        """Give a badge to Slack users who do not hold it yet; return how many were new."""
        holders = {a.slack_user_id for a in self.badge_assignments if a.badge_id == badge_id}
        added = 0
        for user in slack_user_ids:
            if user not in holders:
                holders.add(user)
                self.badge_assignments.append(
                    BadgeAssignment(
                        badge_id=badge_id, slack_user_id=user, assigned_at=iso_timestamp(now)
                    )
                )
                added += 1
        return added

    def add_group_members(self, group_id: str, slack_user_ids: Iterable[str]) -> Group:
        """Append the Slack users not yet in the group; return the updated group."""
        group = self.groups[group_id]
        current = set(group.slack_user_ids)
        new = [u for u in dict.fromkeys(slack_user_ids) if u not in current]
        group = msgspec.structs.replace(group, slack_user_ids=(*group.slack_user_ids, *new))
        self.groups[group_id] = group
        return group

"""The fake community's data: members, calendar events, feeds and posts, with their lookups.

Tables are dicts from id to a frozen record, in insertion order. Members are also indexed by
lowercased e-mail, the key ``POST /admin/v0/members`` upserts on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec

from ._ids import IdFactory
from ._records import CalendarEvent, Community, Feed, Member, Post


@dataclass(slots=True)
class Dataset:
    """Every record of one fake community."""

    community: Community
    members: dict[str, Member] = field(default_factory=dict)
    calendar_events: dict[str, CalendarEvent] = field(default_factory=dict)
    feeds: dict[str, Feed] = field(default_factory=dict)
    posts: dict[str, Post] = field(default_factory=dict)
    _member_ids_by_email: dict[str, str] = field(default_factory=dict, repr=False)

    def add_members(self, members: Iterable[Member]) -> None:
        """Insert members (seed data), indexing them by e-mail."""
        for member in members:
            self.members[member.id] = member
            self._member_ids_by_email[member.email.casefold()] = member.id

    def find_member(self, email: str) -> Member | None:
        """Return the member with this e-mail address (compared case-insensitively), or None."""
        member_id = self._member_ids_by_email.get(email.casefold())
        return None if member_id is None else self.members[member_id]

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

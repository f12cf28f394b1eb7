"""Deterministic, realistic seed data for the fake community.

`build_dataset` makes the same community for the same ``seed`` and day: 14 people (each a
Slack-linked member with a profile), 4 site-only members (no Slack, so the API may deactivate
them), 30 calendar events from about five months back to five months ahead (24 published,
3 drafts, 3 awaiting approval, 4 unlisted, none closer than a day to the anchor), 3 feeds, 11
posts, 5 event tags, 4 awards, 3 legacy badges and 3 groups. Records added after the first
release of the seed are drawn after the older ones, so the older ones never change. Dates are
relative to ``anchor``, the start of the current UTC day, so "upcoming" and "past" keep their
meaning whatever day the tests run. Every record is shaped like the recorded real responses,
down to the field order and the two timestamp forms.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from ._dataset import Dataset
from ._ids import IdFactory
from ._records import (
    Award,
    AwardKind,
    Badge,
    CalendarEvent,
    Community,
    EventStatus,
    Feed,
    FeedRef,
    Group,
    Member,
    Post,
    ProfileSummary,
    PublishedTo,
    Reminder,
    SlackBlock,
    SlackBlocksReferences,
    SlackMessage,
    Tag,
    iso_timestamp,
    pg_timestamp,
)

COMMUNITY_NAME = "Northwind Makers"
_WORKSPACE = "northwind-makers"
_FILES_URL = "https://files.northwind-makers.example/storage/v1/object/public/slack_files"

_PEOPLE = (
    ("Amara", "Okafor"),
    ("Luca", "Bianchi"),
    ("Priya", "Raman"),
    ("Mateo", "Garcia"),
    ("Hannah", "Schmidt"),
    ("Kenji", "Watanabe"),
    ("Zoe", "Martin"),
    ("Omar", "Haddad"),
    ("Sofia", "Lindqvist"),
    ("Daniel", "Mensah"),
    ("Mei", "Chen"),
    ("Noah", "Fischer"),
    ("Isabel", "Costa"),
    ("Ravi", "Patel"),
)

_EVENTS = (
    (
        "Welcome Session for New Members",
        "Meet the team and other new members, learn how the community works, and find the "
        "channels that matter to you.",
    ),
    (
        "Product Roadmap Q&A",
        "Our product leads walk through what shipped this quarter and what is next, then take "
        "your questions live.",
    ),
    (
        "Scaling Your First Engineering Team",
        "Founders and engineering managers share how they hired, onboarded and kept their first "
        "ten engineers.",
    ),
    (
        "Office Hours: Community Analytics",
        "Bring your dashboards and your questions about engagement metrics; our analysts will "
        "help you read them.",
    ),
    (
        "Designing Onboarding That Sticks",
        "A practical workshop on first-week experiences that turn sign-ups into active members.",
    ),
    (
        "Fireside Chat: Building in Public",
        "Two founders talk candidly about sharing revenue, roadmaps and mistakes with their "
        "communities.",
    ),
    (
        "Hack Night: Automations and Webhooks",
        "Pair up and build something with the API and webhooks; mentors will be around all "
        "evening.",
    ),
    (
        "Remote Work Rituals That Actually Work",
        "Stand-ups, demos and social time: what distributed teams keep doing after the novelty "
        "wears off.",
    ),
    (
        "AI Tools for Community Managers",
        "A tour of assistants that summarise threads, draft announcements and triage questions, "
        "with live demos.",
    ),
    (
        "Customer Stories: From Slack Group to Flagship Community",
        "Three community leads describe how a channel of friends grew into a program with "
        "thousands of members.",
    ),
    (
        "Writing Great Announcements",
        "Short, scannable and actionable: a hands-on session on announcements people read to the "
        "end.",
    ),
    (
        "Security Best Practices for Small Teams",
        "Practical defaults for passwords, SSO, device management and incident response, without "
        "a security team.",
    ),
    (
        "Monthly Show and Tell",
        "Members demo what they built this month. Five minutes each, questions welcome.",
    ),
    (
        "Community Moderation Roundtable",
        "Moderators compare notes on codes of conduct, difficult threads and keeping discussions "
        "kind.",
    ),
    (
        "Data Privacy: What Changes This Year",
        "An overview of new privacy rules and what they mean for member data, consent and exports.",
    ),
    (
        "Growth Experiments Workshop",
        "Design, run and read growth experiments for your community, with templates to take home.",
    ),
    (
        "Sustainable Open Source Maintenance",
        "Maintainers discuss funding, burnout, governance and handing projects over.",
    ),
    (
        "Event Planning Masterclass",
        "From the first invite to the recap post: running online and in-person events people "
        "come back to.",
    ),
    (
        "Ask Me Anything with the Founders",
        "No slides, no agenda: the founding team answers whatever you ask.",
    ),
    (
        "Mentorship Matching Mixer",
        "Meet potential mentors and mentees in short rotating breakout rooms.",
    ),
    (
        "Building Accessible Products",
        "Designers and engineers share the habits that make accessibility part of every release.",
    ),
    (
        "Annual Community Summit",
        "Two days of talks, workshops and hallway conversations with members from around the "
        "world.",
    ),
    (
        "Pricing Your SaaS Product",
        "Operators share the pricing experiments that worked, the ones that did not, and how they "
        "measured both.",
    ),
    (
        "Live Debugging: Integrations Edition",
        "Watch our engineers debug real integration issues sent in by members, and learn their "
        "toolkit.",
    ),
    (
        "Women in Tech Networking Breakfast",
        "An informal breakfast to meet peers, share wins and swap advice.",
    ),
    (
        "Content Calendar Planning Session",
        "Plan a quarter of community content together using a shared template.",
    ),
    (
        "Year in Review",
        "We look back at the milestones, the numbers and the members who made this year special.",
    ),
    (
        "Design Critique Circle",
        "Share work in progress and get structured, generous feedback from fellow designers.",
    ),
    (
        "Intro to the Tightknit API",
        "A guided tour of the REST API: keys, permissions, pagination and idempotent writes.",
    ),
    (
        "Founder Wellbeing Check-in",
        "A facilitated conversation about stress, boundaries and staying healthy while building.",
    ),
)

_TAKEAWAYS = (
    "Frameworks you can apply the same week",
    "Real examples from communities of every size",
    "Templates and checklists to take home",
    "Common mistakes and how to avoid them",
    "Time for your own questions",
    "Introductions to members working on the same problems",
)

_VENUES = (
    "The Grand Plaza",
    "Harbor Conference Center",
    "Innovation Hub, Floor 3",
    "Riverside Co-working Loft",
)

_FEEDS = (
    (
        "Announcements",
        ":mega:",
        "Share announcements and updates about company news.",
        f"The latest from {COMMUNITY_NAME}!",
    ),
    (
        "Introductions",
        ":wave:",
        "Say hello and tell us what you are working on.",
        "New here? Introduce yourself!",
    ),
    ("Events", ":calendar:", "Upcoming events, recordings and recaps.", "See you at the next one."),
)

_POSTS = (
    (
        0,
        "New Member Directory Is Live",
        "Hello everyone! The member directory is live: search by skill, company or city, and "
        "update your own profile from the site. :tada:",
    ),
    (
        0,
        "Community Guidelines Refresh",
        "We refreshed our community guidelines with your feedback. The short version: be kind, "
        "be helpful, and keep promotion to the promotions channel.",
    ),
    (
        0,
        "Welcoming Our 1,000th Member",
        "We just welcomed our 1,000th member! Thank you all for making this a place people want "
        "to join. :heart:",
    ),
    (
        0,
        "Scheduled Maintenance This Weekend",
        "The community site will be read-only for about 30 minutes on Saturday at 09:00 UTC "
        "while we upgrade the database.",
    ),
    (
        1,
        "Hello from Lisbon",
        "Hi all! I'm a product designer based in Lisbon, working on tools for small nonprofits. "
        "Looking forward to the design critique circles. :wave:",
    ),
    (
        1,
        "Backend Engineer Joining the Community",
        "Hey everyone, I'm a backend engineer who spends too much time on rate limiters and "
        "queues. Happy to help with API questions!",
    ),
    (
        1,
        "First-Time Founder Saying Hi",
        "Hello! I'm building a scheduling tool for clinics and learning everything about "
        "community-led growth as I go.",
    ),
    (
        1,
        "Community Manager at a Climate Startup",
        "Hi! I run the community for a climate startup and would love to swap notes on member "
        "onboarding. :seedling:",
    ),
    (
        2,
        "Recording: Product Roadmap Q&A",
        "The recording of last week's roadmap Q&A is up on the site, with timestamps for every "
        "question.",
    ),
    (
        2,
        "Call for Speakers: Annual Community Summit",
        "We're looking for speakers for the Annual Community Summit. Share a short pitch in the "
        "thread by the end of the month!",
    ),
    (
        2,
        "Hack Night Recap",
        "Thanks to everyone who came to hack night! Eleven projects shipped, including two "
        "webhook integrations. :rocket:",
    ),
)

_EMOJI = re.compile(r"(:[a-z0-9_+-]+:)")
_UNICODE_EMOJI = {
    "heart": "2764-fe0f",
    "rocket": "1f680",
    "seedling": "1f331",
    "tada": "1f389",
    "wave": "1f44b",
}
_UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

_SITE_ONLY_PEOPLE = (
    ("Grace", "Nakamura"),
    ("Tomas", "Novak"),
    ("Leila", "Farahani"),
    ("Ben", "Okoro"),
)

_TAGS = ("Workshop", "Networking", "AMA", "Online", "In person")

_AWARDS: tuple[tuple[str, AwardKind], ...] = (
    ("Community Champion", "badge"),
    ("First Event Hosted", "badge"),
    ("Summit Speaker", "photo_frame"),
    ("Mentor Program Graduate", "certificate"),
)

_BADGES = ("Early Adopter", "Helpful Hand", "Event Regular")

_GROUPS = ("Founders Circle", "Event Hosts", "Moderators")


def slugify(title: str, max_length: int = 50) -> str:
    """Slug a title as the API does: lowercase, punctuation dropped, each space a hyphen, cut at
    ``max_length`` (``"AI, Web3, & More"`` becomes ``"ai-web3--more"``)."""
    kept = re.sub(r"[^a-z0-9 -]", "", title.lower())
    return kept.replace(" ", "-")[:max_length]


@dataclass(frozen=True, slots=True)
class _Person:
    profile_id: str
    created_at: datetime
    first_name: str
    last_name: str
    email: str
    image_stem: str
    slack_user_id: str
    slack_is_admin: bool

    def summary(self) -> ProfileSummary:
        """The short form embedded in events (ISO timestamp, no names or e-mail)."""
        image = self.image_stem
        return ProfileSummary(
            profile_id=self.profile_id,
            created_at=iso_timestamp(self.created_at),
            preferred_name=self.first_name,
            preferred_image_original=f"{image}_original.jpg",
            preferred_image_1024=f"{image}_1024.jpg",
            preferred_image_512=f"{image}_512.jpg",
            preferred_image_192=f"{image}_192.jpg",
            preferred_image_72=f"{image}_72.jpg",
            preferred_image_48=f"{image}_48.jpg",
            preferred_image_32=f"{image}_32.jpg",
            preferred_image_24=f"{image}_24.jpg",
            slack_user_id=self.slack_user_id,
            slack_is_admin=self.slack_is_admin,
            slack_is_bot=False,
            slack_image_72=f"{image}_72.jpg",
            slack_image_original=f"{image}_original.jpg",
        )

    def author(self) -> ProfileSummary:
        """The long form embedded in posts (Postgres timestamp, names and e-mail)."""
        return msgspec.structs.replace(
            self.summary(),
            created_at=pg_timestamp(self.created_at),
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            slack_first_name=self.first_name,
            slack_last_name=self.last_name,
        )


class _Seeder:
    """One pass of seed generation; all randomness comes from ``rng`` and ``ids``."""

    def __init__(self, seed: int, anchor: datetime) -> None:
        self.rng = random.Random(seed)
        self.ids = IdFactory(f"tightknit-fake:{seed}:seed")
        self.anchor = anchor
        self.team_id = self.slack_id("T")

    def slack_id(self, prefix: str) -> str:
        return f"{prefix}0{''.join(self.rng.choices(_UPPER_ALNUM, k=9))}"

    def moment(self, base: datetime, *, min_days: float, max_days: float) -> datetime:
        """A random instant between ``min_days`` and ``max_days`` days after ``base``."""
        seconds = self.rng.uniform(min_days * 86400, max_days * 86400)
        return base + timedelta(seconds=round(seconds, 6))

    def people(self) -> list[_Person]:
        people = []
        for index, (first, last) in enumerate(_PEOPLE):
            created = self.moment(self.anchor, min_days=-420, max_days=-300)
            stem = f"{self.rng.randrange(10**12, 10**13)}_{self.ids.hex(20)}"
            people.append(
                _Person(
                    profile_id=self.ids.uuid4(),
                    created_at=created,
                    first_name=first,
                    last_name=last,
                    email=f"{first}.{last}@example.com".lower(),
                    image_stem=f"https://avatars.slack-edge.com/{created:%Y-%m-%d}/{stem}",
                    slack_user_id=self.slack_id("U"),
                    slack_is_admin=index < 2,
                )
            )
        return people

    def member(self, person: _Person) -> Member:
        return Member(
            id=person.profile_id,
            email=person.email,
            full_name=f"{person.first_name} {person.last_name}",
            preferred_name=person.first_name,
            avatar_url_original=person.summary().preferred_image_original,
            slack_profile_id=self.ids.uuid4(),
        )

    def feeds(self) -> list[Feed]:
        feeds = []
        for label, emoji, purpose, topic in _FEEDS:
            slug = slugify(label)
            feeds.append(
                Feed(
                    id=self.ids.uuid4(),
                    label=label,
                    slug=slug,
                    is_archived=False,
                    is_unlisted=False,
                    banner_file_id=None,
                    emoji_icon=emoji,
                    list_view_display_format="snippet",
                    post_detail_display_format="discussion",
                    banner_file_url=None,
                    show_in_navigation_menu=True,
                    is_site_posting_enabled=label != "Announcements",
                    slack_channel_id=self.slack_id("C"),
                    slack_channel_name=slug,
                    slack_channel_num_members=self.rng.randint(40, 400),
                    slack_channel_purpose_slack_blocks=[_mrkdwn_section(purpose)],
                    slack_channel_purpose_slack_blocks_references=SlackBlocksReferences(),
                    slack_channel_topic_slack_blocks=[_mrkdwn_section(topic)],
                    slack_channel_topic_slack_blocks_references=SlackBlocksReferences(),
                )
            )
        return feeds

    def calendar_events(self, people: list[_Person], events_feed: Feed) -> list[CalendarEvent]:
        topics = list(_EVENTS)
        self.rng.shuffle(topics)
        events = []
        for index, (title, blurb) in enumerate(topics):
            day = self.anchor + timedelta(days=-150 + index * 10 + self.rng.randint(1, 6))
            start = day.replace(hour=self.rng.choice((14, 15, 16, 17, 18)))
            hours = 30 if "Summit" in title else self.rng.choice((1, 1.5, 2, 3))
            end = start + timedelta(hours=hours)
            status: EventStatus = (
                "draft" if index % 10 == 3 else "needs_approval" if index % 10 == 7 else "published"
            )
            is_past = end < self.anchor
            virtual = self.rng.random() < 0.7
            created = min(
                self.moment(start, min_days=-40, max_days=-10),
                self.moment(self.anchor, min_days=-3, max_days=-1),
            )
            updated = self.moment(created, min_days=0.01, max_days=3)
            channel = events_feed.slack_channel_id
            hosts = self.rng.sample(people, self.rng.choice((1, 1, 2)))
            speakers = self.rng.sample(people, self.rng.choice((0, 0, 1, 2, 3)))
            host_profile = hosts[0].profile_id
            events.append(
                CalendarEvent(
                    id=self.ids.short_id(),
                    created_at=iso_timestamp(created),
                    updated_at=iso_timestamp(updated),
                    allow_public_guest_list=self.rng.random() < 0.3,
                    description_slack_blocks=self.description(blurb),
                    description_slack_blocks_references=SlackBlocksReferences(),
                    enable_registration_button=self.rng.random() < 0.5,
                    end_date=iso_timestamp(end),
                    external_speakers=(
                        ", ".join(self.rng.sample(("Jordan Blake", "Sam Rivera", "Alex Kim"), 2))
                        if self.rng.random() < 0.2
                        else None
                    ),
                    is_unlisted=index % 7 == 5,
                    link=f"https://meet.example.com/{self.ids.short_id()}" if virtual else None,
                    location="Virtual" if virtual else self.rng.choice(_VENUES),
                    luma_event_id=(
                        f"evt-{self.ids.short_id()}" if self.rng.random() < 0.15 else None
                    ),
                    publish_to_site=self.rng.random() < 0.5,
                    triggers_webhooks=self.rng.random() < 0.3,
                    recap_slack_blocks=(
                        [rich_text_block(f"Thanks for joining {title}! Slides are in the thread.")]
                        if is_past and status == "published" and self.rng.random() < 0.5
                        else None
                    ),
                    recap_slack_blocks_references=SlackBlocksReferences(),
                    recording_link=(
                        f"https://www.youtube.com/watch?v={self.ids.short_id()}"
                        if is_past and virtual and self.rng.random() < 0.5
                        else None
                    ),
                    webhook_custom_metadata=(
                        '{"campaign": "community"}' if self.rng.random() < 0.1 else None
                    ),
                    show_end_date=self.rng.random() < 0.8,
                    slug=slugify(title),
                    start_date=iso_timestamp(start),
                    status=status,
                    title=title,
                    use_registration_btn_as_link=False,
                    attendees_count=(
                        0
                        if status != "published"
                        else self.rng.randint(8, 140)
                        if is_past
                        else self.rng.randint(0, 60)
                    ),
                    published_to=(
                        []
                        if status != "published"
                        else [
                            PublishedTo(
                                slack_channel_id=channel,
                                slack_message_permalink=self.permalink(channel, created),
                                feed_id=events_feed.id if self.rng.random() < 0.5 else None,
                            )
                        ]
                    ),
                    hosts=[person.summary() for person in hosts],
                    speakers=[person.summary() for person in speakers],
                    cover_image_url=(
                        f"{_FILES_URL}/{self.team_id}/{host_profile}/{self.slack_id('F')}/"
                        f"cover-{index + 1}.png"
                    ),
                    tags=[],
                    reminders_config=[
                        Reminder(minutes=m) for m in self.rng.choice(((10,), (10, 60)))
                    ],
                )
            )
        events.sort(key=lambda event: (event.start_date, event.id))
        return events

    def description(self, blurb: str) -> list[SlackBlock]:
        if self.rng.random() < 0.5:
            return [rich_text_block(blurb)]
        section: SlackBlock = {
            "type": "rich_text_section",
            "elements": [
                {"text": f"{blurb}\n\n", "type": "text"},
                {"text": "What you will take away:", "type": "text", "style": {"bold": True}},
                {"text": "\n", "type": "text"},
            ],
        }
        bullets: SlackBlock = {
            "type": "rich_text_list",
            "style": "bullet",
            "border": 0,
            "indent": 0,
            "elements": [
                {"type": "rich_text_section", "elements": [{"text": point, "type": "text"}]}
                for point in self.rng.sample(_TAKEAWAYS, 3)
            ],
        }
        return [{"type": "rich_text", "elements": [section, bullets]}]

    def posts(self, people: list[_Person], feeds: list[Feed]) -> list[Post]:
        posts = []
        for feed_index, title, body in _POSTS:
            feed = feeds[feed_index]
            author = self.rng.choice(people[:2] if feed_index == 0 else people)
            content_at = self.moment(self.anchor, min_days=-200, max_days=-2)
            created = content_at + timedelta(seconds=round(self.rng.uniform(1, 5), 6))
            comments = self.rng.randint(0, 12)
            latest = self.moment(content_at, min_days=0.1, max_days=2) if comments else content_at
            ts = f"{content_at.timestamp():.6f}"
            posts.append(
                Post(
                    id=self.ids.short_id(),
                    created_at=pg_timestamp(created),
                    updated_at=pg_timestamp(self.moment(created, min_days=0.5, max_days=60)),
                    content_created_at=pg_timestamp(content_at),
                    latest_activity_at=pg_timestamp(latest),
                    title=title,
                    slug=slugify(title),
                    feed_id=feed.id,
                    post_detail_display_format="discussion",
                    author_profile_id=author.profile_id,
                    body_prosemirror=None,
                    body_plaintext=body,
                    source="slack",
                    file_attachments_count=0,
                    reactions_count=self.rng.randint(0, 25),
                    comments_count=comments,
                    slack_message=SlackMessage(
                        id=self.ids.uuid4(),
                        message_ts=ts,
                        blocks=[
                            {
                                "type": "rich_text",
                                "block_id": "".join(self.rng.choices(_UPPER_ALNUM, k=5)),
                                "elements": [
                                    {"type": "rich_text_section", "elements": _inline(body)}
                                ],
                            }
                        ],
                        markdown=body,
                        permalink=(
                            f"https://{_WORKSPACE}.slack.com/archives/{feed.slack_channel_id}"
                            f"/p{ts.replace('.', '')}"
                        ),
                        parent_slack_message_id=None,
                        username=None,
                        icon=None,
                    ),
                    cover_image_file_id=None,
                    cover_image_url=None,
                    author=author.author(),
                    feed=FeedRef(id=feed.id, label=feed.label, slug=feed.slug),
                    references=SlackBlocksReferences(),
                )
            )
        return posts

    def permalink(self, channel: str, moment: datetime) -> str:
        return slack_permalink(channel, moment)

    def site_only_members(self) -> list[Member]:
        """Members who joined on the site and never linked Slack: no profile, no Slack ids."""
        return [
            Member(
                id=self.ids.uuid4(),
                email=f"{first}.{last}@example.net".lower(),
                full_name=f"{first} {last}",
                preferred_name=first,
                avatar_url_original=None,
                slack_profile_id=None,
            )
            for first, last in _SITE_ONLY_PEOPLE
        ]

    def tags(self) -> list[Tag]:
        group_id = self.ids.uuid4()
        return [
            Tag(
                id=self.ids.uuid4(),
                created_at=iso_timestamp(self.moment(self.anchor, min_days=-400, max_days=-300)),
                tag_group_id=group_id,
                label=label,
            )
            for label in _TAGS
        ]

    def awards(self) -> list[Award]:
        return [Award(id=self.ids.uuid4(), name=name, kind=kind) for name, kind in _AWARDS]

    def badges(self) -> list[Badge]:
        return [Badge(id=self.ids.uuid4(), name=name) for name in _BADGES]

    def groups(self, people: list[_Person]) -> list[Group]:
        return [
            Group(
                id=self.ids.uuid4(),
                name=name,
                slack_user_ids=tuple(p.slack_user_id for p in self.rng.sample(people, 3)),
            )
            for name in _GROUPS
        ]


def slack_permalink(channel: str, moment: datetime) -> str:
    """The permalink of a Slack message posted in ``channel`` at ``moment``."""
    micros = round(moment.timestamp() * 1_000_000)
    return f"https://{_WORKSPACE}.slack.com/archives/{channel}/p{micros}"


def _mrkdwn_section(text: str) -> SlackBlock:
    return {"text": {"text": text, "type": "mrkdwn"}, "type": "section"}


def rich_text_block(text: str) -> SlackBlock:
    """One Slack ``rich_text`` block holding ``text`` (``:name:`` tokens become emoji)."""
    return {
        "type": "rich_text",
        "elements": [{"type": "rich_text_section", "elements": _inline(text)}],
    }


def _inline(text: str) -> list[dict[str, Any]]:
    """Split text into Slack rich-text elements, ``:name:`` tokens becoming emoji elements
    (custom emoji, those without a known code point, carry no ``unicode``)."""
    elements: list[dict[str, Any]] = []
    for part in _EMOJI.split(text):
        if _EMOJI.fullmatch(part):
            name = part.strip(":")
            emoji = {"name": name, "type": "emoji"}
            if name in _UNICODE_EMOJI:
                emoji["unicode"] = _UNICODE_EMOJI[name]
            elements.append(emoji)
        elif part:
            elements.append({"text": part, "type": "text"})
    return elements


def build_dataset(*, seed: int, now: datetime, community_id: str, populate: bool) -> Dataset:
    """Return the fake community's data: seeded from ``seed`` relative to ``now``'s UTC day, or
    empty (apart from the community itself) when ``populate`` is false."""
    dataset = Dataset(community=Community(id=community_id, name=COMMUNITY_NAME))
    if not populate:
        return dataset
    anchor = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    seeder = _Seeder(seed, anchor)
    people = seeder.people()
    dataset.add_members(seeder.member(person) for person in people)
    feeds = seeder.feeds()
    dataset.feeds.update((feed.id, feed) for feed in feeds)
    dataset.calendar_events.update(
        (event.id, event) for event in seeder.calendar_events(people, feeds[2])
    )
    dataset.posts.update((post.id, post) for post in seeder.posts(people, feeds))
    dataset.add_profiles(person.summary() for person in people)
    dataset.add_members(seeder.site_only_members())
    dataset.tags.update((tag.id, tag) for tag in seeder.tags())
    dataset.awards.update((award.id, award) for award in seeder.awards())
    dataset.badges.update((badge.id, badge) for badge in seeder.badges())
    dataset.groups.update((group.id, group) for group in seeder.groups(people))
    return dataset

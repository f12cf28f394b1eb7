"""Test helpers: `FakeTightknit`, an in-memory Tightknit API server enforcing the real rules.

::

    from tightknit_async.testing import FakeClock, FakeTightknit

    async with FakeTightknit(clock=FakeClock()) as fake:
        ...  # point a client at fake.url with fake.api_key
        assert len(fake.ledger) == 1  # exactly one mutation was applied
"""

from .._waits import disable_waits
from ._clock import FakeClock
from ._drift import DRIFT_FIELD, DRIFT_STATUS, Drift, InjectedDrift
from ._fake_server import FakeTightknit, serve_forever
from ._faults import Faults
from ._journal import Arrival, FakeStats, LedgerEntry
from ._keys import PERMISSIONS, PLANS, ApiKey, Plan
from ._mock_transport import MockTransport, json_response
from ._records import (
    Award,
    AwardAssignment,
    Badge,
    BadgeAssignment,
    CalendarEvent,
    Community,
    Feed,
    FeedRef,
    File,
    Group,
    Member,
    Post,
    ProfileSummary,
    PublishedTo,
    Reminder,
    SlackBlocksReferences,
    SlackMessage,
    StoredFile,
    Tag,
)

__all__ = [
    "DRIFT_FIELD",
    "DRIFT_STATUS",
    "PERMISSIONS",
    "PLANS",
    "ApiKey",
    "Arrival",
    "Award",
    "AwardAssignment",
    "Badge",
    "BadgeAssignment",
    "CalendarEvent",
    "Community",
    "Drift",
    "FakeClock",
    "FakeStats",
    "FakeTightknit",
    "Faults",
    "Feed",
    "FeedRef",
    "File",
    "Group",
    "InjectedDrift",
    "LedgerEntry",
    "Member",
    "MockTransport",
    "Plan",
    "Post",
    "ProfileSummary",
    "PublishedTo",
    "Reminder",
    "SlackBlocksReferences",
    "SlackMessage",
    "StoredFile",
    "Tag",
    "disable_waits",
    "json_response",
    "serve_forever",
]

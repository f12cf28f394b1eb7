"""The API's resources, one module each, mirroring the URL tree under ``/admin/v0``."""

from ._base import APIResource, RequestOptions
from .api_key import ApiKeyResource
from .awards import AwardsResource
from .badges import BadgesResource
from .calendar_events import CalendarEventsResource
from .feeds import FeedsResource
from .files import DEFAULT_MAX_UPLOAD_BYTES, FilesResource, UploadSource
from .groups import GroupsResource
from .members import MembersResource
from .posts import PostsResource
from .search import SearchResource

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "APIResource",
    "ApiKeyResource",
    "AwardsResource",
    "BadgesResource",
    "CalendarEventsResource",
    "FeedsResource",
    "FilesResource",
    "GroupsResource",
    "MembersResource",
    "PostsResource",
    "RequestOptions",
    "SearchResource",
    "UploadSource",
]

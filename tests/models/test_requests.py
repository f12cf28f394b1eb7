"""Request models: every rule a current reference page documents, checked before sending, with
the field named; rules no reference page states are left to the server (and accepted here).

Sources: docs.tightknit.ai/api-reference/members/add-member,
docs.tightknit.ai/api-reference/calendar-events/create-a-calendar-event,
docs.tightknit.ai/api-reference/award/assign-an-award-to-a-user,
docs.tightknit.ai/api-reference/files/upload-file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from tightknit_async.models import (
    AwardAssign,
    BadgeAssign,
    CalendarEventCreate,
    FileUpload,
    GroupMembersAdd,
    MemberCreate,
    MessageContent,
    RequestModel,
    RequestValidationError,
    UserRef,
    UserRefs,
    convert,
    decode,
)

UUID = "3c17c179-c59a-4dd2-84ae-9b6589865706"
MST = timezone(timedelta(hours=-7))


def rejects(field: str, fragment: str) -> Any:
    """``pytest.raises`` for a RequestValidationError on ``field`` whose reason has ``fragment``."""
    pattern = rf"^{re.escape(field)}: .*{re.escape(fragment)}"
    return pytest.raises(RequestValidationError, match=pattern)


def test_the_error_is_a_value_error_with_field_and_reason() -> None:
    with pytest.raises(ValueError, match="full_name") as caught:
        MemberCreate(email="ada@example.com", full_name="")
    error = caught.value
    assert isinstance(error, RequestValidationError)
    assert (error.field, error.reason) == ("full_name", "must not be empty")
    assert str(error) == "full_name: must not be empty"


# --- members ------------------------------------------------------------------------------------


def test_member_create_valid_sends_only_what_was_given() -> None:
    body = MemberCreate(email="ada@example.com", full_name="Ada Lovelace")
    assert body.to_builtins() == {"email": "ada@example.com", "full_name": "Ada Lovelace"}
    assert msgspec.json.encode(body) == b'{"email":"ada@example.com","full_name":"Ada Lovelace"}'


def test_member_create_avatar_null_and_url_are_sent() -> None:
    cleared = MemberCreate(email="a@b.co", full_name="A", avatar_url_original=None)
    assert cleared.to_builtins()["avatar_url_original"] is None
    url = "https://cdn.example.com/" + "a" * (2048 - 24)
    assert len(url) == 2048
    with_url = MemberCreate(email="a@b.co", full_name="A", avatar_url_original=url)
    assert with_url.to_builtins()["avatar_url_original"] == url


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"email": ""}, "email", "must not be empty"),
        ({"email": "   "}, "email", "must be an e-mail address, got '   '"),
        ({"email": "a" * 243 + "@example.com"}, "email", "1 to 254 characters, got 255"),
        ({"email": "not-an-email"}, "email", "must be an e-mail address"),
        ({"email": "ada@localhost"}, "email", "must be an e-mail address"),
        ({"email": "ada lovelace@example.com"}, "email", "must be an e-mail address"),
        ({"email": 42}, "email", "must be a string, got int"),
        ({"full_name": ""}, "full_name", "must not be empty"),
        ({"full_name": "A" * 101}, "full_name", "1 to 100 characters, got 101"),
        ({"full_name": None}, "full_name", "must be a string, got None"),
        ({"avatar_url_original": "not a url"}, "avatar_url_original", "must be an absolute URI"),
        ({"avatar_url_original": "/ada.png"}, "avatar_url_original", "must be an absolute URI"),
        ({"avatar_url_original": "https:"}, "avatar_url_original", "must be an absolute URI"),
        ({"avatar_url_original": 7}, "avatar_url_original", "must be a string, got int"),
        (
            {"avatar_url_original": "https://x.io/" + "a" * 2036},
            "avatar_url_original",
            "must be at most 2048 characters, got 2049",
        ),
    ],
)
def test_member_create_rules_of_the_add_member_page(
    overrides: dict[str, Any], field: str, fragment: str
) -> None:
    """docs.tightknit.ai/api-reference/members/add-member: ``email`` string<email> 1-254,
    ``full_name`` 1-100, ``avatar_url_original`` string<uri> | null, at most 2048."""
    fields = {"email": "ada@example.com", "full_name": "Ada Lovelace", **overrides}
    with rejects(field, fragment):
        MemberCreate(**fields)


def test_member_create_boundaries_are_valid() -> None:
    for fields in (
        {"email": "a" * 242 + "@example.com", "full_name": "A" * 100},  # 254 and 100 characters
        {"email": "a@b.co", "full_name": "A"},
    ):
        assert MemberCreate(**fields).to_builtins() == fields


@pytest.mark.parametrize(
    "overrides",
    [
        {"full_name": "   "},  # blank: 3 characters; whether that is a name is the server's call
        {"avatar_url_original": "ftp://x.org/a.png"},  # string<uri>: any scheme
        {"avatar_url_original": "data:image/png;base64,iVBORw0KGgo="},
        {"avatar_url_original": "https://"},
    ],
)
def test_member_create_leaves_undocumented_rules_to_the_server(overrides: dict[str, Any]) -> None:
    fields = {"email": "ada@example.com", "full_name": "Ada Lovelace", **overrides}
    assert MemberCreate(**fields).to_builtins() == fields


# --- user references ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [{"slack_user_id": "U08G5NNLCH3"}, {"email": "ada@example.com"}, {"profile_id": UUID}],
)
def test_user_ref_takes_one_kind_of_id(fields: dict[str, str]) -> None:
    assert UserRef(**fields).to_builtins() == fields


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "a UserRef takes exactly one of slack_user_id, email, profile_id; got none"),
        (
            {"slack_user_id": "U1", "email": "a@b.co"},
            "a UserRef takes exactly one of slack_user_id, email, profile_id; "
            "got slack_user_id, email",
        ),
        ({"email": 5}, "email: must be a string, got int"),
        ({"profile_id": None}, "profile_id: must be a string, got None"),
    ],
)
def test_user_ref_rules_of_the_assign_award_page(fields: dict[str, Any], message: str) -> None:
    """docs.tightknit.ai/api-reference/award/assign-an-award-to-a-user: a user is named by
    exactly one of a Slack user ID, an e-mail or a Tightknit profile ID (strings)."""
    with pytest.raises(RequestValidationError) as caught:
        UserRef(**fields)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "fields", [{"email": "nope"}, {"profile_id": "nope"}, {"slack_user_id": ""}]
)
def test_user_ref_leaves_the_form_of_an_id_to_the_server(fields: dict[str, str]) -> None:
    assert UserRef(**fields).to_builtins() == fields


@pytest.mark.parametrize(
    "fields",
    [
        {"slack_user_ids": ["U1", "U2"]},
        {"emails": ["ada@example.com"]},
        {"profile_ids": [UUID]},
    ],
)
def test_user_refs_takes_one_kind_of_ids(fields: dict[str, list[str]]) -> None:
    refs = UserRefs(**fields)
    assert refs.to_builtins() == fields
    assert refs.ids == next(iter(fields.values()))


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({}, "", "a UserRefs takes exactly one of slack_user_ids, emails, profile_ids; got none"),
        ({"slack_user_ids": ["U1"], "emails": ["a@b.co"]}, "", "got slack_user_ids, emails"),
        ({"slack_user_ids": "U1"}, "slack_user_ids", "must be a list, got str"),
        ({"emails": None}, "emails", "must be a list, got None"),
        ({"profile_ids": ["x", 7]}, "profile_ids[1]", "must be a string, got int"),
    ],
)
def test_user_refs_rules_of_the_create_event_page(
    fields: dict[str, Any], field: str, fragment: str
) -> None:
    """docs.tightknit.ai/api-reference/calendar-events/create-a-calendar-event: hosts and
    speakers are "one of the following: Slack user IDs, emails, or Tightknit profile IDs"."""
    with pytest.raises(RequestValidationError) as caught:
        UserRefs(**fields)
    assert caught.value.field == field
    assert fragment in caught.value.reason


@pytest.mark.parametrize(
    "fields",
    [
        {"slack_user_ids": []},
        {"slack_user_ids": [f"U{i}" for i in range(6)]},  # the legacy spec's 1-5
        {"emails": ["x"]},
        {"profile_ids": ["not-a-uuid", ""]},
    ],
)
def test_user_refs_leave_counts_and_id_forms_to_the_server(fields: dict[str, list[str]]) -> None:
    assert UserRefs(**fields).to_builtins() == fields


# --- message content ----------------------------------------------------------------------------


def test_message_content_takes_blocks_text_or_both() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]
    assert MessageContent(text="Hi").to_builtins() == {"text": "Hi"}
    assert MessageContent(blocks=blocks).to_builtins() == {"blocks": blocks}
    assert MessageContent(blocks=blocks, text="Hi").to_builtins() == {
        "blocks": blocks,
        "text": "Hi",
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"blocks": ["hello"]}, "blocks[0]: must be a Block Kit object, got str"),
        ({"blocks": {"type": "divider"}}, "blocks: must be a list, got dict"),
        ({"text": 5}, "text: must be a string, got int"),
    ],
)
def test_message_content_types_of_the_create_event_page(
    fields: dict[str, Any], message: str
) -> None:
    """docs.tightknit.ai/api-reference/calendar-events/create-a-calendar-event: Slack message
    content, ``blocks`` a list of Block Kit objects and ``text`` a string."""
    with pytest.raises(RequestValidationError) as caught:
        MessageContent(**fields)
    assert str(caught.value) == message


@pytest.mark.parametrize("fields", [{}, {"text": ""}, {"blocks": []}, {"text": "   "}])
def test_message_content_leaves_what_it_must_hold_to_the_server(fields: dict[str, Any]) -> None:
    assert MessageContent(**fields).to_builtins() == fields


# --- calendar events ----------------------------------------------------------------------------

START = datetime(2025, 1, 7, 15, tzinfo=MST)


def event(**overrides: Any) -> CalendarEventCreate:
    fields: dict[str, Any] = {
        "title": "Community call",
        "start_date": START,
        "end_date": START + timedelta(hours=1),
        "description": MessageContent(text="Monthly call"),
        "publish_to_slack_channels": ["C08HCRJ9Z7B"],
        "hosts": UserRefs(slack_user_ids=["U08G5NNLCH3"]),
    }
    fields.update(overrides)
    return CalendarEventCreate(**fields)


def test_event_minimal_sends_only_required_fields_with_iso_dates() -> None:
    assert event().to_builtins() == {
        "title": "Community call",
        "start_date": "2025-01-07T15:00:00-07:00",
        "end_date": "2025-01-07T16:00:00-07:00",
        "description": {"text": "Monthly call"},
        "publish_to_slack_channels": ["C08HCRJ9Z7B"],
        "hosts": {"slack_user_ids": ["U08G5NNLCH3"]},
    }


def test_event_dates_as_iso_strings_are_parsed_and_kept_with_their_offset() -> None:
    body = event(start_date="2025-01-07T15:00:00-07:00", end_date="2025-01-07T22:30:00+00:00")
    assert body.start_date == START
    assert isinstance(body.end_date, datetime)
    encoded = msgspec.json.decode(msgspec.json.encode(body))
    assert encoded["start_date"] == "2025-01-07T15:00:00-07:00"
    assert encoded["end_date"] == "2025-01-07T22:30:00Z"  # UTC is written as Z


def test_event_full_body() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Agenda*"}}]
    body = event(
        speakers={"emails": ["ada@example.com"]},
        status="needs_approval",
        slug="community-call",
        recap=MessageContent(blocks=blocks, text="Agenda"),
        allow_public_guest_list=True,
        enable_registration_button=True,
        use_registration_btn_as_link=False,
        external_speakers="John Doe, Jane Doe",
        is_unlisted=False,
        link="https://example.com/call",
        location=None,
        luma_event_id="evt-123",
        publish_to_site=True,
        triggers_webhooks=True,
        recording_link=None,
        webhook_custom_metadata="crm-42",
        show_end_date=False,
        tags=["t1", "t2"],
        cover_image_file_id=UUID,
    ).to_builtins()

    assert body["speakers"] == {"emails": ["ada@example.com"]}
    assert body["recap"] == {"blocks": blocks, "text": "Agenda"}
    assert body["location"] is None  # explicit null is sent
    assert body["recording_link"] is None
    assert body["use_registration_btn_as_link"] is False  # explicit false is sent
    assert body["show_end_date"] is False
    assert body["tags"] == ["t1", "t2"]
    assert len(body) == 25


def test_event_accepts_mappings_for_nested_objects() -> None:
    body = event(description={"text": "Hi"}, hosts={"profile_ids": [UUID]})
    assert body.description == MessageContent(text="Hi")
    assert body.hosts == UserRefs(profile_ids=[UUID])


def test_event_slug_may_be_null() -> None:
    assert event(slug=None).to_builtins()["slug"] is None


def test_event_boundaries_are_valid() -> None:
    for title, slug in (("abc", "a" * 70), ("T" * 70, "abc")):
        sent = event(title=title, slug=slug).to_builtins()
        assert (sent["title"], sent["slug"]) == (title, slug)


@pytest.mark.parametrize(
    "overrides",
    [
        {"end_date": START},  # the docs' own example has the end equal to the start
        {"end_date": START - timedelta(hours=1)},
        {"title": "   "},
        {"description": {}},
        {"description": {"text": ""}},
        {"publish_to_slack_channels": []},
        {"publish_to_slack_channels": [f"C{i}" for i in range(11)]},  # the legacy spec's 1-10
        {"publish_to_slack_channels": ["C1", ""]},
        {"hosts": {"slack_user_ids": []}},
        {"hosts": {"slack_user_ids": [f"U{i}" for i in range(6)]}},  # the legacy spec's 1-5
        {"hosts": {"emails": ["x"]}},
        {"speakers": {"slack_user_ids": [f"U{i}" for i in range(6)]}},  # the legacy spec's 5
        {"speakers": {"profile_ids": ["p"]}},
        {"recap": {}},
        {"tags": [f"t{i}" for i in range(6)]},  # the legacy spec's 5
        {"tags": [""]},
        {"cover_image_file_id": "cover.png"},
    ],
)
def test_event_leaves_undocumented_rules_to_the_server(overrides: dict[str, Any]) -> None:
    """Counts from the legacy spec, an order of start and end, id forms: no current reference
    page states them, so the body is built (and would be sent) as given."""
    body = event(**overrides).to_builtins()
    for name, value in overrides.items():
        expected = value.isoformat() if isinstance(value, datetime) else value
        assert body[name] == expected


EVENT_RULES: list[tuple[dict[str, Any], str, str]] = [
    ({"title": "ab"}, "title", "must be 3 to 70 characters, got 2"),
    ({"title": "T" * 71}, "title", "must be 3 to 70 characters, got 71"),
    ({"title": None}, "title", "must be a string, got None"),
    ({"start_date": "2025-01-07T15:00:00"}, "start_date", "has no UTC offset"),
    ({"start_date": datetime(2025, 1, 7, 15)}, "start_date", "has no UTC offset"),
    ({"start_date": "next tuesday"}, "start_date", "invalid timestamp 'next tuesday'"),
    ({"start_date": 1736287200}, "start_date", "expected a datetime or an ISO 8601 string"),
    ({"end_date": "2025-01-07 16:00"}, "end_date", "has no UTC offset"),
    ({"end_date": None}, "end_date", "expected a datetime or an ISO 8601 string"),
    ({"description": {"text": 5}}, "description.text", "must be a string, got int"),
    ({"description": {"blocks": [1]}}, "description.blocks[0]", "must be a Block Kit object"),
    ({"description": {"txt": "Hi"}}, "description", "unknown field(s) txt"),
    ({"description": "Monthly call"}, "description", "must be a MessageContent or a mapping"),
    ({"publish_to_slack_channels": "C1"}, "publish_to_slack_channels", "must be a list, got str"),
    (
        {"publish_to_slack_channels": ["C1", 5]},
        "publish_to_slack_channels[1]",
        "must be a string, got int",
    ),
    ({"hosts": {}}, "hosts", "a UserRefs takes exactly one of"),
    ({"hosts": {"emails": "a@b.co"}}, "hosts.emails", "must be a list, got str"),
    ({"hosts": ["U1"]}, "hosts", "must be a UserRefs or a mapping, got list"),
    (
        {"speakers": {"slack_user_ids": ["U1"], "profile_ids": [UUID]}},
        "speakers",
        "a UserRefs takes exactly one of",
    ),
    ({"speakers": {"profile_ids": [None]}}, "speakers.profile_ids[0]", "must be a string"),
    ({"speakers": None}, "speakers", "must be a UserRefs or a mapping, got NoneType"),
    ({"status": "draft"}, "status", "must be one of needs_approval, published, got 'draft'"),
    ({"slug": "ab"}, "slug", "must be 3 to 70 characters, got 2"),
    ({"slug": "s" * 71}, "slug", "must be 3 to 70 characters, got 71"),
    ({"recap": {"blocks": "x"}}, "recap.blocks", "must be a list, got str"),
    ({"allow_public_guest_list": "yes"}, "allow_public_guest_list", "must be true or false"),
    ({"enable_registration_button": 1}, "enable_registration_button", "must be true or false"),
    ({"use_registration_btn_as_link": None}, "use_registration_btn_as_link", "true or false"),
    ({"is_unlisted": "false"}, "is_unlisted", "must be true or false, got str"),
    ({"publish_to_site": 0}, "publish_to_site", "must be true or false, got int"),
    ({"triggers_webhooks": []}, "triggers_webhooks", "must be true or false"),
    ({"show_end_date": "true"}, "show_end_date", "must be true or false"),
    ({"external_speakers": ["Ada"]}, "external_speakers", "must be a string, got list"),
    ({"link": 5}, "link", "must be a string, got int"),
    ({"location": 5}, "location", "must be a string, got int"),
    ({"luma_event_id": 5}, "luma_event_id", "must be a string, got int"),
    ({"recording_link": 5}, "recording_link", "must be a string, got int"),
    ({"webhook_custom_metadata": {}}, "webhook_custom_metadata", "must be a string, got dict"),
    ({"tags": "t1"}, "tags", "must be a list, got str"),
    ({"tags": [3]}, "tags[0]", "must be a string, got int"),
    ({"cover_image_file_id": 5}, "cover_image_file_id", "must be a string, got int"),
]


@pytest.mark.parametrize(("overrides", "field", "fragment"), EVENT_RULES)
def test_event_rules_of_the_create_event_page(
    overrides: dict[str, Any], field: str, fragment: str
) -> None:
    """docs.tightknit.ai/api-reference/calendar-events/create-a-calendar-event: the required
    fields, title and slug 3-70, ISO 8601 dates with an offset, one kind of user id, status
    needs_approval or published, and each field's documented type."""
    with rejects(field, fragment) as caught:
        event(**overrides)
    assert caught.value.field == field


def test_event_round_trips_through_json_and_builtins() -> None:
    body = event(speakers={"slack_user_ids": ["U2"]}, slug=None, tags=["t1"])
    assert decode(CalendarEventCreate, msgspec.json.encode(body)) == body
    assert convert(body.to_builtins(), CalendarEventCreate) == body


def test_event_rules_hold_when_decoding_too() -> None:
    builtins = {**event().to_builtins(), "hosts": {}}
    with pytest.raises(
        msgspec.ValidationError, match=r"^a UserRefs takes exactly one of .* - at `\$.hosts`$"
    ):
        convert(builtins, CalendarEventCreate)
    with pytest.raises(msgspec.ValidationError, match=r"`\$.title`"):
        convert({**event().to_builtins(), "title": "ab"}, CalendarEventCreate)
    with pytest.raises(msgspec.ValidationError, match=r"has no UTC offset.*`\$.start_date`"):
        convert({**event().to_builtins(), "start_date": "2025-01-07T15:00:00"}, CalendarEventCreate)


def test_event_is_frozen() -> None:
    body = event()
    with pytest.raises(AttributeError):
        body.title = "x"  # type: ignore[misc]


def test_event_utc_datetime_encodes_with_an_offset() -> None:
    body = event(start_date=datetime(2025, 1, 7, 22, tzinfo=UTC), end_date=START + timedelta(1))
    assert body.to_builtins()["start_date"] == "2025-01-07T22:00:00Z"


# --- awards, groups, badges ---------------------------------------------------------------------


def test_award_assign_minimal_and_full() -> None:
    assert AwardAssign(recipient=UserRef(email="a@b.co")).to_builtins() == {
        "recipient": {"email": "a@b.co"}
    }
    full = AwardAssign(
        recipient={"slack_user_id": "U1"},  # type: ignore[arg-type]
        sender={"profile_id": UUID},  # type: ignore[arg-type]
        send_anonymously=True,
    )
    assert full.recipient == UserRef(slack_user_id="U1")
    assert full.to_builtins() == {
        "recipient": {"slack_user_id": "U1"},
        "sender": {"profile_id": UUID},
        "send_anonymously": True,
    }


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"recipient": {}}, "recipient", "a UserRef takes exactly one of"),
        ({"recipient": {"email": 5}}, "recipient.email", "must be a string, got int"),
        ({"recipient": "U1"}, "recipient", "must be a UserRef or a mapping, got str"),
        ({"sender": {"slack_user_id": "U1", "profile_id": UUID}}, "sender", "exactly one"),
        ({"sender": {"id": "U1"}}, "sender", "unknown field(s) id"),
        ({"send_anonymously": "yes"}, "send_anonymously", "must be true or false"),
    ],
)
def test_award_assign_rules_of_the_assign_award_page(
    overrides: dict[str, Any], field: str, fragment: str
) -> None:
    """docs.tightknit.ai/api-reference/award/assign-an-award-to-a-user."""
    fields: dict[str, Any] = {"recipient": {"slack_user_id": "U1"}, **overrides}
    with rejects(field, fragment):
        AwardAssign(**fields)


@pytest.mark.parametrize(
    "users", [["U1", "U2"], [], [f"U{i}" for i in range(1001)], ["U1"] * 1001, [""]]
)
def test_group_and_badge_user_counts_are_the_servers_call(users: list[str]) -> None:
    """No current reference page for either endpoint (legacy spec only): a group's 1,000-member
    cap is the server's to apply (1,001 copies of one user would add one member)."""
    assert GroupMembersAdd(users=users).to_builtins() == {"users": users}
    assert BadgeAssign(users=users).to_builtins() == {"users": users}


@pytest.mark.parametrize(
    ("users", "field", "fragment"),
    [
        ("U1", "users", "must be a list, got str"),
        (["U1", None], "users[1]", "must be a string, got None"),
    ],
)
def test_group_and_badge_users_must_be_a_list_of_strings(
    users: Any, field: str, fragment: str
) -> None:
    with rejects(field, fragment):
        GroupMembersAdd(users=users)
    with rejects(field, fragment):
        BadgeAssign(users=users)


# --- files --------------------------------------------------------------------------------------


def test_file_upload() -> None:
    upload = FileUpload(filename="cover.png", size=2048)
    assert upload.to_builtins() == {"filename": "cover.png", "size": 2048}
    assert upload.form_fields() == {"filename": "cover.png", "size": "2048"}
    described = FileUpload(filename="c" * 255, size=1, description="Our cover")
    assert described.form_fields()["description"] == "Our cover"


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"filename": ""}, "filename", "must not be empty"),
        ({"filename": "f" * 256}, "filename", "1 to 255 characters, got 256"),
        ({"size": 0}, "size", "must be >= 1, got 0"),
        ({"size": -5}, "size", "must be >= 1, got -5"),
        ({"size": True}, "size", "must be an integer, got bool"),
        ({"size": "10"}, "size", "must be an integer, got str"),
        ({"description": 5}, "description", "must be a string, got int"),
    ],
)
def test_file_upload_rules_of_the_upload_file_page(
    overrides: dict[str, Any], field: str, fragment: str
) -> None:
    """docs.tightknit.ai/api-reference/files/upload-file: filename 1-255, size >= 1."""
    fields: dict[str, Any] = {"filename": "cover.png", "size": 10, **overrides}
    with rejects(field, fragment):
        FileUpload(**fields)


# --- coerce -------------------------------------------------------------------------------------


def test_coerce_passes_models_through_and_builds_from_mappings() -> None:
    ref = UserRef(email="a@b.co")
    assert UserRef.coerce(ref) is ref
    assert UserRef.coerce({"email": "a@b.co"}) == ref


@pytest.mark.parametrize(
    ("model", "value", "message"),
    [
        (MemberCreate, {"email": "a@b.co"}, "member.full_name: is required"),
        (MemberCreate, {"email": "a@b.co", "name": "A"}, "member: unknown field(s) name"),
        (MemberCreate, ["a@b.co"], "member: must be a MemberCreate or a mapping, got list"),
        (MemberCreate, {"email": "x", "full_name": "A"}, "member.email: must be an e-mail"),
    ],
)
def test_coerce_errors_name_the_path(model: type[RequestModel], value: Any, message: str) -> None:
    with pytest.raises(RequestValidationError) as caught:
        model.coerce(value, field="member")
    assert str(caught.value).startswith(message)


def test_optional_fields_left_unset_are_never_encoded() -> None:
    for body in (
        MemberCreate(email="a@b.co", full_name="A"),
        AwardAssign(recipient=UserRef(slack_user_id="U1")),
        FileUpload(filename="a", size=1),
        event(),
    ):
        encoded = msgspec.json.decode(msgspec.json.encode(body))
        required = {f.name for f in msgspec.structs.fields(type(body)) if f.required}
        assert set(encoded) == required

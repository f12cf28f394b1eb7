"""Response models tolerate schema drift: unknown fields ignored, missing ones defaulted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tightknit_async.models import (
    Ack,
    ApiKeyInfo,
    CalendarEvent,
    CalendarEventCreated,
    DeletedRef,
    Envelope,
    ErrorBody,
    Feed,
    FeedRef,
    File,
    ListPage,
    Member,
    MemberResult,
    MemberUpsert,
    Post,
    ProfileSummary,
    SearchHit,
    SlackBlocksReferences,
    SlackMessage,
    Tag,
    convert,
    decode,
    decoder_for,
)

RECORDED = Path(__file__).parent / "recorded"


def recorded_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((RECORDED / f"{name}.json").read_text())["response"]["body"]
    return body


def encode(obj: object) -> bytes:
    return msgspec.json.encode(obj)


# --- unknown and missing fields ------------------------------------------------------------------


def test_unknown_fields_at_every_level_are_ignored() -> None:
    body = recorded_body("feeds_posts")
    body["request_id"] = "req_1"
    body["data"]["next_cursor"] = "abc"
    post = body["data"]["records"][0]
    post["sentiment"] = {"score": 0.9}
    post["author"]["pronouns"] = "she/her"
    post["slack_message"]["thread_ts"] = "1747250195.525399"
    post["feed"]["emoji_icon"] = ":tada:"
    post["references"]["hashtags"] = ["#news"]

    decoded = decode(Envelope[ListPage[Post]], encode(body))

    assert decoded == decode(Envelope[ListPage[Post]], encode(recorded_body("feeds_posts")))


def test_a_new_field_in_one_record_does_not_break_the_page() -> None:
    body = recorded_body("calendar_events_list")
    body["data"]["records"][3]["capacity"] = 120
    body["data"]["records"][3]["hosts"][0]["timezone"] = "Europe/Paris"

    page = decode(Envelope[ListPage[CalendarEvent]], encode(body)).data

    assert len(page.records) == 7


MINIMAL: list[tuple[type[msgspec.Struct], dict[str, Any]]] = [
    (CalendarEvent, {"id": "e1"}),
    (Feed, {"id": "f1"}),
    (Post, {"id": "p1"}),
    (File, {"id": "f1"}),
    (Member, {"id": "m1"}),
    (ProfileSummary, {"profile_id": "p1"}),
    (FeedRef, {"id": "f1"}),
    (Tag, {"id": "t1"}),
    (SlackMessage, {}),
    (ApiKeyInfo, {}),
    (ErrorBody, {}),
    (Ack, {}),
    (SlackBlocksReferences, {}),
]


@pytest.mark.parametrize(("model", "minimal"), MINIMAL, ids=lambda v: getattr(v, "__name__", ""))
def test_only_identifiers_are_required(
    model: type[msgspec.Struct], minimal: dict[str, Any]
) -> None:
    decoded = decode(model, encode(minimal))

    for info in msgspec.structs.fields(model):
        assert info.required == (info.name in minimal), info.name
    assert decoded == model(**minimal)


def test_missing_fields_take_documented_defaults() -> None:
    event = decode(CalendarEvent, b'{"id": "e1"}')
    assert event.title is None
    assert event.created_at is None
    assert event.hosts == []
    assert event.speakers == []
    assert event.published_to == []
    assert event.tags is None
    assert event.attendees_count == 0
    assert event.show_end_date is True  # the API's default
    assert event.is_unlisted is False
    assert event.description_slack_blocks_references == SlackBlocksReferences()

    post = decode(Post, b'{"id": "p1"}')
    assert post.author is None
    assert post.slack_message is None
    assert post.read_time_minutes is None
    assert post.reactions_count == 0
    assert post.references.urls == []


def test_nulls_where_the_api_allows_them() -> None:
    event = decode(
        CalendarEvent,
        b'{"id": "e1", "link": null, "tags": null, "recap_slack_blocks": null, "title": null}',
    )
    assert (event.link, event.tags, event.recap_slack_blocks, event.title) == (
        None,
        None,
        None,
        None,
    )


def test_a_missing_identifier_names_the_path() -> None:
    with pytest.raises(
        msgspec.ValidationError, match=r"missing required field `id` - at `\$.data`"
    ):
        decode(Envelope[CalendarEvent], b'{"success": true, "data": {"title": "x"}}')


def test_a_wrong_type_names_the_path() -> None:
    body = b'{"data": {"records": [{"id": "p1", "reactions_count": "many"}]}}'
    with pytest.raises(
        msgspec.ValidationError, match=r"Expected `int`, got `str` - at `\$.data.records\[0\]"
    ):
        decode(Envelope[ListPage[Post]], body)


def test_models_are_frozen() -> None:
    event = decode(CalendarEvent, b'{"id": "e1"}')
    with pytest.raises(AttributeError):
        event.title = "changed"  # type: ignore[misc]


# --- envelopes and pages ------------------------------------------------------------------------


def test_envelope_requires_data_and_defaults_the_rest() -> None:
    created = decode(Envelope[CalendarEventCreated], b'{"data": {"calendar_event_id": "abc"}}')
    assert created == Envelope(data=CalendarEventCreated(calendar_event_id="abc"))
    assert created.success is True
    assert created.message is None
    with pytest.raises(msgspec.ValidationError, match="missing required field `data`"):
        decode(Envelope[DeletedRef], b'{"success": true}')


def test_list_page_requires_records() -> None:
    with pytest.raises(msgspec.ValidationError, match="missing required field `records`"):
        decode(Envelope[ListPage[Feed]], b'{"data": {"page": 0, "has_next": false}}')


def test_list_page_next_page() -> None:
    page = decode(ListPage[FeedRef], b'{"page": 2, "has_next": true, "records": []}')
    assert page.next_page == 3
    assert decode(ListPage[FeedRef], b'{"page": 2, "records": []}').next_page is None


@pytest.mark.parametrize(("raw", "expected"), [("10", 10), ("10.0", 10), ("10.5", 10), ("0", 0)])
def test_page_counters_accept_floats_truncated(raw: str, expected: int) -> None:
    # One generated doc example shows per_page 10.5; that must not fail a whole page.
    page = decode(ListPage[FeedRef], f'{{"per_page": {raw}, "records": []}}')
    assert page.per_page == expected
    assert type(page.per_page) is int


@pytest.mark.parametrize("raw", ['"10"', "true", "null", "[]", "1e400"])
def test_page_counters_reject_non_numbers(raw: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=r"`\$.per_page`"):
        decode(ListPage[FeedRef], f'{{"per_page": {raw}, "records": []}}')


def test_search_hits_are_posts() -> None:
    body = recorded_body("feeds_posts")
    hits = decode(Envelope[ListPage[SearchHit]], encode(body)).data.records
    assert hits == decode(Envelope[ListPage[Post]], encode(body)).data.records


@pytest.mark.parametrize(
    ("message_ts", "expected"),
    [("1747250195.525399", "1747250195.525399"), (1747250195.525399, 1747250195.525399), (17, 17)],
)
def test_message_ts_is_a_string_or_a_number(message_ts: object, expected: object) -> None:
    assert decode(SlackMessage, encode({"message_ts": message_ts})).message_ts == expected


def test_slack_blocks_stay_opaque_json() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}, "new": [1, None]}]
    feed = decode(Feed, encode({"id": "f1", "slack_channel_topic_slack_blocks": blocks}))
    assert feed.slack_channel_topic_slack_blocks == blocks


def test_references_items_are_typed() -> None:
    references = decode(
        SlackBlocksReferences,
        encode(
            {
                "mentioned_slack_users": [
                    {"profile_id": "p1", "preferred_name": "Ada", "slack_user_id": "U1"}
                ],
                "mentioned_slack_channels": [
                    {"slack_channel": {"id": "C1", "name": "general"}, "feed": None},
                    {
                        "slack_channel": {"id": "C2", "name": "news"},
                        "feed": {"id": "f2", "label": "News", "slug": "news"},
                    },
                ],
                "custom_emojis": [{"alias": None, "name": "yarn", "url": "https://e/y.png"}],
                "urls": [
                    {
                        "order_seen": 1,
                        "is_embedded_media": False,
                        "is_image": True,
                        "is_video": False,
                        "url": "https://x/y.png",
                    }
                ],
            }
        ),
    )
    assert references.mentioned_slack_users[0].preferred_name == "Ada"
    first, second = references.mentioned_slack_channels
    assert first.feed is None
    assert second.feed == FeedRef(id="f2", label="News", slug="news")
    assert second.slack_channel is not None
    assert second.slack_channel.name == "news"
    assert references.custom_emojis[0].name == "yarn"
    assert references.urls[0].is_image is True
    assert references.urls[0].order_seen == 1


# --- other bodies -------------------------------------------------------------------------------


def test_error_body_with_scope_details() -> None:
    error = decode(
        ErrorBody,
        encode(
            {
                "success": False,
                "error": "Insufficient permissions",
                "code": "INSUFFICIENT_SCOPE",
                "hint": "Required permission: members:write",
                "required_permissions": ["members:write"],
                "current_permissions": ["calendar_events:read"],
                "request_id": "r1",
            }
        ),
    )
    assert error.code == "INSUFFICIENT_SCOPE"
    assert error.required_permissions == ["members:write"]
    assert error.current_permissions == ["calendar_events:read"]
    assert error.required_plan is None
    assert error.detail == "Insufficient permissions"


def test_error_body_plan_and_message() -> None:
    error = decode(
        ErrorBody,
        b'{"success": false, "error": "Forbidden", "message": "Upgrade to Enterprise",'
        b' "code": "PLAN_REQUIRED", "required_plan": "enterprise", "current_plan": "growth"}',
    )
    assert (error.required_plan, error.current_plan) == ("enterprise", "growth")
    assert error.detail == "Upgrade to Enterprise"
    assert decode(ErrorBody, b"{}").detail is None


def test_ack_for_success_only_replies() -> None:
    assert decode(Ack, b'{"success": true}') == Ack(success=True)
    assert decode(Ack, b'{"success": true, "data": {"anything": 1}}').success is True


def test_api_key_info() -> None:
    info = decode(
        Envelope[ApiKeyInfo],
        encode(
            {
                "success": True,
                "data": {
                    "id": "key_1",
                    "type": "developer",
                    "name": "Sync job",
                    "community": {"id": "c1", "name": "LokBros", "plan": "enterprise"},
                    "permissions": ["members:write", "calendar_events:read"],
                    "created_at": "2025-03-11 13:06:35.552988+00",
                },
            }
        ),
    ).data
    assert info.community is not None
    assert info.community.plan == "enterprise"
    assert info.has_permission("members:write")
    assert not info.has_permission("feeds:read")
    assert info.created_at is not None
    assert info.created_at.year == 2025
    assert decode(ApiKeyInfo, b"{}").permissions == []


def test_file() -> None:
    file = decode(
        Envelope[File],
        encode(
            {
                "success": True,
                "data": {
                    "id": "3c17c179-c59a-4dd2-84ae-9b6589865706",
                    "created_at": "2024-02-01 04:04:39.198523+00",
                    "name": "cover.png",
                    "title": "Cover",
                    "size": 2048,
                    "mimetype": "image/png",
                    "url": "https://files.example/cover.png",
                },
            }
        ),
    ).data
    assert (file.name, file.size, file.mimetype) == ("cover.png", 2048, "image/png")


MEMBER_REPLY = {
    "success": True,
    "message": "New member created",
    "data": {
        "member": {
            "id": "cfa233f7-a0ac-431e-8f94-27a286f2ac32",
            "email": "ada@example.com",
            "full_name": "Ada Lovelace",
            "preferred_name": "Ada",
            "avatar_url_original": None,
            "slack_profile_id": None,
        }
    },
}


@pytest.mark.parametrize(("status", "created"), [(201, True), (200, False)])
def test_member_result_knows_created_from_updated(status: int, created: bool) -> None:
    envelope = decode(Envelope[MemberUpsert], encode(MEMBER_REPLY))

    result = MemberResult.from_response(envelope, status)

    assert result.created is created
    assert result.member.email == "ada@example.com"
    assert result.member.slack_profile_id is None
    assert result.message == "New member created"


# --- the helpers --------------------------------------------------------------------------------


def test_decoder_for_builds_one_decoder_per_type() -> None:
    first = decoder_for(Envelope[ListPage[Post]])
    assert decoder_for(Envelope[ListPage[Post]]) is first
    other: object = decoder_for(Envelope[Post])
    assert other is not first


def test_decode_accepts_str_and_bytes() -> None:
    assert decode(FeedRef, '{"id": "f1"}') == decode(FeedRef, b'{"id": "f1"}') == FeedRef(id="f1")


def test_decode_rejects_invalid_json() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode(FeedRef, b"<html>502</html>")


def test_convert_builds_models_from_builtins() -> None:
    assert convert({"id": "f1", "label": "News", "extra": 1}, FeedRef) == FeedRef(
        id="f1", label="News"
    )
    with pytest.raises(msgspec.ValidationError, match=r"missing required field `id`"):
        convert({}, FeedRef)

"""Both timestamp forms the API sends, and many neighbours, decode to equal aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from tightknit_async.models import (
    CalendarEvent,
    Envelope,
    ListPage,
    Timestamp,
    convert,
    dec_hook,
    decode,
    decoder_for,
    parse_timestamp,
)


class Stamped(msgspec.Struct, kw_only=True, frozen=True):
    created_at: Timestamp | None = None


MOMENT = datetime(2024, 2, 1, 4, 4, 39, 198523, tzinfo=UTC)
WHOLE_SECOND = MOMENT.replace(microsecond=0)

EQUAL_FORMS: list[tuple[str, datetime]] = [
    # The API's two forms.
    ("2024-02-01 04:04:39.198523+00", MOMENT),
    ("2024-02-01T04:04:39.198523+00:00", MOMENT),
    # Other offsets spellings for UTC.
    ("2024-02-01T04:04:39.198523Z", MOMENT),
    ("2024-02-01 04:04:39.198523+00:00", MOMENT),
    ("2024-02-01T04:04:39.198523+00", MOMENT),
    ("2024-02-01T04:04:39.198523+0000", MOMENT),
    ("2024-02-01t04:04:39.198523z", MOMENT),
    ("2024-02-01 04:04:39.198523-00:00", MOMENT),
    # The same instant in other zones.
    ("2024-01-31T21:04:39.198523-07:00", MOMENT),
    ("2024-01-31 21:04:39.198523-07", MOMENT),
    ("2024-02-01T09:34:39.198523+05:30", MOMENT),
    # No fraction.
    ("2024-02-01 04:04:39+00", WHOLE_SECOND),
    ("2024-02-01T04:04:39Z", WHOLE_SECOND),
    ("2024-02-01T04:04:39+00:00", WHOLE_SECOND),
    ("2024-01-31T21:04:39-07:00", WHOLE_SECOND),
    # Fractions of other lengths: 3 digits, and the 5 Postgres leaves after dropping a zero.
    ("2024-02-01T04:04:39.198+00:00", WHOLE_SECOND.replace(microsecond=198000)),
    ("2024-02-01 04:04:39.198+00", WHOLE_SECOND.replace(microsecond=198000)),
    ("2024-02-01 04:04:39.19852+00", WHOLE_SECOND.replace(microsecond=198520)),
    ("2024-02-01 04:04:39.1+00", WHOLE_SECOND.replace(microsecond=100000)),
]


@pytest.mark.parametrize(("text", "expected"), EQUAL_FORMS)
def test_form_decodes_to_the_same_aware_instant(text: str, expected: datetime) -> None:
    decoded = decode(Stamped, msgspec.json.encode({"created_at": text})).created_at

    assert isinstance(decoded, datetime)
    assert type(decoded) is datetime  # a plain datetime, not a subclass
    assert decoded.utcoffset() is not None
    assert decoded == expected
    assert parse_timestamp(text) == expected
    assert convert({"created_at": text}, Stamped).created_at == expected


def test_offsets_are_kept_not_converted() -> None:
    decoded = parse_timestamp("2025-01-07T15:00:00-07:00")
    assert decoded.utcoffset() == timedelta(hours=-7)
    assert decoded.hour == 15


def test_a_timestamp_without_offset_is_taken_as_utc() -> None:
    assert parse_timestamp("2024-02-01T04:04:39.198523") == MOMENT
    assert parse_timestamp("2024-02-01 04:04:39.198523").tzinfo is UTC


def test_datetimes_pass_through_convert() -> None:
    aware = datetime(2024, 2, 1, 4, 4, 39, tzinfo=timezone(timedelta(hours=2)))
    assert convert({"created_at": aware}, Stamped).created_at is aware
    naive = datetime(2024, 2, 1, 4, 4, 39)
    assert convert({"created_at": naive}, Stamped).created_at == naive.replace(tzinfo=UTC)


def test_null_stays_none() -> None:
    assert decode(Stamped, b'{"created_at": null}').created_at is None
    assert decode(Stamped, b"{}").created_at is None


def test_decoded_timestamps_encode_natively() -> None:
    decoded = decode(Stamped, b'{"created_at": "2024-02-01 04:04:39.198523+00"}')
    assert msgspec.json.encode(decoded) == b'{"created_at":"2024-02-01T04:04:39.198523Z"}'
    assert msgspec.to_builtins(decoded) == {"created_at": "2024-02-01T04:04:39.198523Z"}


GARBAGE: list[tuple[Any, str]] = [
    ("garbage", "Invalid timestamp 'garbage'"),
    ("", "Invalid timestamp ''"),
    ("yesterday", "Invalid timestamp 'yesterday'"),
    ("2024-13-01T00:00:00Z", "Invalid timestamp"),
    ("2024-02-30 00:00:00+00", "Invalid timestamp"),
    ("2024-02-01T04:04:39+25:00", "Invalid timestamp"),
    ("2024-02-01T04:04:39.198523+00:00[UTC]", "Invalid timestamp"),
    ("x" * 500, "Invalid timestamp 'xxxx"),
    (1706760279, "Expected a timestamp string, got int"),
    (1706760279.5, "Expected a timestamp string, got float"),
    (True, "Expected a timestamp string, got bool"),
    ([], "Expected a timestamp string, got list"),
    ({}, "Expected a timestamp string, got dict"),
]


@pytest.mark.parametrize(("value", "message"), GARBAGE)
def test_garbage_is_a_validation_error_naming_the_path(value: Any, message: str) -> None:
    body = msgspec.json.encode({"success": True, "data": {"id": "e1", "created_at": value}})

    with pytest.raises(msgspec.ValidationError) as caught:
        decode(Envelope[CalendarEvent], body)

    text = str(caught.value)
    assert message in text
    assert text.endswith("- at `$.data.created_at`")
    assert len(text) < 250  # long input is shortened in the message


def test_garbage_deep_in_a_page_names_the_record() -> None:
    body = msgspec.json.encode(
        {
            "data": {
                "records": [
                    {"id": "e1", "start_date": "2025-01-07T15:00:00-07:00"},
                    {"id": "e2", "hosts": [{"profile_id": "p", "created_at": "soon"}]},
                ]
            }
        }
    )
    with pytest.raises(
        msgspec.ValidationError, match=r"Invalid timestamp 'soon'.* at `\$\.data\.records\[1\]"
    ) as caught:
        decode(Envelope[ListPage[CalendarEvent]], body)
    assert str(caught.value).endswith("`$.data.records[1].hosts[0].created_at`")


def test_garbage_through_convert_is_a_validation_error_too() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"Invalid timestamp.*`\$\.created_at`"):
        convert({"created_at": "nope"}, Stamped)


def test_parse_timestamp_raises_plain_errors() -> None:
    with pytest.raises(ValueError, match="Invalid timestamp 'nope'"):
        parse_timestamp("nope")
    with pytest.raises(TypeError, match="got int"):
        parse_timestamp(5)


class Other:
    pass


class Holder(msgspec.Struct):
    other: Other


def test_dec_hook_declines_types_it_does_not_know() -> None:
    with pytest.raises(NotImplementedError):
        dec_hook(Other, "x")
    # msgspec's convention: the hook's NotImplementedError reaches the caller.
    with pytest.raises(NotImplementedError, match="Other"):
        decoder_for(Holder).decode(b'{"other": "x"}')


def test_timestamp_name_builds_a_plain_datetime() -> None:
    built = Timestamp(2024, 2, 1, tzinfo=UTC)
    assert type(built) is datetime
    assert isinstance(built, Timestamp)
    assert not isinstance("2024-02-01", Timestamp)

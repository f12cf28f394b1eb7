import hashlib
import os
import re
import uuid

import pytest

from tightknit_async import IdempotencyKeyError, idempotency_key_for
from tightknit_async.idempotency import is_uuid4, mint_idempotency_key, validate_idempotency_key


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("3f0c9a6e-4b1d-4c4e-9a57-2f1f0e1c7d21", True),
        ("3F0C9A6E-4B1D-4C4E-9A57-2F1F0E1C7D21", True),
        ("3f0c9a6e-4b1d-4c4e-8a57-2f1f0e1c7d21", True),
        ("3f0c9a6e-4b1d-4c4e-ba57-2f1f0e1c7d21", True),
        ("3f0c9a6e-4B1d-4c4E-Ba57-2f1F0e1c7D21", True),  # mixed case, upper-case variant
        ("3F0C9A6E-4B1D-4C4E-AA57-2F1F0E1C7D21", True),
        ("3F0C9A6E-4B1D-4C4E-CA57-2F1F0E1C7D21", False),  # wrong variant, upper case
        ("3F0C9A6E-4B1D-4C4E-9A57-2F1F0E1C7D2G", False),  # not hex
        ("3f0c9a6e-4b1d-1c4e-9a57-2f1f0e1c7d21", False),  # version 1
        ("3f0c9a6e-4b1d-5c4e-9a57-2f1f0e1c7d21", False),  # version 5
        ("3f0c9a6e-4b1d-4c4e-7a57-2f1f0e1c7d21", False),  # wrong variant
        ("3f0c9a6e4b1d4c4e9a572f1f0e1c7d21", False),  # no hyphens
        ("{3f0c9a6e-4b1d-4c4e-9a57-2f1f0e1c7d21}", False),
        ("3f0c9a6e-4b1d-4c4e-9a57-2f1f0e1c7d21\n", False),
        ("", False),
        (None, False),
        (42, False),
    ],
)
def test_is_uuid4(value: object, ok: bool) -> None:
    assert is_uuid4(value) is ok


def test_validate_accepts_uuid_objects_and_rejects_others_clearly() -> None:
    key = uuid.uuid4()
    assert validate_idempotency_key(key) == str(key)
    with pytest.raises(IdempotencyKeyError, match="UUIDv4") as info:
        validate_idempotency_key("order-123")
    assert "order-123" in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(IdempotencyKeyError, match="'int'"):
        validate_idempotency_key(12)


def test_minted_keys_are_fresh_uuid4s() -> None:
    keys = {mint_idempotency_key() for _ in range(1000)}
    assert len(keys) == 1000
    assert all(is_uuid4(k) for k in keys)


def test_minted_keys_are_canonical_uuid4s_with_122_random_bits() -> None:
    keys = [mint_idempotency_key() for _ in range(2000)]
    for key in keys:
        parsed = uuid.UUID(key)
        assert str(parsed) == key  # canonical: lower case, hyphens where uuid puts them
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    # every bit outside the version and variant fields varies across the sample
    ints = [uuid.UUID(key).int for key in keys]
    fixed = (0xF << 76) | (0x3 << 62)
    varying = 0
    for value in ints:
        varying |= value ^ ints[0]
    assert varying == ((1 << 128) - 1) & ~fixed


def test_idempotency_key_for_is_stable_valid_and_separated() -> None:
    first = idempotency_key_for("import-2026-11", "row-17")
    assert first == idempotency_key_for("import-2026-11", "row-17")
    assert is_uuid4(first)
    assert uuid.UUID(first).version == 4
    assert first != idempotency_key_for("import-2026-11", "row-18")
    assert first != idempotency_key_for("import-2026-12", "row-17")
    # the separator keeps ("a", "bc") and ("ab", "c") apart
    assert idempotency_key_for("a", "bc") != idempotency_key_for("ab", "c")
    assert idempotency_key_for("n", 17) == idempotency_key_for("n", "17")
    keys = {idempotency_key_for("bulk", i) for i in range(10_000)}
    assert len(keys) == 10_000
    assert all(is_uuid4(k) for k in keys)
    with pytest.raises(ValueError, match="namespace"):
        idempotency_key_for("", 1)


# -- golden vectors: a compatibility promise -----------------------------------------------------

# (namespace, item id) -> the key idempotency_key_for gives. Resumed jobs and re-runs depend on
# these never changing: the server only replays a mutation sent again with the same key. Changing
# any of them is a breaking change that the CHANGELOG must announce.
GOLDEN_KEYS: list[tuple[str, object, str]] = [
    ("import-2026-11", "row-1", "6169bc43-84e5-43a1-a35b-804fc15acc02"),
    ("members-import", "ada@example.com", "f482fa62-ea3a-4542-b60d-d2a2fe9fb9f9"),
    ("import-2026-11", "row-2", "a174c16b-78d6-4dd8-8db3-c703a18e74d9"),
    ("import-2026-12", "row-1", "0734723b-0eff-4d3b-9d73-3e3e76e16b3a"),
    # an item id is used as str(item_id): 42 and "42" share a key
    ("members-import", 42, "6b99127f-3ba7-4a2a-976e-a472f996999f"),
    ("members-import", "42", "6b99127f-3ba7-4a2a-976e-a472f996999f"),
    # nothing is stripped or normalised: a trailing space, or "e" + combining diaeresis instead
    # of "\u00eb", is another item
    ("members-import", "ada@example.com ", "2ac0b102-d880-4773-a387-3271bb2e0861"),
    ("members", "Zo\u00eb", "abefe106-2158-4c05-8b78-80667d4bd5fa"),
    ("members", "Zoe\u0308", "f085a193-4859-4f65-91b2-24899440240e"),
    # unicode is hashed as UTF-8
    ("\u00e9v\u00e9nements", "Zo\u00eb \u00c5ngstr\u00f6m", "e1ac89e4-6590-455d-903d-12dccc8c374f"),
    (
        "\u0438\u043c\u043f\u043e\u0440\u0442",
        "\u0441\u0442\u0440\u043e\u043a\u0430-1",
        "2b0ff7d3-ad29-47e9-bc06-c19f33cd074a",
    ),
    (
        "import",
        "\u65e5\u672c\u8a9e\u306e\u30e1\u30f3\u30d0\u30fc",
        "d03dac16-62a9-40b8-bbc1-ba516b747a61",
    ),
    ("emoji", "\U0001f389\U0001f469\u200d\U0001f4bb", "d7bf3a21-48a0-4290-92dd-dabe0e099eca"),
    # empty-ish ids
    ("n", "", "481daf85-15fd-4e90-8771-19892b048315"),
    ("n", " ", "c056017b-63b9-4281-a1e5-c300e1d2c8f9"),
    ("n", "0", "1dd55371-9a91-45a9-81b2-f159d29f2cc7"),
    ("n", None, "5d0382df-6c01-46a8-a851-b917ba9f60ef"),
    # long ids and namespaces are hashed whole, never truncated
    ("import-2026-11", "x" * 1000, "9dc4719b-9da0-45b6-8967-c1898eebad70"),
    ("n", "x" * 10_000, "90d56bbb-13be-499f-957a-488c37222f7b"),
    ("ns" * 100, "row-1", "27272680-eee7-4605-a92a-c46a22cae365"),
    # the separator keeps ("a", "bc") and ("ab", "c") apart
    ("a", "bc", "40bb547d-936b-4d31-b18e-e37ac8799e7e"),
    ("ab", "c", "6c032e63-1d39-414d-85af-f7e319546af7"),
]


@pytest.mark.parametrize(
    ("namespace", "item_id", "key"),
    GOLDEN_KEYS,
    ids=[f"{i}-{str(n)[:16]}-{str(item)[:16]}" for i, (n, item, _) in enumerate(GOLDEN_KEYS)],
)
def test_idempotency_key_for_gives_the_same_keys_in_every_release(
    namespace: str, item_id: object, key: str
) -> None:
    assert idempotency_key_for(namespace, item_id) == key


@pytest.mark.parametrize(("namespace", "item_id", "key"), GOLDEN_KEYS[:4])
def test_golden_keys_follow_the_documented_formula(
    namespace: str, item_id: object, key: str
) -> None:
    """SHA-256 of ``namespace NUL str(item_id)`` in UTF-8, first 16 bytes, version 4 and the
    RFC 4122 variant set: what ``uuid.UUID(bytes=..., version=4)`` does."""
    digest = hashlib.sha256(f"{namespace}\x00{item_id}".encode()).digest()[:16]
    assert str(uuid.UUID(bytes=digest, version=4)) == key


def test_idempotency_key_for_rejects_a_namespace_that_is_not_a_non_empty_str() -> None:
    for namespace in ("", None, b"import", 7):
        with pytest.raises(ValueError, match=r"^namespace must be a non-empty str$"):
            idempotency_key_for(namespace, "row-1")  # type: ignore[arg-type]


# -- minted keys and the validation message -------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [bytes(16), b"\xff" * 16, bytes(range(16)), bytes(range(240, 256)), b"\x5a\xc3" * 8],
)
def test_a_minted_key_is_what_uuid4_makes_of_the_same_random_bytes(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every one of the 122 random bits of ``os.urandom(16)`` lands where ``uuid.uuid4()`` puts
    it; only the version and variant bits are fixed."""
    monkeypatch.setattr(os, "urandom", lambda n: raw[:n])
    assert mint_idempotency_key() == str(uuid.UUID(bytes=raw, version=4))


def test_the_validation_error_shows_a_valid_example_and_the_stable_key_helper() -> None:
    with pytest.raises(IdempotencyKeyError) as info:
        validate_idempotency_key("order-123")
    message = str(info.value)
    example = re.search(r"such as '([^']*)'", message)
    assert example is not None
    assert is_uuid4(example.group(1))
    assert message.endswith(
        ", got 'order-123' "
        "(use tightknit_async.idempotency_key_for(namespace, item_id) for stable keys)"
    )


def test_the_validation_error_shows_a_bad_key_of_up_to_64_characters_verbatim() -> None:
    with pytest.raises(IdempotencyKeyError, match=f"got '{'k' * 64}'"):
        validate_idempotency_key("k" * 64)
    with pytest.raises(IdempotencyKeyError, match=r"got 'str'") as info:
        validate_idempotency_key("k" * 65)
    assert "k" * 65 not in str(info.value)


def test_a_namespace_with_the_separator_is_refused_so_no_two_items_share_a_key() -> None:
    with pytest.raises(ValueError, match="NUL"):
        idempotency_key_for("a\x00b", "c")
    # the id may hold one: the namespace's end is then the first NUL, unambiguous
    assert idempotency_key_for("a", "b\x00c") != idempotency_key_for("a", "b")

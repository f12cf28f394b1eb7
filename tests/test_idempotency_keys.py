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

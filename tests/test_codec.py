import pytest

from tightknit_async import _codec


def test_encode_is_compact_json() -> None:
    assert _codec.encode({"a": [1, "x", None, True]}) == b'{"a":[1,"x",null,true]}'


@pytest.mark.parametrize("bad", [{"x": object()}, {1j}, {(1, 2): "tuple key"}])
def test_encode_rejects_non_json_values_naming_the_argument(bad: object) -> None:
    with pytest.raises(TypeError, match=r"^body is not JSON-serialisable"):
        _codec.encode(bad, argument="body")


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, True),
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("application/problem+json", True),
        ("text/html", False),
        ("text/plain; charset=utf-8", False),
    ],
)
def test_looks_like_json(content_type: str | None, expected: bool) -> None:
    assert _codec.looks_like_json(content_type) is expected


def test_error_body_never_raises() -> None:
    assert _codec.error_body(b"", "application/json") is None
    assert _codec.error_body(b'{"error":"x"}', "application/json") == {"error": "x"}
    assert _codec.error_body(b'{"error":"x"}', "text/plain") == {"error": "x"}
    assert _codec.error_body(b"{truncated", "application/json") == "{truncated"
    html = b"<html>\n  <body>   Bad    Gateway </body></html>" + b"!" * 2000
    body = _codec.error_body(html, "text/html")
    assert isinstance(body, str)
    assert body.startswith("<html> <body> Bad Gateway </body></html>!!!")
    assert len(body) == 500
    assert _codec.error_body(b"\xff\xfe binary", None) == "\ufffd\ufffd binary"

"""Reading replies that do not fit their model: find every deviation, and decode in spite of them.

The API is only partly documented and changes under its users, so a 2xx reply may differ from its
model: a ``null`` where the model has a list, a required field missing, a value of another type, an
enum value the model has not seen. The typed decoder (msgspec) rejects the first of these. This
module is the slow path taken only then; well-formed replies never reach it.

:func:`deviations` walks the reply's JSON beside the model's type and lists what differs, each as
a :class:`Deviation` (model, JSON path, kind). :func:`tolerant_convert` builds the model anyway:

- a ``null`` or a value of the wrong type in a field that has a default gives that default; in a
  required field, the type's empty value (``None`` where allowed, ``[]``, ``{}``, ``""``, ``0``,
  ``False``, or a nested model built from nothing);
- a missing required field gives the type's empty value;
- a list item or map value that cannot be read is dropped;
- numbers where a string is expected become strings, numeric strings where a number is expected
  become numbers, ``"true"``/``"false"`` become booleans (msgspec's lax conversion);
- unknown fields are ignored, as the typed decoder ignores them;
- enum values are kept as strings: response models type them as ``str``, and only record the values
  known today (:func:`known_values`) so that drift reports can name new ones.

Each deviation is logged once per process at WARNING, by (model, field path, kind), never with the
reply's body: values may be personal data.
"""

from __future__ import annotations

import functools
import logging
import threading
import types
import typing
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeAlias, TypeVar

import msgspec

from ._scalars import dec_hook

__all__ = [
    "Deviation",
    "DeviationKind",
    "deviations",
    "known_values",
    "reset_warnings",
    "tolerant_convert",
    "type_name",
    "warn_once",
]

T = TypeVar("T")

logger: Final = logging.getLogger("tightknit_async.models")

DeviationKind: TypeAlias = Literal["null", "missing", "type", "unknown_field", "enum"]
"""``null``: a null where the model does not allow one; ``missing``: a required field absent;
``type``: a value of another JSON type (or an unreadable timestamp); ``unknown_field``: a field the
model does not know (reported only when asked: it is never a problem); ``enum``: a value outside
the values known for the field (kept as given)."""

_KNOWN_KEY: Final = "known_values"


def known_values(*values: str) -> msgspec.Meta:
    """Annotation metadata recording a string field's known values without restricting it:
    ``status: Annotated[str, known_values("draft", "published")] | None``."""
    return msgspec.Meta(extra={_KNOWN_KEY: tuple(values)})


class Deviation(msgspec.Struct, frozen=True, kw_only=True):
    """One way a reply differs from its model.

    ``model`` is the model owning the field (``CalendarEvent``); ``path`` the JSON path from the
    body's root, list positions written ``[*]`` (``$.data.records[*].hosts``); ``kind`` one of
    :data:`DeviationKind`; ``detail`` says what was expected and what came (never the value itself,
    except a new enum value, which is a word of the API's vocabulary, not user data).
    """

    model: str
    path: str
    kind: DeviationKind
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.model} {self.path}: {self.kind}" + (
            f" ({self.detail})" if self.detail else ""
        )


_BAD: Final = object()
"""A value that could not be read: the caller falls back to the default or the empty value."""

_NONE_TYPE: Final = type(None)


def type_name(tp: Any) -> str:
    """A short readable name for a type: ``CalendarEvent``, ``Envelope[ListPage[Post]]``."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return type_name(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(type_name(arg) for arg in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if tp is _NONE_TYPE:
        return "null"
    return getattr(tp, "__name__", str(tp))


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_struct(tp: Any) -> bool:
    cls = typing.get_origin(tp) or tp
    return isinstance(cls, type) and issubclass(cls, msgspec.Struct)


def _required(info: msgspec.structs.FieldInfo) -> bool:
    return info.default is msgspec.NODEFAULT and info.default_factory is msgspec.NODEFAULT


class _Walk:
    """One walk over a reply: collects deviations, returns repaired builtins."""

    __slots__ = ("found", "report_unknown")

    def __init__(self, *, report_unknown: bool) -> None:
        self.found: list[Deviation] = []
        self.report_unknown = report_unknown

    def note(self, model: str, path: str, kind: DeviationKind, detail: str = "") -> None:
        self.found.append(Deviation(model=model, path=path, kind=kind, detail=detail))

    # -- one value against one type --------------------------------------------------------------

    def value(self, tp: Any, value: Any, path: str, model: str) -> Any:
        """``value`` read as ``tp``: itself (repaired inside), a lax conversion, or ``_BAD``."""
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            inner, *meta = typing.get_args(tp)
            result = self.value(inner, value, path, model)
            if isinstance(result, str):
                for item in meta:
                    known = getattr(item, "extra", None) or {}
                    values = known.get(_KNOWN_KEY) if isinstance(known, dict) else None
                    if values and result not in values:
                        self.note(model, path, "enum", f"new value {result!r}")
            return result
        if origin in (typing.Union, types.UnionType):
            return self._union(typing.get_args(tp), value, path, model)
        if tp is Any or tp is object:
            return value
        if value is None:
            if tp is _NONE_TYPE:
                return None
            self.note(model, path, "null", f"expected {type_name(tp)}")
            return _BAD
        if _is_struct(tp):
            if not isinstance(value, dict):
                self.note(model, path, "type", f"expected object, got {_json_kind(value)}")
                return _BAD
            return self.struct(tp, value, path)
        if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
            return self._sequence(tp, value, path, model)
        if origin is dict or tp is dict:
            return self._mapping(tp, value, path, model)
        if origin is Literal:
            if value in typing.get_args(tp):
                return value
            self.note(model, path, "enum", f"new value {value!r}")
            return _BAD
        return self._scalar(tp, value, path, model)

    def _union(self, members: tuple[Any, ...], value: Any, path: str, model: str) -> Any:
        if value is None:
            if _NONE_TYPE in members:
                return None
            self.note(model, path, "null", f"expected {' | '.join(map(type_name, members))}")
            return _BAD
        candidates = [m for m in members if m is not _NONE_TYPE]
        kind = _json_kind(value)
        # The member of the value's own JSON kind first, so an object goes to the model.
        candidates.sort(key=lambda m: 0 if _accepts_kind(m, kind) else 1)
        for member in candidates:
            if _accepts_kind(member, kind):
                return self.value(member, value, path, model)
        for member in candidates:  # a lax conversion (a number for a str, ...), quietly tried
            trial = _Walk(report_unknown=False)
            result = trial.value(member, value, path, model)
            if result is not _BAD:
                self.found += trial.found
                return result
        names = " | ".join(map(type_name, members))
        self.note(model, path, "type", f"expected {names}, got {kind}")
        return _BAD

    def _sequence(self, tp: Any, value: Any, path: str, model: str) -> Any:
        if not isinstance(value, list):
            self.note(model, path, "type", f"expected array, got {_json_kind(value)}")
            return _BAD
        args = typing.get_args(tp)
        item_type = args[0] if args else Any
        item_path = f"{path}[*]"
        kept = []
        for item in value:
            result = self.value(item_type, item, item_path, model)
            if result is not _BAD:
                kept.append(result)
        return kept

    def _mapping(self, tp: Any, value: Any, path: str, model: str) -> Any:
        if not isinstance(value, dict):
            self.note(model, path, "type", f"expected object, got {_json_kind(value)}")
            return _BAD
        args = typing.get_args(tp)
        value_type = args[1] if len(args) == 2 else Any
        item_path = f"{path}[*]"
        kept = {}
        for key, item in value.items():
            result = self.value(value_type, item, item_path, model)
            if result is not _BAD:
                kept[key] = result
        return kept

    def _scalar(self, tp: Any, value: Any, path: str, model: str) -> Any:
        plain = _PLAIN.get(tp)
        if plain is not None and plain(value):
            return value
        try:
            msgspec.convert(value, tp, dec_hook=dec_hook)
        except (msgspec.ValidationError, TypeError, ValueError):
            pass
        else:
            return value
        expected = type_name(tp)
        try:
            converted = msgspec.convert(value, tp, dec_hook=dec_hook, strict=False)
        except (msgspec.ValidationError, TypeError, ValueError):
            if tp is str and isinstance(value, int | float) and not isinstance(value, bool):
                converted = str(value)
            else:
                got = _json_kind(value)
                self.note(model, path, "type", f"expected {expected}, got {got}")
                return _BAD
        self.note(model, path, "type", f"expected {expected}, got {_json_kind(value)}")
        return msgspec.to_builtins(converted) if isinstance(converted, datetime) else converted

    # -- a model ---------------------------------------------------------------------------------

    def struct(self, tp: Any, value: dict[str, Any], path: str) -> dict[str, Any]:
        model, fields = _struct_info(tp)
        out: dict[str, Any] = {}
        for info in fields:
            key = info.encode_name
            field_path = f"{path}.{key}"
            if key not in value:
                if _required(info):
                    self.note(model, field_path, "missing", f"expected {type_name(info.type)}")
                    out[key] = _empty(info.type)
                continue
            result = self.value(info.type, value[key], field_path, model)
            if result is not _BAD:
                out[key] = result
            elif _required(info):
                out[key] = _empty(info.type)
            # else: left out, so the field's default applies
        if self.report_unknown:
            names = {info.encode_name for info in fields}
            for key in value:
                if key not in names:
                    self.note(model, f"{path}.{key}", "unknown_field")
        return out


_PLAIN: Final[dict[Any, Any]] = {
    str: lambda v: isinstance(v, str),
    bool: lambda v: v is True or v is False,
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}
"""Checks for the plain scalar types, which need no trial conversion when the value fits."""


@functools.lru_cache(maxsize=256)
def _struct_info(tp: Any) -> tuple[str, tuple[msgspec.structs.FieldInfo, ...]]:
    return type_name(typing.get_origin(tp) or tp), msgspec.structs.fields(tp)


def _accepts_kind(tp: Any, kind: str) -> bool:
    """Whether ``tp`` reads JSON values of ``kind`` without conversion."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _accepts_kind(typing.get_args(tp)[0], kind)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts_kind(arg, kind) for arg in typing.get_args(tp))
    if tp is Any or tp is object:
        return True
    if kind == "object":
        return _is_struct(tp) or tp is dict or origin is dict
    if kind == "array":
        return origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset)
    if kind == "string":
        if origin is Literal:
            return any(isinstance(v, str) for v in typing.get_args(tp))
        return tp is str or tp is datetime or _is_custom(tp)
    if kind == "number":
        return tp in (int, float) or _is_custom(tp)
    if kind == "bool":
        return tp is bool
    return False


def _is_custom(tp: Any) -> bool:
    try:
        dec_hook(tp, None)
    except NotImplementedError:
        return False
    except (TypeError, ValueError):
        return True
    return True


def _empty(tp: Any) -> Any:
    """The empty value of ``tp`` as builtins: what a missing or unreadable required field gets."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _empty(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(tp)
        return None if _NONE_TYPE in members else _empty(members[0])
    if tp is Any or tp is object or tp is _NONE_TYPE:
        return None
    if _is_struct(tp):
        return _Walk(report_unknown=False).struct(tp, {}, "$")
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
        return []
    if origin is dict or tp is dict:
        return {}
    if origin is Literal:
        return typing.get_args(tp)[0]
    if tp is str:
        return ""
    if tp is bool:
        return False
    if tp is float:
        return 0.0
    if tp is datetime or (_is_custom(tp) and _accepts_kind(tp, "string")):
        return datetime(1970, 1, 1, tzinfo=UTC).isoformat()
    return 0


def deviations(type_: Any, data: Any, *, unknown_fields: bool = False) -> list[Deviation]:
    """Every way the JSON ``data`` (builtins) differs from ``type_``, in document order.

    With ``unknown_fields=True``, fields the models do not know are listed too (kind
    ``unknown_field``); they never stop decoding.
    """
    walk = _Walk(report_unknown=unknown_fields)
    walk.value(type_, data, "$", type_name(type_))
    return walk.found


def tolerant_convert(type_: type[T] | Any, data: Any) -> tuple[T, list[Deviation]]:
    """Build ``type_`` from the JSON ``data`` whatever its shape, and say what had to give.

    Never raises for a reply's shape: see the module docstring for what each deviation becomes.
    Deviations are logged (:func:`warn_once`) by the caller, who knows the request.
    """
    walk = _Walk(report_unknown=False)
    repaired = walk.value(type_, data, "$", type_name(type_))
    if repaired is _BAD:
        repaired = _empty(type_)
    result: T = msgspec.convert(repaired, type_, dec_hook=dec_hook, strict=False)
    return result, walk.found


_WARNED: Final[set[tuple[str, str, str]]] = set()
_WARNED_LOCK: Final = threading.Lock()


def warn_once(found: list[Deviation], *, where: str) -> None:
    """Log each deviation at WARNING the first time this process sees its (model, path, kind).

    ``where`` names the call (``GET /admin/v0/calendar_events``); the body is never logged.
    """
    for item in found:
        key = (item.model, item.path, item.kind)
        with _WARNED_LOCK:
            if key in _WARNED:
                continue
            _WARNED.add(key)
        logger.warning(
            "%s: the reply does not fit %s at %s (%s%s); decoded tolerantly, the field taking "
            "its default (pass strict_responses=True to raise instead)",
            where,
            item.model,
            item.path,
            item.kind,
            f": {item.detail}" if item.detail else "",
        )


def reset_warnings() -> None:
    """Forget which deviations were logged (for tests)."""
    with _WARNED_LOCK:
        _WARNED.clear()

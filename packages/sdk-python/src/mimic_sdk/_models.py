"""What the generated models stand on: the Model base class, the NOT_GIVEN marker, and the wire shapes that
turn JSON into models (camelCase keys to snake_case attributes) and keyword arguments into JSON."""
from __future__ import annotations

import datetime
from typing import Any, ClassVar, Dict, Iterable, Mapping, NamedTuple, Optional, Tuple, Type, TypeVar, cast

__all__ = ["Model", "NotGiven", "NOT_GIVEN"]


class NotGiven:
    """The default of an optional body field: the field is left out of the request (None sends null)."""

    _instance: ClassVar[Optional["NotGiven"]] = None

    def __new__(cls) -> "NotGiven":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()


class Shape:
    """How one value travels: `decode` reads it from JSON, `encode` writes it (or what a caller passed) as JSON."""

    def decode(self, value: Any) -> Any:
        return value

    def encode(self, value: Any) -> Any:
        return encode_any(value)


SCALAR = Shape()
"""Strings, numbers, booleans and literals: as they are."""

ANY = Shape()
"""Free-form JSON (metadata, traits, agent config): as it is, keys never renamed."""


class ModelOf(Shape):
    def __init__(self, cls: Type["Model"]) -> None:
        self.cls = cls

    def decode(self, value: Any) -> Any:
        return self.cls.from_dict(value) if isinstance(value, Mapping) else value

    def encode(self, value: Any) -> Any:
        if isinstance(value, Model):
            return value.to_dict()
        if isinstance(value, Mapping):
            return self.cls._encode_mapping(value)
        return encode_any(value)


class ListOf(Shape):
    def __init__(self, item: Shape) -> None:
        self.item = item

    def decode(self, value: Any) -> Any:
        return [self.item.decode(v) for v in value] if isinstance(value, list) else value

    def encode(self, value: Any) -> Any:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
            return encode_any(value)
        return [self.item.encode(v) for v in value]


class DictOf(Shape):
    def __init__(self, value: Shape) -> None:
        self.value = value

    def decode(self, value: Any) -> Any:
        return {k: self.value.decode(v) for k, v in value.items()} if isinstance(value, Mapping) else value

    def encode(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): self.value.encode(v) for k, v in value.items()}
        return encode_any(value)


class Nullable(Shape):
    def __init__(self, inner: Shape) -> None:
        self.inner = inner

    def decode(self, value: Any) -> Any:
        return None if value is None else self.inner.decode(value)

    def encode(self, value: Any) -> Any:
        return None if value is None else self.inner.encode(value)


class UnionOf(Shape):
    """Models told apart by a literal property (`type`). An unknown value stays a dict."""

    def __init__(self, key: str, variants: Mapping[Any, Type["Model"]]) -> None:
        self.key = key
        self.variants = dict(variants)

    def decode(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            cls = self.variants.get(value.get(self.key))
            if cls is not None:
                return cls.from_dict(value)
        return value

    def encode(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            cls = self.variants.get(value.get(self.key))
            if cls is not None:
                return cls._encode_mapping(value)
        return encode_any(value)


def encode_any(value: Any) -> Any:
    """JSON for a value of no known schema: models as their wire dicts, dates in ISO 8601, the rest as is."""
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): encode_any(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_any(v) for v in value]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return value


def decode(shape: Shape, value: Any) -> Any:
    return shape.decode(value)


class Field(NamedTuple):
    attr: str
    wire: str
    required: bool
    shape: Shape


M = TypeVar("M", bound="Model")


class Model:
    """Base of every generated model (a dataclass).

    Attributes are snake_case; `to_dict()` gives the camelCase JSON the API speaks, including any field this
    SDK does not know yet (a newer server's), which `from_dict` keeps.
    """

    _wire_fields: ClassVar[Tuple[Field, ...]] = ()
    _wire_names: ClassVar[Dict[str, Field]] = {}
    _raw: Dict[str, Any]

    @classmethod
    def from_dict(cls: Type[M], data: Mapping[str, Any]) -> M:
        """Reads the model from its JSON (camelCase keys). Missing fields become None."""
        if not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__}.from_dict expects a mapping, got {type(data).__name__}")
        values: Dict[str, Any] = {}
        for f in cls._wire_fields:
            value = data.get(f.wire)
            values[f.attr] = None if value is None else f.shape.decode(value)
        instance = cast(Any, cls)(**values)
        object.__setattr__(instance, "_raw", dict(data))
        return cast(M, instance)

    def to_dict(self) -> Dict[str, Any]:
        """The model as the API's JSON (camelCase keys); optional fields that are None are left out."""
        raw: Dict[str, Any] = self.__dict__.get("_raw", {})
        out = dict(raw)
        for f in self._wire_fields:
            value = getattr(self, f.attr)
            if value is None:
                if f.required or f.wire in raw:
                    out[f.wire] = None
                else:
                    out.pop(f.wire, None)
            else:
                out[f.wire] = f.shape.encode(value)
        return out

    @classmethod
    def _encode_mapping(cls, value: Mapping[str, Any]) -> Dict[str, Any]:
        """A dict a caller wrote for this schema, as JSON: snake_case or camelCase keys, values encoded."""
        out: Dict[str, Any] = {}
        for key, item in value.items():
            f = cls._wire_names.get(key)
            if f is None:
                out[str(key)] = encode_any(item)  # unknown to this SDK: the server decides
            else:
                out[f.wire] = None if item is None else f.shape.encode(item)
        return out


def wire(cls: Type[Model], fields: Iterable[Tuple[str, str, bool, Shape]]) -> None:
    """Declares how a generated model reads and writes JSON."""
    table = tuple(Field(*f) for f in fields)
    cls._wire_fields = table
    names: Dict[str, Field] = {}
    for f in table:
        names[f.wire] = f
        names[f.attr] = f
    cls._wire_names = names


def encode_body(cls: Type[Model], values: Mapping[str, Any]) -> Dict[str, Any]:
    """A request body from keyword arguments (attribute names), leaving out those NOT_GIVEN."""
    out: Dict[str, Any] = {}
    for attr, value in values.items():
        if value is NOT_GIVEN:
            continue
        f = cls._wire_names[attr]
        out[f.wire] = None if value is None else f.shape.encode(value)
    return out

"""Record definitions and mappers for vector collections (pure data, no I/O, no numpy).

A vector collection stores records of one shape, described by a :class:`RecordDefinition` (after the Semantic
Kernel vector store design): one **key** field (``str`` or ``int``), any number of **data** fields
(JSON values; ``filterable`` ones can appear in search filters, ``full_text`` ones are declared for hybrid
search) and one **vector** field with its ``dimensions`` and ``distance``.

A definition is written out explicitly, or derived from the annotations of a dataclass or pydantic model::

    @dataclass
    class Note:
        id: Annotated[str, KeyField()]
        text: Annotated[str, DataField(full_text=True)]
        lang: Annotated[str, DataField(filterable=True)]
        embedding: Annotated[list[float] | None, VectorField(dimensions=384)] = None

Fields without a marker are plain data fields; without a :class:`KeyField` marker, a field named ``id`` is the
key. A :class:`RecordMapper` turns user records into the generic dict form (field name -> value) and back; the
default mappers handle dicts, dataclasses and pydantic models, and any other mapper can be injected.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, TypeVar, Union, get_args, get_origin

from memstore._validate import check_identifier
from memstore.errors import ValidationError

__all__ = [
    "DISTANCES",
    "DataField",
    "Distance",
    "KeyField",
    "RecordDefinition",
    "RecordMapper",
    "VectorField",
    "default_mapper",
]

Distance = Literal["cosine", "dot", "euclidean"]
"""How vectors are compared. Every backend reports a score where **higher means more similar**: the
cosine similarity for ``cosine``, the dot product for ``dot``, and the negative Euclidean distance for
``euclidean``."""

DISTANCES: tuple[Distance, ...] = ("cosine", "dot", "euclidean")

MAX_DIMENSIONS = 65_536
"""Largest vector accepted (well above any embedding model in use)."""

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


def _check_field_name(name: object, what: str) -> str:
    text = check_identifier(name, what)
    if '"' in text:
        raise ValidationError(f'{what} must not contain a double quote ("), filters could not name it')
    return text


@dataclasses.dataclass(frozen=True)
class KeyField:
    """The record's key: a ``str`` (any id text) or an ``int`` (signed 64-bit).

    Used as an ``Annotated`` marker (``name`` then comes from the attribute) or in a RecordDefinition.
    """

    name: str | None = None
    key_type: type[str] | type[int] = str

    def __post_init__(self) -> None:
        if self.key_type not in (str, int):
            raise ValidationError(f"a key is a str or an int, not {self.key_type!r}")


@dataclasses.dataclass(frozen=True)
class DataField:
    """A data field holding any JSON value.

    ``filterable=True`` lets search filters name it (only declared fields can be filtered, so every backend
    indexes the same thing). ``full_text`` marks text meant for keyword search; it is stored in the definition
    for hybrid search and does not change how the field is stored.
    """

    name: str | None = None
    filterable: bool = False
    full_text: bool = False


@dataclasses.dataclass(frozen=True)
class VectorField:
    """The vector field: ``dimensions`` floats, compared with ``distance`` (see :data:`Distance`)."""

    name: str | None = None
    dimensions: int = 0
    distance: Distance = "cosine"

    def __post_init__(self) -> None:
        if (
            isinstance(self.dimensions, bool)
            or not isinstance(self.dimensions, int)
            or not 0 < self.dimensions <= MAX_DIMENSIONS
        ):
            raise ValidationError(f"VectorField.dimensions must be an int in 1..{MAX_DIMENSIONS}")
        if self.distance not in DISTANCES:
            raise ValidationError(f"VectorField.distance must be one of {', '.join(DISTANCES)}")


_Marker = KeyField | DataField | VectorField


@dataclasses.dataclass(frozen=True, init=False)
class RecordDefinition:
    """The shape of a collection's records: one key field, data fields, one vector field.

    A collection is bound to its definition when it is created; opening it later with a different definition
    raises :class:`~memstore.errors.ConflictError`. One vector field per collection is supported (Chroma holds
    one embedding per record).
    """

    key: KeyField
    vector: VectorField
    data: tuple[DataField, ...]

    def __init__(
        self, key: KeyField | str, vector: VectorField, data: Sequence[DataField | str] = ()
    ) -> None:
        key_field = KeyField(key) if isinstance(key, str) else key
        fields = tuple(DataField(item) if isinstance(item, str) else item for item in data)
        if not isinstance(key_field, KeyField) or not isinstance(vector, VectorField):
            raise ValidationError("RecordDefinition takes a KeyField (or name), a VectorField and DataFields")
        if not all(isinstance(item, DataField) for item in fields):
            raise ValidationError("RecordDefinition.data holds DataField objects or field names")
        names = [key_field.name, vector.name, *(item.name for item in fields)]
        for name in names:
            _check_field_name(name, "record field name")
        duplicates = sorted({str(name) for name in names if names.count(name) > 1})
        if duplicates:
            raise ValidationError(f"record field names must be unique; repeated: {', '.join(duplicates)}")
        object.__setattr__(self, "key", key_field)
        object.__setattr__(self, "vector", vector)
        object.__setattr__(self, "data", fields)

    # Derived names, computed once per definition (cached_property writes past the frozen dataclass).

    @functools.cached_property
    def key_name(self) -> str:
        return str(self.key.name)

    @functools.cached_property
    def vector_name(self) -> str:
        return str(self.vector.name)

    @functools.cached_property
    def data_names(self) -> tuple[str, ...]:
        return tuple(str(item.name) for item in self.data)

    @functools.cached_property
    def field_names(self) -> frozenset[str]:
        """Every field: key, vector and data."""
        return frozenset((self.key_name, self.vector_name, *self.data_names))

    @functools.cached_property
    def filterable(self) -> frozenset[str]:
        """Names of the data fields that search filters may use."""
        return frozenset(str(item.name) for item in self.data if item.filterable)

    def to_json(self) -> dict[str, Any]:
        """A JSON object that :meth:`from_json` turns back into an equal definition (stored by backends)."""
        return {
            "key": {"name": self.key.name, "type": "int" if self.key.key_type is int else "str"},
            "vector": {
                "name": self.vector.name,
                "dimensions": self.vector.dimensions,
                "distance": self.vector.distance,
            },
            "data": [
                {"name": item.name, "filterable": item.filterable, "full_text": item.full_text}
                for item in self.data
            ],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RecordDefinition:
        try:
            key = value["key"]
            vector = value["vector"]
            return cls(
                KeyField(key["name"], int if key["type"] == "int" else str),
                VectorField(vector["name"], vector["dimensions"], vector["distance"]),
                [DataField(item["name"], item["filterable"], item["full_text"]) for item in value["data"]],
            )
        except (KeyError, TypeError) as exc:
            raise ValidationError(f"not a stored record definition: {value!r}") from exc

    @classmethod
    def from_type(cls, record_type: type[Any]) -> RecordDefinition:
        """Derive the definition from a dataclass or pydantic model's annotations (see the module doc)."""
        names = _field_names(record_type)
        try:
            hints = typing.get_type_hints(record_type, include_extras=True)
        except Exception as exc:
            raise ValidationError(f"cannot read the annotations of {record_type.__name__}: {exc}") from exc
        keys: list[KeyField] = []
        vectors: list[VectorField] = []
        data: list[DataField] = []
        for name in names:
            annotation = hints.get(name, Any)
            markers = [m for m in getattr(annotation, "__metadata__", ()) if isinstance(m, _Marker)]
            if len(markers) > 1:
                raise ValidationError(f"{record_type.__name__}.{name} has more than one field marker")
            marker = markers[0] if markers else None
            if isinstance(marker, KeyField):
                keys.append(KeyField(name, _key_type(record_type, name, annotation)))
            elif isinstance(marker, VectorField):
                vectors.append(dataclasses.replace(marker, name=name))
            elif isinstance(marker, DataField):
                data.append(dataclasses.replace(marker, name=name))
            else:
                data.append(DataField(name))
        if not keys:
            implicit = [item for item in data if item.name == "id"]
            if not implicit:
                raise ValidationError(
                    f"{record_type.__name__} has no key: "
                    "mark one field Annotated[..., KeyField()] or name it id"
                )
            data.remove(implicit[0])
            keys.append(KeyField("id", _key_type(record_type, "id", hints.get("id", Any))))
        if len(keys) > 1:
            raise ValidationError(f"{record_type.__name__} has more than one KeyField")
        if len(vectors) != 1:
            raise ValidationError(
                f"{record_type.__name__} needs exactly one Annotated[..., VectorField(dimensions=...)] field"
            )
        return cls(keys[0], vectors[0], data)


def _is_pydantic_model(record_type: object) -> bool:
    return isinstance(record_type, type) and all(
        hasattr(record_type, attribute) for attribute in ("model_fields", "model_validate", "model_dump")
    )


def _field_names(record_type: object) -> list[str]:
    if isinstance(record_type, type) and dataclasses.is_dataclass(record_type):
        return [field.name for field in dataclasses.fields(record_type) if field.init]
    if _is_pydantic_model(record_type):
        return list(typing.cast(Any, record_type).model_fields)
    raise ValidationError(f"a record type is a dataclass or a pydantic model, not {record_type!r}")


def _key_type(record_type: type[Any], name: str, annotation: Any) -> type[str] | type[int]:
    bare = annotation
    while get_origin(bare) is typing.Annotated:
        bare = get_args(bare)[0]
    if get_origin(bare) in (Union, types.UnionType):
        options = [arg for arg in get_args(bare) if arg is not type(None)]
        bare = options[0] if len(options) == 1 else bare
    if bare in (str, int):
        return typing.cast("type[str] | type[int]", bare)
    raise ValidationError(f"{record_type.__name__}.{name}: a key is annotated str or int, not {annotation!r}")


class RecordMapper(Protocol[T]):
    """Converts user records to the generic dict form and back.

    The dict form maps field names to values: the key, each data field (absent when missing) and the vector as
    a list of floats (absent when a read did not ask for vectors). Inject one through ``get_collection(...,
    mapper=...)`` to store any record type.
    """

    def to_storage(self, record: T) -> Mapping[str, Any]:
        """The dict form of ``record``."""

    def from_storage(self, values: dict[str, Any]) -> T:
        """The record for the dict form ``values``."""


class _DictMapper:
    """Records are dicts in the generic form already."""

    def to_storage(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        if not isinstance(record, Mapping):
            raise ValidationError(f"this collection takes dict records, not {type(record).__name__}")
        return record

    def from_storage(self, values: dict[str, Any]) -> dict[str, Any]:
        return values


class _DataclassMapper:
    """Records are instances of one dataclass; a vector that was not read comes back as None."""

    def __init__(self, record_type: type[Any], definition: RecordDefinition) -> None:
        self._type = record_type
        self._names = [field.name for field in dataclasses.fields(record_type) if field.init]
        self._vector = definition.vector_name

    def to_storage(self, record: Any) -> Mapping[str, Any]:
        if not isinstance(record, self._type):
            raise ValidationError(
                f"this collection takes {self._type.__name__} records, not {type(record).__name__}"
            )
        return {name: getattr(record, name) for name in self._names}

    def from_storage(self, values: dict[str, Any]) -> Any:
        values.setdefault(self._vector, None)
        try:
            return self._type(**{name: values[name] for name in self._names if name in values})
        except TypeError as exc:
            raise ValidationError(f"cannot build {self._type.__name__} from a stored record: {exc}") from exc


class _PydanticMapper:
    """Records are instances of one pydantic model, dumped in JSON mode and validated on the way back."""

    def __init__(self, record_type: type[Any], definition: RecordDefinition) -> None:
        self._type: Any = record_type
        self._vector = definition.vector_name

    def to_storage(self, record: Any) -> Mapping[str, Any]:
        if not isinstance(record, self._type):
            raise ValidationError(
                f"this collection takes {self._type.__name__} records, not {type(record).__name__}"
            )
        values: dict[str, Any] = record.model_dump(mode="json", exclude={self._vector})
        values[self._vector] = getattr(record, self._vector)
        return values

    def from_storage(self, values: dict[str, Any]) -> Any:
        try:
            return self._type.model_validate(values)
        except Exception as exc:
            hint = ""
            if self._vector not in values:
                hint = (
                    f" (vectors were not read: declare {self._vector}: list[float] | None = None, or ask for "
                    "include_vectors=True)"
                )
            raise ValidationError(
                f"cannot build {self._type.__name__} from a stored record{hint}: {exc}"
            ) from exc


def default_mapper(record_type: type[Any] | None, definition: RecordDefinition | None) -> RecordMapper[Any]:
    """The mapper for dict records (``record_type=None``), a dataclass or a pydantic model."""
    if record_type is None:
        return _DictMapper()
    if definition is None:
        definition = RecordDefinition.from_type(record_type)
    if dataclasses.is_dataclass(record_type):
        return _DataclassMapper(record_type, definition)
    if _is_pydantic_model(record_type):
        return _PydanticMapper(record_type, definition)
    raise ValidationError(f"no default mapper for {record_type!r}: pass mapper=...")

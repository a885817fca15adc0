"""Checks of LangGraph store operations and configs: bad input raises before anything is written."""

from __future__ import annotations

import math
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    ListNamespacesOp,
    Op,
    PutOp,
    SearchOp,
    TTLConfig,
    validate_op_namespace,
)
from langgraph.store.base.embed import ensure_embeddings, tokenize_path

from langchain_memstore.embeddings import MemstoreEmbeddings
from langchain_memstore.graph._filter import COMPARISONS, OPERATORS, is_number
from memstore import ValidationError, as_embedder
from memstore.validation import check_count

__all__ = [
    "check_condition",
    "check_index_config",
    "check_json",
    "check_minutes",
    "check_page",
    "check_ttl_config",
    "validate_op",
]

_TTL_KEYS = {"default_ttl", "refresh_on_read", "sweep_interval_minutes", "omit_expired"}
_INDEX_KEYS = {"dims", "embed", "fields"}


def validate_op(op: Op) -> None:
    if not isinstance(op, GetOp | SearchOp | ListNamespacesOp | PutOp):
        raise ValidationError(f"unknown LangGraph store operation: {type(op).__name__}")
    validate_op_namespace(op)
    if isinstance(op, SearchOp):
        check_page(op.limit, op.offset)
        if op.filter is not None:
            if not isinstance(op.filter, Mapping):
                raise ValidationError(f"search filter must be a dict, not {type(op.filter).__name__}")
            for field, condition in op.filter.items():
                if not isinstance(field, str):
                    raise ValidationError(f"filter fields are str, not {field!r}")
                check_condition(condition, f"filter[{field!r}]")
    elif isinstance(op, ListNamespacesOp):
        check_page(op.limit, op.offset)
        for condition in op.match_conditions or ():
            if condition.match_type not in ("prefix", "suffix"):
                raise ValidationError(f"match_type is 'prefix' or 'suffix', not {condition.match_type!r}")
        if op.max_depth is not None:
            check_count(op.max_depth, "max_depth", minimum=1)
    elif isinstance(op, PutOp):
        if not op.namespace:
            raise InvalidNamespaceError("Namespace cannot be empty.")
        if op.ttl is not None:
            check_minutes(op.ttl, "ttl")
        index: object = op.index  # typed list[str] | False | None, but callers pass anything
        if (
            index is not None
            and index is not False
            and (
                isinstance(index, str)
                or not isinstance(index, Iterable)
                or not all(isinstance(path, str) for path in index)
            )
        ):
            raise ValidationError(f"a put's index is False, None or a list of str paths, not {op.index!r}")
        if op.value is not None:
            if not isinstance(op.value, Mapping):
                raise ValidationError(f"an item value is a dict, not {type(op.value).__name__}")
            check_json(op.value, "item value")
    if not isinstance(op, SearchOp | ListNamespacesOp) and not isinstance(op.key, str):
        raise ValidationError(f"an item key is a str, not {type(op.key).__name__}")


def check_minutes(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValidationError(f"{what} is a positive number of minutes, not {value!r}")


def check_index_config(
    config: object,
) -> tuple[IndexConfig | None, Embeddings | None, list[tuple[str, Any]]]:
    if config is None:
        return None, None, []
    if not isinstance(config, Mapping):
        raise ValidationError(f"index is an IndexConfig dict, not {type(config).__name__}")
    unknown = sorted(str(name) for name in config if name not in _INDEX_KEYS)
    if unknown:
        raise ValidationError(f"unknown index settings: {', '.join(unknown)}")
    check_count(config.get("dims"), "index dims", minimum=1)
    if config.get("embed") is None:
        raise ValidationError(
            "index needs embed: a LangChain Embeddings, a function or a 'provider:model' str"
        )
    fields = config.get("fields") or ["$"]
    if isinstance(fields, str) or not all(isinstance(field, str) for field in fields):
        raise ValidationError("index fields are a list of str paths")
    embed = config["embed"]
    embeddings: Embeddings
    if isinstance(embed, Embeddings | str):
        embeddings = ensure_embeddings(embed)
    else:
        try:  # a memstore Embedder, a LlamaIndex BaseEmbedding: whatever the core recognises
            embeddings = MemstoreEmbeddings(as_embedder(embed))
        except ValidationError:  # a plain function, as LangGraph's stores take
            embeddings = ensure_embeddings(embed)
    tokenized = [(path, path if path == "$" else tokenize_path(path)) for path in fields]
    return typing.cast(IndexConfig, {**config, "fields": list(fields)}), embeddings, tokenized


def check_ttl_config(config: object) -> TTLConfig | None:
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise ValidationError(f"ttl is a TTLConfig dict, not {type(config).__name__}")
    unknown = sorted(str(name) for name in config if name not in _TTL_KEYS)
    if unknown:
        raise ValidationError(f"unknown TTL settings: {', '.join(unknown)}")
    for name in ("default_ttl", "sweep_interval_minutes"):
        if config.get(name) is not None:
            check_minutes(config[name], name)
    for name in ("refresh_on_read", "omit_expired"):
        if name in config and not isinstance(config[name], bool):
            raise ValidationError(f"{name} is a bool, not {config[name]!r}")
    if config.get("omit_expired") is False:
        raise ValidationError("omit_expired=False is not supported: expired items are never returned")
    return typing.cast(TTLConfig, dict(config))


def check_page(limit: object, offset: object) -> None:
    check_count(limit, "limit", minimum=0)
    check_count(offset, "offset", minimum=0)


def check_json(value: Any, where: str) -> None:
    """Plain JSON only, so an item reads back equal to what was put (tuples come back as lists)."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{where} holds {value!r}, which JSON cannot store")
        return
    if isinstance(value, list | tuple):
        for index, part in enumerate(value):
            check_json(part, f"{where}[{index}]")
        return
    if isinstance(value, Mapping):
        for key, part in value.items():
            if not isinstance(key, str):
                raise ValidationError(f"{where} has the non-str key {key!r}; JSON keys are strings")
            check_json(part, f"{where}[{key!r}]")
        return
    raise ValidationError(f"{where} holds a {type(value).__name__}, which is not JSON")


def check_condition(condition: Any, where: str) -> None:
    if isinstance(condition, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in condition):
        for name, operand in condition.items():
            if name not in OPERATORS:
                known = ", ".join(sorted(OPERATORS))
                raise ValidationError(f"{where}: unknown operator {name!r} (known: {known})")
            if name in COMPARISONS:
                # An infinite bound is a plain comparison (stored numbers are finite), as InMemoryStore
                # accepts it; NaN compares false with everything, so it would silently match nothing.
                if not (is_number(operand) or isinstance(operand, str)) or operand != operand:
                    raise ValidationError(
                        f"{where}: {name} compares with a number (±inf allowed) or a string, not {operand!r}"
                    )
                if isinstance(operand, str):
                    check_json(operand, f"{where}[{name!r}]")
            else:
                check_json(operand, f"{where}[{name!r}]")
    elif isinstance(condition, Mapping):
        for key, part in condition.items():
            if not isinstance(key, str):
                raise ValidationError(f"{where} has the non-str key {key!r}")
            check_condition(part, f"{where}[{key!r}]")
    elif isinstance(condition, list | tuple):
        for index, part in enumerate(condition):
            check_condition(part, f"{where}[{index}]")
    else:
        check_json(condition, where)

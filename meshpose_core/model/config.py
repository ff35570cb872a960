"""Overriding nested config dataclasses from plain values (JSON/YAML dicts, CLI kwargs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def config_replace(base: T, overrides: Mapping[str, Any]) -> T:
    """A copy of dataclass ``base`` with ``overrides`` applied, recursing into nested configs.

    A dict given for a field whose current value is a dataclass overrides only the keys it
    names (``{"decoder": {"blocks": 2}}`` keeps the decoder's width); lists become tuples
    where the current value is a tuple. Unknown keys raise TypeError listing the valid ones.
    """
    names = {f.name for f in dataclasses.fields(base)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"{type(base).__name__} has no fields {unknown}; valid: {sorted(names)}")
    values: dict[str, Any] = {}
    for key, value in overrides.items():
        current = getattr(base, key)
        if dataclasses.is_dataclass(current) and isinstance(value, Mapping):
            value = config_replace(current, value)
        elif isinstance(current, tuple) and isinstance(value, list):
            value = tuple(value)
        values[key] = value
    return dataclasses.replace(base, **values)  # type: ignore[type-var]

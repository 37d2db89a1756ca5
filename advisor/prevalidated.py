"""Building pydantic models from values that are already valid, without validating them again.

The request path builds ~100 answers per request from validated queries, floats and text;
validating each again cost more than scoring them. `construct` sets BaseModel's four slots as
`model_construct` does, through their descriptors (about half its cost); every field must be given.
Tests check the objects equal validated ones (tests/advisor/test_costmodel_fastpath.py).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def construct(cls: type[M], fields: dict[str, Any]) -> M:
    """`cls(**fields)` for fields that are already valid and complete (no defaults are filled)."""
    obj = _new(cls)
    _set_dict(obj, fields)
    _set_fields_set(obj, set(fields))
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj

"""Hypothesis strategies that draw JSON values from a JSON Schema (the subset the app's OpenAPI uses):
``$ref``, ``const``, ``enum``, ``anyOf``/``oneOf``, the JSON types with their bounds, arrays, objects with
``required``/``properties``/``additionalProperties``. Nesting is bounded, so examples stay small."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

JSON_SCALARS = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False,
                                                                                  allow_infinity=False) | st.text(
    max_size=12)
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


def from_schema(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> st.SearchStrategy:
    if "$ref" in schema:
        return from_schema(components[schema["$ref"].rsplit("/", 1)[1]], components, depth)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if depth < 2 or s.get("title") != "residual"]
            return st.one_of([from_schema(s, components, depth) for s in options])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, components, depth) for k in kind])
    if kind == "number":
        lo, hi = schema.get("minimum", schema.get("exclusiveMinimum")), schema.get("maximum",
                                                                                  schema.get("exclusiveMaximum"))
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False, exclude_min="exclusiveMinimum" in schema,
                         exclude_max="exclusiveMaximum" in schema) | st.integers(
            int(lo) if lo is not None else -100, int(hi) if hi is not None else 100).filter(
            lambda v: ("exclusiveMinimum" not in schema or v > lo) and ("exclusiveMaximum" not in schema or v < hi))
    if kind == "integer":
        return st.integers(int(schema.get("minimum", -10**6)), int(min(schema.get("maximum", 10**6), 10**9)))
    if kind == "string":
        return st.text(max_size=12)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = from_schema(schema.get("items", {}), components, depth + 1)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 4), 4))
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = {k: from_schema(props[k], components, depth + 1) for k in schema.get("required", [])}
        optional = {k: from_schema(v, components, depth + 1) for k, v in props.items() if k not in required}
        fixed = st.fixed_dictionaries(required, optional=optional)
        extra = schema.get("additionalProperties", not props)
        if extra is False or extra is None:
            return fixed
        values = ANY_JSON if extra is True else from_schema(extra, components, depth + 1)
        return st.tuples(fixed, st.dictionaries(st.text(min_size=1, max_size=6), values, max_size=3)).map(
            lambda pair: {**pair[1], **pair[0]})
    return ANY_JSON  # no type: anything

"""Qdrant's OpenAPI spec (../shared/ref) as JSON Schema validators of response bodies, for the
API tests that check vqdb's answers against it (they skip where the spec is not at hand)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from shared_data import DATA_ROOT

SPEC = DATA_ROOT.parent / "ref" / "qdrant-openapi.json"


def load() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip(f"Qdrant's spec is not at {SPEC}")
    spec: dict[str, Any] = json.loads(SPEC.read_text())
    return spec


def problems(spec: dict[str, Any], method: str, template: str, body: Any) -> list[str]:
    """Where a 200 response body of that operation departs from the spec (formats such as
    date-time and uuid checked too, as schemathesis checks them in Qdrant's own tests)."""
    described = spec["paths"][template][method]["responses"]["200"]
    schema = described["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator(
        {**nullable(schema), "components": nullable(spec["components"])},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]


def nullable(schema: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema's type list."""
    if isinstance(schema, list):
        return [nullable(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: nullable(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif out:
            out = {"anyOf": [out, {"type": "null"}]}
        else:
            out = {}
    return out

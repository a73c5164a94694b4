"""``/api/v1/openapi.json`` and the human-readable API page ``/api/v1/docs``.

The page is rendered on the server from the OpenAPI document itself (Jinja2, no scripts, no
CDN), so what people read is what machines read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse
from starlette.routing import Route

from .openapi import build_openapi
from .operations import Operation, json_response

TEMPLATES = Path(__file__).parent / "templates"
METHOD_ORDER = {"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}


def docs_routes(ops: list[Operation]) -> list[Route]:
    cache: dict[str, Any] = {}

    def document() -> dict:
        if "doc" not in cache:
            cache["doc"] = build_openapi(ops)
        return cache["doc"]

    async def openapi_json(request):
        return json_response(document())

    async def api_page(request):
        if "html" not in cache:
            cache["html"] = render_page(document())
        return HTMLResponse(cache["html"])

    return [
        Route("/openapi.json", openapi_json, methods=["GET"], name="openapi"),
        Route("/docs", api_page, methods=["GET"], name="api_docs"),
    ]


def render_page(doc: dict) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return env.get_template("api_docs.html").render(doc=doc, operations=page_operations(doc), codes=error_codes(doc))


def page_operations(doc: dict) -> list[dict]:
    """Operations with examples made from their schemas, grouped by tag in document order."""
    schemas = doc["components"]["schemas"]
    out = []
    for path, methods in doc["paths"].items():
        for method, op in sorted(methods.items(), key=lambda kv: METHOD_ORDER.get(kv[0], 9)):
            body = op.get("requestBody")
            body_schema = _resolve(body["content"]["application/json"]["schema"], schemas) if body else None
            responses = []
            for status, resp in op["responses"].items():
                schema = resp["content"]["application/json"]["schema"]
                if status.startswith("2"):
                    example = example_of(schema, schemas)
                else:
                    first = (resp.get("x-error-codes") or ["error"])[0]
                    message = resp["description"].split("; ")[0].split(": ", 1)[-1]
                    example = {"error": {"code": first, "message": message}}
                responses.append({"status": status, "description": resp["description"],
                                  "codes": resp.get("x-error-codes", []),
                                  "example": json.dumps(example, ensure_ascii=False, indent=2)})
            out.append({
                "id": op["operationId"],
                "method": method.upper(),
                "path": path,
                "summary": op["summary"],
                "description": op.get("description", ""),
                "tag": op["tags"][0],
                "auth": bool(op.get("security")),
                "parameters": [
                    {"name": p["name"], "in": p["in"], "required": p["required"], "type": _type_text(p["schema"]),
                     "description": p.get("description", "")}
                    for p in op["parameters"]
                ],
                "body_fields": _fields(body_schema, schemas) if body_schema else [],
                "body_example": json.dumps(example_of(body_schema, schemas), ensure_ascii=False, indent=2)
                if body_schema else "",
                "responses": responses,
            })
    return out


def error_codes(doc: dict) -> list[dict]:
    """Every error code of the API with its statuses and where it occurs."""
    table: dict[str, dict] = {}
    for methods in doc["paths"].values():
        for op in methods.values():
            for status, resp in op["responses"].items():
                for code in resp.get("x-error-codes", []):
                    entry = table.setdefault(code, {"code": code, "statuses": set(), "operations": []})
                    entry["statuses"].add(status)
                    if op["operationId"] not in entry["operations"]:
                        entry["operations"].append(op["operationId"])
    return [
        {**e, "statuses": ", ".join(sorted(e["statuses"]))} for e in sorted(table.values(), key=lambda e: e["code"])
    ]


def _resolve(schema: dict, schemas: dict) -> dict:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _type_text(schema: dict) -> str:
    if schema.get("type") == "object" and "properties" in schema:  # a form-exploded group of parameters
        names = ", ".join(f"{k}: {_type_text(v)}" for k, v in schema["properties"].items())
        return f"{names} (at least one)" if "anyOf" in schema else names
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(_type_text(s) for s in schema["anyOf"])
    t = schema.get("type", "any")
    if schema.get("format"):
        t += f" ({schema['format']})"
    if "$ref" in schema:
        t = schema["$ref"].rsplit("/", 1)[-1]
    if t == "array":
        t = f"array of {_type_text(schema.get('items', {}))}"
    return t


def _fields(schema: dict, schemas: dict) -> list[dict]:
    required = set(schema.get("required", []))
    return [
        {"name": name, "type": _type_text(prop), "required": name in required, "description": prop.get("description", "")}
        for name, prop in schema.get("properties", {}).items()
    ]


def example_of(schema: dict, schemas: dict, depth: int = 0) -> Any:
    """A plausible value for a schema: its examples first, else something of its type."""
    schema = _resolve(schema, schemas)
    for key in ("examples", "example"):
        if key in schema:
            value = schema[key]
            return value[0] if key == "examples" and isinstance(value, list) and value else value
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "anyOf" in schema:
        variants = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return example_of(variants[0], schemas, depth) if variants else None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        return {k: example_of(v, schemas, depth + 1) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [example_of(schema.get("items", {}), schemas, depth + 1)] if depth <= 4 else []
    fmt = schema.get("format")
    return {
        "integer": schema.get("minimum", 1),
        "number": 1.0,
        "boolean": True,
        "string": {"date": "2025-03-01", "date-time": "2025-03-01T00:30:00Z"}.get(fmt, "…"),
    }.get(kind)

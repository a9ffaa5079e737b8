"""The OpenAPI 3.1 document, built from the registered operations and their schemas."""

from flask import jsonify

from .. import accepts
from . import OPERATIONS, api
from .items import ITEM_FIELDS
from .schema import to_openapi

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "field": {"type": "string"}}}}}


def components() -> dict:
    item = to_openapi(ITEM_FIELDS)
    item["properties"]["locations_needing_cycle_count"] = {"type": "integer"}
    item["additionalProperties"] = True
    from . import extra_schemas

    return {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "responses": {"Error": {"description": "Refused; nothing changed", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        "schemas": {
            "Error": ERROR,
            "Item": item,
            "ItemPage": {"type": "object", "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                "page": {"type": "integer"}, "pages": {"type": "integer"},
                "total": {"type": "integer"}}},
            "Settings": {"type": "object", "properties": {
                "require_lot_serial_at_pack": {"type": "boolean"}}},
            **extra_schemas(),
        },
    }


@api.get("/openapi.json")
@accepts()
def openapi():
    paths: dict = {}
    for (method, path), op in sorted(OPERATIONS.items(), key=lambda kv: kv[0][1]):
        paths.setdefault(path, {})[method] = op
    return jsonify({
        "openapi": "3.1.0",
        "info": {"title": "Lotline API", "version": "1.0.0",
                 "description": "Lot tracking and lot recording. Errors are "
                                "{\"error\": {\"code\", \"message\"}} with a stable code."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": components(),
    })

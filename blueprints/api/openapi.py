"""The OpenAPI 3.1 document, built from the registered operations and their models."""

from pydantic import ConfigDict, Field
from pydantic.json_schema import models_json_schema

from .. import accepts
from . import MODELS, OPERATIONS, api
from .bodies import Answer


class ErrorDetail(Answer):
    """Why a request was refused. Some codes say more, by name (``available``, ``remaining``,
    ``retry_after``)."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable and machine-readable")
    message: str = Field(description="For a person")
    field: str = Field(None, description="The field, parameter or header at fault")


class Error(Answer):
    """Refused; nothing changed."""

    error: ErrorDetail


def components() -> dict:
    models = sorted({*MODELS, Error}, key=lambda m: m.__name__)
    _, schemas = models_json_schema(
        [(m, "validation" if m is not Error and not issubclass(m, Answer) else "serialization")
         for m in models], ref_template="#/components/schemas/{model}")
    return {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "responses": {"Error": {"description": "Refused; nothing changed", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        "schemas": schemas["$defs"],
    }


@api.get("/openapi.json")
@accepts()
def openapi():
    paths: dict = {}
    for (method, path), op in sorted(OPERATIONS.items(), key=lambda kv: kv[0][1]):
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Lotline API", "version": "1.0.0",
                 "description": "Lot tracking and lot recording. Errors are "
                                "{\"error\": {\"code\", \"message\"}} with a stable code."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": components(),
    }

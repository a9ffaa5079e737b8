"""The API's request and response bodies, declared once as Pydantic models.

A request model validates its body strictly (no type is coerced, an unknown field is refused)
and a response model checks what is sent; the JSON Schema of each is what the OpenAPI document
says, so the document is what the API checks. Patterns are the domain's own rules, written
with ASCII classes only (``\\w`` would take any script's letters)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic import ValidationError as PydanticError
from pydantic_core import PydanticCustomError

from lotline.commands import refuse_command
from lotline.errors import ValidationError
from lotline.gtin import normalize_gtin
from lotline.inventory.rules import LOT_INPUT_RE, MAX_QTY
from lotline.items import SKU_RE
from lotline.locations import CODE_RE
from lotline.models import ORDER_STATUSES
from lotline.orders import NUMBER_INPUT_RE
from lotline.text import check_free_text, free_text_pattern


def matching(regex, message: str, description: str = "", *, also=None):
    """A string that must match ``regex`` (a domain rule, checked whole), refused with
    ``message``; ``also(value)`` is a further domain check that raises its own refusal. The
    document states the pattern."""

    def check(value: str) -> str:
        if also is not None:
            also(value)
        if not regex.fullmatch(value):
            raise PydanticCustomError("text_rule", message)
        return value

    schema = {"type": "string", "pattern": regex.pattern}
    return Annotated[str, AfterValidator(check),
                     WithJsonSchema({**schema, "description": description} if description
                                    else schema)]


def free_text(max_length: int, *, lines: bool = False, required: bool = False,
              description: str = ""):
    """Free text, checked by the domain's own rule (:func:`lotline.text.check_free_text`:
    no control or bidirectional character; a line break, LF or CR LF, only where ``lines``);
    with ``required``, something besides spaces. The document states it as a pattern."""

    def check(value: str, info: ValidationInfo) -> str:
        name = info.field_name or "The text"
        if required and not value.strip():
            raise PydanticCustomError("text_rule", f"{name} needs something besides spaces.")
        try:
            check_free_text(value.replace("\r\n", "\n") if lines else value, field=name,
                            label=name, lines=lines)
        except ValidationError as exc:
            raise PydanticCustomError("text_rule", exc.message) from None
        return value

    schema = {"type": "string", "maxLength": max_length,
              "pattern": free_text_pattern(lines=lines, required=required)}
    if description:
        schema["description"] = description
    return Annotated[str, Field(max_length=max_length), AfterValidator(check),
                     WithJsonSchema(schema)]


Sku = matching(SKU_RE, "A SKU has 1 to 64 letters, digits or . _ / - and starts with a "
               "letter or digit.", "SKU or GTIN")
LocationCode = matching(CODE_RE, "A location code has 1 to 32 letters, digits or . _ / - and "
                        "starts with a letter or digit.", "Location code (the label's barcode)")
OrderNumber = matching(NUMBER_INPUT_RE, "A number has 1 to 32 letters, digits or . _ / - and "
                       "starts with a letter or digit (kept in capitals).")
LotNumber = matching(LOT_INPUT_RE, "A lot number has 1 to 64 printable characters and no "
                     "spaces.", "The lot number",
                     also=lambda value: refuse_command(value, "lot number", "lot"))


def _whole(value):
    """JSON Schema counts 3.0 as an integer; so does the API (never true, never "3")."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def whole_number(low: int, high: int, description: str = ""):
    """An integer from ``low`` to ``high``, written 3 or 3.0."""
    return Annotated[int, Field(ge=low, le=high, description=description or None),
                     BeforeValidator(_whole)]


Qty = whole_number(1, MAX_QTY)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _date(value) -> dt.date:
    """YYYY-MM-DD and nothing else (Pydantic's own date also reads "86400" as 1970-01-02)."""
    try:
        if isinstance(value, str) and _DATE.fullmatch(value):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise PydanticCustomError("text_rule", "A date is written YYYY-MM-DD.")


Expiry = Annotated[dt.date, BeforeValidator(_date),
                   WithJsonSchema({"type": "string", "format": "date",
                                   "description": "Lot expiry, YYYY-MM-DD"})]
_GTIN = re.compile(r"^(?:[0-9]{8}|[0-9]{12,14})$")


def _gtin(value: str) -> str:
    """8, 12, 13 or 14 digits (the pattern), then its check digit (lotline.gtin), as 14."""
    if not _GTIN.fullmatch(value):
        raise PydanticCustomError("text_rule", "A GTIN has 8, 12, 13 or 14 digits.")
    return normalize_gtin(value)


Gtin = Annotated[str, AfterValidator(_gtin),
                 WithJsonSchema({"type": "string", "format": "gtin", "pattern": _GTIN.pattern,
                                 "description": "GTIN-8/12/13/14 with a valid GS1 check "
                                                "digit; stored as 14 digits"})]


def _no_null_default(schema: dict) -> None:
    """A field left out is not set (a PATCH leaves it as it is); it has no default to state."""
    for field in schema.get("properties", {}).values():
        if field.get("default", ...) is None:
            del field["default"]


class Body(BaseModel):
    """A request body: strict types (``"5"`` is not a number, ``true`` is not 1), no unknown
    field."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_no_null_default)


class Answer(BaseModel):
    """A response body: what the API sends, checked against what the document says."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_default)


class Line(Body):
    """An order's or a purchase order's line."""

    sku: Sku
    qty: Qty


# Each SKU once: a rule JSON Schema cannot state (uniqueItems compares whole lines), so the
# description says it and schemathesis.toml lists its 422.
Lines = Annotated[list[Line], Field(min_length=1, max_length=500,
                                    description="Each SKU on one line only: a SKU given "
                                                "twice is refused (add the quantities)")]


def parse(model: type[Body], raw: bytes) -> dict:
    """The JSON document ``raw`` checked against ``model``: the fields that were sent, as
    plain values (a PATCH changes only those). A refusal names the first field at fault.
    The app's JSON parser has read it first (a key given twice, nesting too deep)."""
    try:
        body = model.model_validate_json(raw, strict=True)
    except PydanticError as exc:
        raise _refusal(exc.errors(include_url=False)[0]) from None
    return body.model_dump(exclude_unset=True)


def _refusal(error: dict) -> ValidationError:
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}"
                    for part in error["loc"]).lstrip(".")
    kind, ctx = error["type"], error.get("ctx", {})
    name = where or "The body"
    message = {
        "missing": f"{name} is required.",
        "extra_forbidden": f"Unknown field: {name}.",
        "model_type": f"{name} must be a JSON object.",
        "model_attributes_type": f"{name} must be a JSON object.",
        "text_rule": (error["msg"] if error["msg"].startswith(name) else
                      f"{name}: {error['msg']}"),
        "too_short": f"{name} needs at least {ctx.get('min_length')} entry.",
        "literal_error": f"{name} is one of {ctx.get('expected')}.",
    }.get(kind, f"{name}: {error['msg']}.")
    return ValidationError(message.rstrip(": "), field=where or None)



TokenPrefix = Annotated[str, Field(pattern=r"^[0-9a-f]{8}$",
                                   description="The token's public part: ll_<prefix>_…")]
Username = free_text(64, required=True)
# A path parameter's rule, by its name in the route.
PATH_PARAMETERS = {"sku": Sku, "number": OrderNumber, "lot": LotNumber,
                   "prefix": TokenPrefix, "username": Username}


def path_schema(name: str) -> dict:
    return TypeAdapter(PATH_PARAMETERS[name]).json_schema()


Page = matching(re.compile(r"^[1-9][0-9]{0,8}$"), "A page is a whole number from 1.",
               "A page, from 1")
SearchText = free_text(100)
# A query parameter's rule, by its name (the same name means the same thing everywhere).
QUERY_PARAMETERS = {"q": SearchText, "page": Page, "sku": Sku, "location": LocationCode,
                    "lot": LotNumber, "status": Literal[ORDER_STATUSES]}


# Built once: a TypeAdapter costs more to build than a request takes to check.
_QUERY_ADAPTERS = {name: TypeAdapter(kind) for name, kind in QUERY_PARAMETERS.items()}


def query(name: str, description: str = "") -> dict:
    """An optional query parameter, as the document states it (:data:`QUERY_PARAMETERS`)."""
    out = {"name": name, "in": "query", "required": False,
           "schema": TypeAdapter(QUERY_PARAMETERS[name]).json_schema()}
    if description:
        out["description"] = description
    return out


def query_value(name: str, raw: str | None):
    """A query parameter's value checked against its rule, or None when it was left out; an
    empty or malformed one is refused, naming the parameter."""
    if raw is None:
        return None
    try:
        return _QUERY_ADAPTERS[name].validate_python(raw, strict=True)
    except PydanticError as exc:
        raise _refusal({**exc.errors(include_url=False)[0], "loc": (name,)}) from None

"""Request-body schemas: one declaration validates a body and documents it in OpenAPI."""

from __future__ import annotations

from dataclasses import dataclass, field

from lotline.errors import ValidationError

_TYPES = {str: "string", int: "integer", bool: "boolean", list: "array", dict: "object"}


@dataclass
class Field:
    type: type
    required: bool = False
    nullable: bool = False
    enum: tuple | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    items: dict | None = None  # for list: a schema of each object
    description: str = ""
    extra: dict = field(default_factory=dict)

    def openapi(self) -> dict:
        out: dict = {"type": _TYPES[self.type]}
        if self.nullable:
            out["type"] = [out["type"], "null"]
        if self.enum:
            out["enum"] = list(self.enum)
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.items is not None:
            out["items"] = to_openapi(self.items)
            out["minItems"] = 1
        if self.description:
            out["description"] = self.description
        return {**out, **self.extra}


def to_openapi(schema: dict[str, Field]) -> dict:
    out = {"type": "object", "additionalProperties": False,
           "properties": {name: f.openapi() for name, f in schema.items()}}
    required = [name for name, f in schema.items() if f.required]
    if required:
        out["required"] = required
    return out


def _check(name: str, f: Field, value):
    if value is None:
        if f.nullable:
            return None
        raise ValidationError(f"{name} may not be null.", field=name)
    ok = isinstance(value, f.type) and not (f.type is int and isinstance(value, bool))
    if not ok:
        raise ValidationError(f"{name} must be a {_TYPES[f.type]}.", field=name)
    if f.enum and value not in f.enum:
        raise ValidationError(f"{name} must be one of {', '.join(map(str, f.enum))}.", field=name)
    if f.max_length is not None and len(value) > f.max_length:
        raise ValidationError(f"{name} has at most {f.max_length} characters.", field=name)
    if f.minimum is not None and value < f.minimum:
        raise ValidationError(f"{name} must be at least {f.minimum}.", field=name)
    if f.maximum is not None and value > f.maximum:
        raise ValidationError(f"{name} must be at most {f.maximum}.", field=name)
    if f.type is list:
        if not value:
            raise ValidationError(f"{name} needs at least one entry.", field=name)
        return [parse(f.items, entry, prefix=f"{name}[{i}].") for i, entry in enumerate(value)]
    return value


def parse(schema: dict[str, Field], data, prefix: str = "") -> dict:
    """Validate a JSON object against ``schema``; unknown fields and wrong types are refused."""
    if not isinstance(data, dict):
        raise ValidationError(f"{prefix or 'The body'} must be a JSON object.")
    unknown = sorted(set(data) - set(schema))
    if unknown:
        raise ValidationError(f"Unknown field(s): {', '.join(prefix + u for u in unknown)}.",
                              field=prefix + unknown[0])
    out = {}
    for name, f in schema.items():
        if name not in data:
            if f.required:
                raise ValidationError(f"{prefix}{name} is required.", field=prefix + name)
            continue
        out[name] = _check(prefix + name, f, data[name])
    return out

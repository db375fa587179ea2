"""Response objects -> PascalCase JSON, and their JSON Schema (for the OpenAPI document).

Handlers return frozen dataclasses with snake_case fields; the wire name of a field is
its PascalCase form with the DICOM abbreviations kept upper-case
(``study_instance_uid`` -> ``StudyInstanceUID``, ``ae_title`` -> ``AETitle``). A
``dict`` value is passed through as it is (DICOM JSON).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, Union

_ABBREVIATIONS = {"uid": "UID", "sop": "SOP", "ae": "AE"}


def wire_name(field: str) -> str:
    return "".join(_ABBREVIATIONS.get(part, part.capitalize()) for part in field.split("_"))


@functools.cache
def _wire_fields(cls: type) -> tuple[tuple[str, str], ...]:
    return tuple((field.name, wire_name(field.name)) for field in dataclasses.fields(cls))


def to_wire(value: object) -> Any:
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {wire: to_wire(getattr(value, name)) for name, wire in _wire_fields(type(value))}
    return value


def json_schema(tp: object, components: dict[str, Any]) -> dict[str, Any]:
    """The schema of a type hint; dataclasses go to ``components`` and are referenced."""
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        name = tp.__name__
        if name not in components:
            components[name] = {}  # placeholder: stops recursion
            hints = typing.get_type_hints(tp)
            fields = dataclasses.fields(tp)
            components[name] = {
                "type": "object",
                "properties": {
                    wire_name(f.name): json_schema(hints[f.name], components) for f in fields
                },
                "required": [wire_name(f.name) for f in fields],
            }
            if tp.__doc__ and not tp.__doc__.startswith(f"{name}("):
                components[name]["description"] = tp.__doc__.strip()
        return {"$ref": f"#/components/schemas/{name}"}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        options = [json_schema(arg, components) for arg in args if arg is not type(None)]
        schema = options[0] if len(options) == 1 else {"anyOf": options}
        if type(None) in args:
            if set(schema) == {"type"} and isinstance(schema["type"], str):
                return {"type": [schema["type"], "null"]}
            return {"anyOf": [schema, {"type": "null"}]}
        return schema
    if origin in (list, tuple):
        item = args[0] if args else Any
        return {"type": "array", "items": json_schema(item, components)}
    if origin is dict or tp is dict or tp is Any:
        return {"type": "object"}
    simple = {str: "string", bool: "boolean", int: "integer", float: "number"}
    if isinstance(tp, type) and tp in simple:
        return {"type": simple[tp]}
    return {}

"""Read one number out of a JSON document with a JSONPath or JMESPath expression."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext import parse as parse_jsonpath

from connectors.base import AmbiguousResult, NoData, QueryRejected

if TYPE_CHECKING:
    from jmespath.parser import ParsedResult
    from jsonpath_ng import JSONPath

PathLanguage = Literal["jsonpath", "jmespath"]


class NonFinite:
    """Stands for a JSON `NaN`/`Infinity` literal or a number too large for a float."""

    def __init__(self, literal: str) -> None:
        self.literal = literal

    def __repr__(self) -> str:
        return self.literal


def parse_json(text: str) -> Any:
    """Parse a JSON document, keeping non-finite numbers as `NonFinite` markers.

    Python's json module accepts `NaN` and `Infinity` (not JSON) and turns `1e999` into
    inf. Marking them instead of failing the whole document means only a path that
    selects one of them is refused.
    """
    return json.loads(text, parse_constant=NonFinite, parse_float=_parse_float)


def _parse_float(literal: str) -> float | NonFinite:
    value = float(literal)
    return value if math.isfinite(value) else NonFinite(literal)


@lru_cache(maxsize=256)
def _compiled_jsonpath(expression: str) -> JSONPath:
    # The ext parser adds filters (`[?(@.name == "x")]`) and `len`, common in API payloads.
    return parse_jsonpath(expression)


@lru_cache(maxsize=256)
def _compiled_jmespath(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def check_expression(language: PathLanguage, expression: str) -> None:
    """Raise ValueError when `expression` is not valid in `language`."""
    try:
        if language == "jsonpath":
            _compiled_jsonpath(expression)
        else:
            _compiled_jmespath(expression)
    except (JSONPathError, JMESPathError, ValueError) as exc:
        raise ValueError(f"{expression!r} is not a valid {language} expression: {exc}") from None


def find_values(language: PathLanguage, expression: str, document: Any, *, where: str) -> list[Any]:
    """Return every value `expression` selects in `document`.

    A JMESPath result that is a list (a projection such as `items[*].n`) counts as that
    many matches, so `items[*].n` over several items is ambiguous while `sum(items[*].n)`
    is one number. JMESPath cannot tell a missing field from a null one: both are None.
    """
    try:
        if language == "jsonpath":
            return [match.value for match in _compiled_jsonpath(expression).find(document)]
        result = _compiled_jmespath(expression).search(document)
    except (JSONPathError, JMESPathError, TypeError, ValueError) as exc:
        raise QueryRejected(f"{where}: {language} {expression!r} failed: {exc}") from None
    if result is None:
        return []
    return result if isinstance(result, list) else [result]


def json_type(value: Any) -> str:
    """Return the JSON name of a parsed value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "number"


def read_number(values: list[Any], *, expression: str, where: str) -> tuple[float, bool]:
    """Return the one number `values` holds and whether it was a numeric string.

    Numeric strings such as "42.5" are accepted because many APIs (Prometheus, several
    billing APIs) send numbers as strings to keep their precision.
    """
    if not values:
        raise NoData(f"{where}: {expression} matched nothing in the response")
    if len(values) > 1:
        preview = ", ".join(repr(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
        raise AmbiguousResult(
            f"{where}: {expression} matched {len(values)} values ({preview}); "
            "make the expression select exactly one"
        )
    value = values[0]
    if isinstance(value, NonFinite):
        raise NoData(f"{where}: {expression} is {value.literal}, which is not a number")
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value), False
        except OverflowError:
            raise NoData(f"{where}: {expression} is too large to be a number") from None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
        if number is not None and math.isfinite(number):
            return number, True
        if number is not None:
            raise NoData(f"{where}: {expression} is {value!r}, which is not a number")
    shown = f" {_short(value)!r}" if isinstance(value, str | bool) else ""
    kind = json_type(value)
    article = "an" if kind in ("object", "array") else "a"
    raise NoData(f"{where}: {expression} is {article} {kind}{shown}, not a number")


def _short(value: Any) -> Any:
    return value[:60] + "..." if isinstance(value, str) and len(value) > 60 else value

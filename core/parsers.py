"""The API's JSON parser: DRF's, refusing what it would let through to a 500."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


class StrictJSONParser(JSONParser):
    """A body nested deeper than Python's parser can follow, or text with a lone surrogate ("\\ud800", which no
    answer that repeats it could encode), is a 400 like any other malformed JSON."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
            surrogate = _has_lone_surrogate(data)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        if surrogate:
            raise ParseError("JSON parse error - a string holds a lone surrogate, which is not text.")
        return data

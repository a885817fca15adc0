"""The input checks every store applies, for adapters and applications to apply the same way.

One rule set (docs/architecture.md, D4 and D16): what one backend refuses, every backend refuses, with
:class:`~memstore.errors.ValidationError` before anything is written. An adapter checking its own options
with these raises exactly what the core would, with the same bounds (ints within 64 bits, finite numbers,
text without NUL, identifiers of at most 1024 UTF-8 bytes, plain JSON at most 100 levels deep).
"""

from __future__ import annotations

from memstore._validate import (
    MAX_IDENTIFIER_BYTES,
    MAX_JSON_DEPTH,
    check_count,
    check_identifier,
    check_json,
    check_json_object,
    check_number,
    check_text,
)

__all__ = [
    "MAX_IDENTIFIER_BYTES",
    "MAX_JSON_DEPTH",
    "check_count",
    "check_identifier",
    "check_json",
    "check_json_object",
    "check_number",
    "check_text",
]

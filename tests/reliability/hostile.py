"""A corpus of hostile strings, pushed through every identifier and value the public API accepts.

Each string must either round-trip byte-identically or be rejected with ``memstore.ValidationError``.
``EXPECTED_REJECTIONS`` marks the ones the validation rule (docs/architecture.md, D4) rejects as identifiers.
"""

from __future__ import annotations

SQL_INJECTION = [
    "'; DROP TABLE memstore_messages; --",
    "'; DROP TABLE memstore_kv; --",
    '"; DROP TABLE memstore_conversations; --',
    "' OR '1'='1",
    "' OR 1=1 --",
    '" OR ""="',
    "1; DELETE FROM memstore_kv",
    "admin'--",
    "' UNION SELECT id, content_text FROM memstore_messages --",
    "'); INSERT INTO memstore_kv VALUES ('x','y'); --",
    "1' AND SLEEP(5) --",
    "'; SELECT pg_sleep(5); --",
    "$$; DROP TABLE memstore_kv; $$",
    "E'\\x27; DROP TABLE memstore_kv; --'",
    "'; COPY memstore_kv TO '/tmp/x'; --",
    "'; ATTACH DATABASE '/tmp/evil.db' AS evil; --",
    "'; PRAGMA writable_schema=1; --",
    "%'; --",
    "\\'; DROP TABLE memstore_kv; --",
    "`; DROP TABLE memstore_kv; `",
    "/* comment */ SELECT 1",
    "-- just a comment",
    "'||(SELECT version())||'",
    "'::text; SELECT 1; --",
    "');--",
    "\\x00'; --",
    "' ESCAPE '\\",
    "1e309",
    "NULL",
    "null",
    "None",
    "true",
    "0x27",
    "CHAR(39)",
]

LIKE_AND_GLOB = [
    "%",
    "_",
    "%%",
    "__",
    "a%",
    "a_",
    "%a",
    "_a",
    "[a-z]",
    "*",
    "?",
    "[!a]",
    "^",
    "\\%",
    "\\_",
    "a\\",
]

QUOTES_AND_ESCAPES = [
    "'",
    "''",
    '"',
    '""',
    "`",
    "\\",
    "\\\\",
    "\\n",
    "\\u0000",
    "\\x00",
    "'\"`",
    "it's",
    'say "hi"',
    "a\\'b",
    '\\"',
    "$1",
    ":param",
    "%(name)s",
    "%s",
    "{0}",
    "{name}",
    "?",
]

CONTROL = [
    "\x00",
    "a\x00b",
    "\x00" * 3,
    "\x01",
    "\x07\x08",
    "\x1b[31mred\x1b[0m",
    "\x7f",
    "\r\n",
    "\t",
    "\n",
    "\x0b\x0c",
]

SURROGATES = ["\ud800", "\udfff", "a\ud800b", "\udc80\udc81", "\ud83d"]

UNICODE = [
    "مرحبا بالعالم",
    "\u202eRTL override",
    "\u200f\u200e",
    "שלום",
    "e\u0301",
    "a" + "\u0301" * 50,
    "Z̴̡̪̫͖͉̰̓̃̈́͌̏a̷l̸g̶o̷",
    "🧠",
    "👩‍👩‍👧‍👦",
    "🏳️‍🌈",
    "\U0001f600" * 100,
    "日本語のテキスト",
    "한국어",
    "Ελληνικά",
    "кириллица",
    "\u00a0",
    "\u2028\u2029",
    "\ufeffBOM",
    "\ufffd",
    "\uffff",
    "\U0010ffff",
    "ǅ",
    "ß",
    "İ",
    "ﬁ",
    "\u0000".replace("\u0000", "nul-free"),
    "ＦＵＬＬＷＩＤＴＨ",
    "𝕸𝖆𝖙𝖍",
    "\u200b",
    "᠎",
]

WHITESPACE = ["", " ", "  ", "\t", "\n", " \n\t ", "\u3000", "\u00a0\u00a0"]

JSON_LOOKING = [
    "{}",
    "[]",
    '{"a": 1}',
    '{"$ne": null}',
    '{"$gt": ""}',
    "[1, 2, 3]",
    '"quoted"',
    "true",
    "1.5e10",
    "-0",
    "NaN",
    "Infinity",
    '{"__proto__": {"admin": true}}',
    "$.a",
    '$."a"',
    "$[0]",
]

PATH_LOOKING = [
    "../../etc/passwd",
    "..\\..\\windows\\system32",
    "/etc/shadow",
    "C:\\Windows",
    "~/.ssh/id_rsa",
    "file:///etc/passwd",
    "http://127.0.0.1:1/",
    "./memstore_data/memstore.db",
    ":memory:",
    "sqlite:///evil.db",
    "a/b/c",
    "a.b.c",
    "con",
    "NUL",
    "/",
    ".",
    "..",
]

LONG = ["x" * 1000, "x" * 1024, "x" * 1025, "é" * 600, "🧠" * 300, "y" * 10_000, "z" * 1_000_000, "'" * 5000]

NUMERIC_LOOKING = ["0", "-1", "1.0", "9" * 40, "1e-400", "0x10", "+1", "١٢٣"]

# Injection text combined with the characters most likely to break escaping on the way in.
MIXED = [f"{attack}{twist}" for attack in SQL_INJECTION[:16] for twist in ("\u202e", "%_\\", "é🧠", "\n")]

CORPUS: list[str] = list(
    dict.fromkeys(
        SQL_INJECTION
        + LIKE_AND_GLOB
        + QUOTES_AND_ESCAPES
        + CONTROL
        + SURROGATES
        + UNICODE
        + WHITESPACE
        + JSON_LOOKING
        + PATH_LOOKING
        + LONG
        + NUMERIC_LOOKING
        + MIXED
    )
)


def rejected_as_identifier(text: str) -> bool:
    """True when the validation rule rejects ``text`` as an id/key/role/type (docs/architecture.md, D4)."""
    if not text or "\x00" in text:
        return True
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return len(encoded) > 1024


def rejected_as_text(text: str) -> bool:
    """True when the validation rule rejects ``text`` as content / metadata text."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False

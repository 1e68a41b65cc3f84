"""A forgiving JSON reader for what language models write when they mean JSON.

It reads one value starting at a given position and accepts, recording each fix:
trailing or stray commas, missing commas, single-quoted strings and the Python words
``True``/``False``/``None`` (``python_literal``), unquoted keys, ``//`` and ``/* */``
comments, raw control characters and invalid escapes in strings, unescaped quotes inside
a string, curly quotes, unquoted percentages (``35%``), and brackets the model forgot to
close before writing prose. When the text ends inside the value, it keeps only what was
complete (an array drops its unfinished element) and reports ``truncated``.

It never evaluates code: single-quoted strings are decoded with ``ast.literal_eval``,
which only reads literals, and every failure is caught.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

from ..distribution import Repair

MAX_DEPTH = 64
"""Deeper nesting is refused (no model answer nests this deep; it guards the recursion)."""

_LITERAL_EVAL_LIMIT = 20_000
_WS = re.compile(r"[\s\ufeff]*")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_WORD = re.compile(r"[A-Za-z_$][\w$]*")
_BARE_KEY = re.compile(r"[A-Za-z_$][\w$-]*(?=\s*:)")
_BARE_VALUE = re.compile(r"[^,}\]\n]*")
_DELIMITER = re.compile(r"[,}\]]")
_QUOTE_CLOSE = {'"': '"', "'": "'", "“": "”"}
_STRING_STOP = {q: re.compile("[" + re.escape(c) + r"\\]") for q, c in _QUOTE_CLOSE.items()}
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_CONTROL = re.compile(r"[\x00-\x1f]")
_WORDS: dict[str, tuple[object, str | None]] = {
    "true": (True, None),
    "false": (False, None),
    "null": (None, None),
    "True": (True, "python_literal"),
    "False": (False, "python_literal"),
    "None": (None, "python_literal"),
    "NaN": (float("nan"), None),
    "Infinity": (float("inf"), None),
}
_DETAILS = {
    "trailing_comma": "removed a comma before a closing bracket",
    "stray_comma": "ignored a comma with no value before it",
    "missing_comma": "added a comma missing between two values",
    "python_literal": "read Python-style literals (single quotes, True/False/None)",
    "unquoted_key": "read object keys written without quotes",
    "comment": "ignored comments inside the JSON",
    "control_character": "kept raw line breaks or tabs written inside strings",
    "invalid_escape": "kept backslashes that start no valid JSON escape",
    "unescaped_quote": "kept quotes inside a string that the model did not escape",
    "smart_quotes": "read strings written with curly quotes",
    "unclosed_bracket": "closed brackets the model left open before writing on",
    "ignored_text": "ignored stray text between values",
    "unquoted_string": "read string values written without quotes",
}


class _Unreadable(Exception):
    """The text at this position is not a value, even leniently."""


_CUT = object()  # the value was cut off before anything usable


@dataclass
class LenientValue:
    """A value read leniently.

    Attributes:
        value: The decoded value (dicts, lists, str, float, int, bool, None).
        end: The position just after the value.
        repairs: What had to be fixed, one repair per kind, in the order first met.
        truncated: The text ended inside the value; unfinished parts were dropped.
    """

    value: object
    end: int
    repairs: list[Repair] = field(default_factory=list)
    truncated: bool = False


def read_lenient(text: str, start: int = 0) -> LenientValue | None:
    """Read one JSON-like value at ``start``; ``None`` if nothing value-like is there."""
    reader = _Reader(text, start)
    try:
        value, _complete = reader.value(0)
    except (_Unreadable, RecursionError, MemoryError):
        return None
    if value is _CUT:
        return None
    repairs = [Repair(kind=k, detail=_DETAILS[k]) for k in reader.kinds]
    return LenientValue(value, reader.i, repairs, reader.truncated)


def _decode_python_string(token: str) -> str | None:
    """Decode a single-quoted Python string literal, or ``None`` if it is not one."""
    if len(token) > _LITERAL_EVAL_LIMIT:
        return None
    try:
        value = ast.literal_eval(token)
    except Exception:  # ValueError, SyntaxError, MemoryError, RecursionError, ...: never let out
        return None
    return value if isinstance(value, str) else None


class _Reader:
    """Recursive-descent reader over ``text`` from position ``i``."""

    def __init__(self, text: str, start: int) -> None:
        self.s = text
        self.i = start
        self.n = len(text)
        self.kinds: dict[str, None] = {}
        self.truncated = False

    def note(self, kind: str) -> None:
        self.kinds.setdefault(kind, None)

    def at_end(self) -> bool:
        if self.i >= self.n:
            self.truncated = True
            return True
        return False

    def skip(self) -> None:
        s = self.s
        while True:
            self.i = _WS.match(s, self.i).end()  # type: ignore[union-attr]
            if self.i >= self.n or s[self.i] not in "/#":
                return
            if s.startswith("//", self.i) or s.startswith("#", self.i):
                j = s.find("\n", self.i)
                self.i = self.n if j < 0 else j + 1
                self.note("comment")
            elif s.startswith("/*", self.i):
                j = s.find("*/", self.i + 2)
                self.i = self.n if j < 0 else j + 2
                self.note("comment")
            else:
                return

    # -- values --------------------------------------------------------------------------
    def value(self, depth: int, bare: bool = False) -> tuple[object, bool]:
        if depth > MAX_DEPTH:
            raise _Unreadable("too deep")
        self.skip()
        if self.at_end():
            return _CUT, False
        c = self.s[self.i]
        if c == "{":
            return self.obj(depth + 1)
        if c == "[":
            return self.arr(depth + 1)
        if c in _QUOTE_CLOSE:
            return self.string()
        if c in "-+.0123456789":
            return self.number()
        if c.isalpha() or c in "_$":
            return self.word(bare)
        raise _Unreadable(f"unexpected {c!r}")

    def obj(self, depth: int) -> tuple[object, bool]:
        s = self.s
        self.i += 1
        out: dict[str, object] = {}
        while True:
            self.skip()
            if self.at_end():
                return out, False
            c = s[self.i]
            if c == "}":
                self.i += 1
                return out, True
            if c == ",":
                self.i += 1
                self.note("stray_comma")
                continue
            if c == "]":  # the model closed the wrong bracket: let the array take it
                self.note("unclosed_bracket")
                return out, True
            key_start = self.i
            if c in _QUOTE_CLOSE:
                key, complete = self.string()
                if not complete:
                    return out, False
            else:
                m = _BARE_KEY.match(s, self.i)
                if m is None:
                    if out:
                        self.note("unclosed_bracket")
                        return out, True
                    raise _Unreadable("no key")
                key = m.group(0)
                self.i = m.end()
                self.note("unquoted_key")
            self.skip()
            if self.at_end():
                return out, False
            if s[self.i] != ":":
                if out:
                    self.i = key_start
                    self.note("unclosed_bracket")
                    return out, True
                raise _Unreadable("no colon")
            self.i += 1
            val, complete = self.value(depth, bare=True)
            if not complete:
                if isinstance(val, (dict, list)):
                    out[str(key)] = val
                return out, False
            out[str(key)] = val
            if not self.separator("}"):
                return out, not self.truncated

    def arr(self, depth: int) -> tuple[object, bool]:
        s = self.s
        self.i += 1
        out: list[object] = []
        while True:
            self.skip()
            if self.at_end():
                return out, False
            c = s[self.i]
            if c == "]":
                self.i += 1
                return out, True
            if c == ",":
                self.i += 1
                self.note("stray_comma")
                continue
            if c == "}":  # the model closed the wrong bracket: let the object take it
                self.note("unclosed_bracket")
                return out, True
            val, complete = self.value(depth)
            if not complete:  # keep only complete elements
                return out, False
            out.append(val)
            if not self.separator("]"):
                return out, not self.truncated

    def separator(self, closer: str) -> bool:
        """Read what follows a value; ``False`` when the container ends (or the text does)."""
        s = self.s
        self.skip()
        if self.at_end():
            return False
        c = s[self.i]
        if c == ",":
            self.i += 1
            self.skip()
            if self.i < self.n and s[self.i] == closer:
                self.note("trailing_comma")
            return True
        if c == closer:
            return True
        if closer == "}" and (c in _QUOTE_CLOSE or _BARE_KEY.match(s, self.i)):
            self.note("missing_comma")
            return True
        if closer == "]" and (c in _QUOTE_CLOSE or c in "{[-.0123456789"):
            self.note("missing_comma")
            return True
        if c in "}]":  # the other closer: the container's loop decides
            return True
        # Junk after a value on the same line (``0.3 (approx)``) is skipped; anything else
        # is prose written after a bracket the model never closed.
        line_end = s.find("\n", self.i)
        m = _DELIMITER.search(s, self.i, self.n if line_end < 0 else line_end)
        if m is not None:
            self.note("ignored_text")
            self.i = m.start()
            return self.separator(closer)
        self.note("unclosed_bracket")
        return False

    def string(self) -> tuple[object, bool]:
        s = self.s
        q = s[self.i]
        if q == "'":
            self.note("python_literal")
        elif q == "“":
            self.note("smart_quotes")
        stop = _STRING_STOP[q]
        start = self.i + 1
        j = start
        while True:
            found = stop.search(s, j)
            k = self.n if found is None else found.start()
            if k >= self.n:
                self.truncated = True
                self.i = self.n
                return _CUT, False
            if s[k] == "\\":
                if k + 1 >= self.n:
                    self.truncated = True
                    self.i = self.n
                    return _CUT, False
                j = k + 2
                continue
            if self.closes(k + 1):
                break
            self.note("unescaped_quote")
            j = k + 1
        raw = s[start:k]
        self.i = k + 1
        return self.decode(raw, q), True

    def closes(self, pos: int) -> bool:
        """Whether a quote just before ``pos`` ends the string (judged by what follows it)."""
        s = self.s
        p = _WS.match(s, pos).end()  # type: ignore[union-attr]
        if p >= self.n or s[p] in ":}]" or s[p] in _QUOTE_CLOSE:
            return True
        if s[p] != ",":
            return False
        p = _WS.match(s, p + 1).end()  # type: ignore[union-attr]
        if p >= self.n or s[p] in "\"'“{[]}-.0123456789":
            return True
        m = _WORD.match(s, p)
        return m is not None and (m.group(0) in _WORDS or _BARE_KEY.match(s, p) is not None)

    def decode(self, raw: str, quote: str) -> str:
        if "\\" not in raw:
            if _CONTROL.search(raw):
                self.note("control_character")
            return raw
        if quote == "'":
            decoded = _decode_python_string("'" + raw + "'")
            if decoded is not None:
                return decoded
        if quote == '"':
            try:
                return str(json.loads('"' + raw + '"'))
            except (ValueError, RecursionError):
                pass
        return self.decode_by_hand(raw, quote)

    def decode_by_hand(self, raw: str, quote: str) -> str:
        out: list[str] = []
        i = 0
        n = len(raw)
        while i < n:
            c = raw[i]
            if c != "\\" or i + 1 >= n:
                out.append(c)
                i += 1
                continue
            e = raw[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
            elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[i + 2 : i + 6]):
                code = int(raw[i + 2 : i + 6], 16)
                low = raw[i + 6 : i + 12]
                if 0xD800 <= code < 0xDC00 and re.fullmatch(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}", low):
                    code = 0x10000 + ((code - 0xD800) << 10) + (int(low[2:], 16) - 0xDC00)
                    i += 6
                out.append(chr(code) if not 0xD800 <= code <= 0xDFFF else "\ufffd")
                i += 6
            elif e == "'":  # valid in Python strings, an invalid escape in JSON ones
                if quote != "'":
                    self.note("invalid_escape")
                out.append("'")
                i += 2
            else:
                self.note("invalid_escape")
                out.append(c + e)
                i += 2
        text = "".join(out)
        if _CONTROL.search(raw):
            self.note("control_character")
        return text

    def number(self) -> tuple[object, bool]:
        s = self.s
        m = _NUMBER.match(s, self.i)
        if m is None:
            raise _Unreadable("not a number")
        end = m.end()
        if end >= self.n:  # a number at the very end may have been cut mid-digit
            self.truncated = True
            self.i = self.n
            return _CUT, False
        token = m.group(0)
        if s[end] == "%":
            self.i = end + 1
            return token + "%", True
        self.i = end
        if re.fullmatch(r"[-+]?\d+", token):
            try:
                return int(token), True
            except ValueError:  # more digits than Python converts
                return float(token), True
        return float(token), True

    def word(self, bare: bool) -> tuple[object, bool]:
        m = _WORD.match(self.s, self.i)
        if m is None:
            raise _Unreadable("not a word")
        if m.end() >= self.n:
            self.truncated = True
            self.i = self.n
            return _CUT, False
        known = _WORDS.get(m.group(0))
        if known is None:
            if not bare:
                raise _Unreadable(f"unknown word {m.group(0)!r}")
            v = _BARE_VALUE.match(self.s, self.i)
            assert v is not None  # the pattern matches the empty string
            if v.end() >= self.n:
                self.truncated = True
                self.i = self.n
                return _CUT, False
            self.note("unquoted_string")
            self.i = v.end()
            return v.group(0).strip(), True
        value, kind = known
        if kind:
            self.note(kind)
        self.i = m.end()
        return value, True

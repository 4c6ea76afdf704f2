"""Find the line of each key path in a TOML text (tomllib gives values, not positions).

How: one pass over the characters with a small scanner that knows just enough TOML to stay in
step with the parser: table headers (`[a.b]`, `[[a]]`, counting each array of tables so
`objectives[1]` is the second `[[objectives]]`), dotted and quoted keys, and values, skipping
strings (basic, literal, multi-line) and descending into arrays and inline tables, whose
elements and keys get their own paths (`band[1]`, `key_results[0].source.query`). Each path
is mapped to the 1-based line where its key (or header, or array element) starts. The text is
assumed to be valid TOML (tomllib has accepted it); on anything unexpected the scan stops and
keeps what it found, so a position is a help, never a new error.
"""

from __future__ import annotations

import bisect
import re

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_PATH_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_SCALAR_END = re.compile(r"[,\]}\n#]")


class _StopScan(Exception):
    """The text is not in a shape the scanner follows: keep the positions found so far."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.newlines = [i for i, ch in enumerate(text) if ch == "\n"]
        self.lines: dict[KeyPath, int] = {}
        self.array_counts: dict[KeyPath, int] = {}

    def line_at(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def record(self, path: KeyPath, pos: int) -> None:
        # Parents that are never written alone (`dotted` of `dotted.inner = 1`, `connectors`
        # of `[connectors.prom]`) are where their first child is written.
        line = self.line_at(pos)
        for end in range(1, len(path) + 1):
            self.lines.setdefault(path[:end], line)

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def skip_blank(self, *, newlines: bool) -> None:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.pos += 1
            elif ch == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    def expect(self, token: str) -> None:
        if not self.text.startswith(token, self.pos):
            raise _StopScan
        self.pos += len(token)

    def key(self) -> list[str]:
        parts = []
        while True:
            self.skip_blank(newlines=False)
            ch = self.peek()
            if ch in ('"', "'"):
                parts.append(self.string())
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if not match:
                    raise _StopScan
                parts.append(match.group())
                self.pos = match.end()
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return parts
            self.pos += 1

    def string(self) -> str:
        """Skip a string of any kind and return its raw content (escapes left as written)."""
        for quote in ('"""', "'''"):
            if self.text.startswith(quote, self.pos):
                end = self.pos + 3
                while True:
                    end = self.text.find(quote, end)
                    if end < 0:
                        raise _StopScan
                    if quote == '"""' and _escaped(self.text, end):
                        end += 1
                        continue
                    break
                while self.text.startswith(quote[0], end + 3):  # up to two quotes end it
                    end += 1
                start, self.pos = self.pos + 3, end + 3
                return self.text[start:end]
        quote = self.text[self.pos]
        end = self.pos + 1
        while True:
            end = self.text.find(quote, end)
            if end < 0:
                raise _StopScan
            if quote == '"' and _escaped(self.text, end):
                end += 1
                continue
            break
        start, self.pos = self.pos + 1, end + 1
        return self.text[start:end]

    def value(self, path: KeyPath) -> None:
        ch = self.peek()
        if ch in ('"', "'"):
            self.string()
        elif ch == "[":
            self.pos += 1
            index = 0
            while True:
                self.skip_blank(newlines=True)
                if self.peek() == "]":
                    self.pos += 1
                    return
                self.record((*path, index), self.pos)
                self.value((*path, index))
                index += 1
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.pos += 1
        elif ch == "{":
            self.pos += 1
            while True:
                self.skip_blank(newlines=True)
                if self.peek() == "}":
                    self.pos += 1
                    return
                self.pair(path)
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.pos += 1
        else:
            match = _SCALAR_END.search(self.text, self.pos)
            self.pos = len(self.text) if match is None else match.start()

    def pair(self, table: KeyPath) -> None:
        start = self.pos
        path = (*table, *self.key())
        self.record(path, start)
        self.skip_blank(newlines=False)
        self.expect("=")
        self.skip_blank(newlines=False)
        self.value(path)

    def resolve(self, keys: list[str]) -> KeyPath:
        """Turn header keys into a path, entering the latest table of each array of tables."""
        path: KeyPath = ()
        for key in keys:
            path = (*path, key)
            if path in self.array_counts:
                path = (*path, self.array_counts[path] - 1)
        return path

    def header(self) -> KeyPath:
        start = self.pos
        is_array = self.text.startswith("[[", self.pos)
        self.pos += 2 if is_array else 1
        keys = self.key()
        self.expect("]]" if is_array else "]")
        if is_array:
            parent = self.resolve(keys[:-1])
            array = (*parent, keys[-1])
            self.array_counts[array] = self.array_counts.get(array, 0) + 1
            path: KeyPath = (*array, self.array_counts[array] - 1)
            self.record(array, start)
        else:
            path = self.resolve(keys)
        self.record(path, start)
        return path

    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.peek() == "[":
                table = self.header()
            else:
                self.pair(table)


def _escaped(text: str, quote_at: int) -> bool:
    backslashes = 0
    while quote_at - 1 - backslashes >= 0 and text[quote_at - 1 - backslashes] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key path of a TOML text to the 1-based line where it is written."""
    scanner = _Scanner(text)
    try:
        scanner.document()
    except (_StopScan, IndexError):
        pass
    return scanner.lines


def parse_key_path(path: str) -> KeyPath:
    """Split `objectives[1].key_results[0].target` into ('objectives', 1, 'key_results', 0, …)."""
    return tuple(int(index) if index else name for index, name in _PATH_PART.findall(path))


def line_of(lines: dict[KeyPath, int], path: str) -> int | None:
    """Return the line of a key path, or of its nearest written ancestor; None if none is."""
    parts = parse_key_path(path)
    while parts:
        if parts in lines:
            return lines[parts]
        parts = parts[:-1]
    return None

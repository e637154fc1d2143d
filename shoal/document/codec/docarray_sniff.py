"""Telling DocArray 0.21's bytes from shoal's, without unpickling or decoding anything.

Three exact checks and one shape check:

* DocArray's streamed layout (``protocol='protobuf'`` / ``'pickle'``): ``u8 1``, ``u64 BE``
  document count, then per document ``u32 BE`` length + payload; the lengths must add up
  to the end of the data exactly. shoal's bytes start with ``0x0a`` (or a compression
  magic), never ``0x01``.
* pickle (``protocol='pickle-array'``, DocArray's default): the ``0x80`` PROTO opcode.
* compression: zlib / gzip / bz2 / xz / lz4 frame magic bytes.
* protobuf (``'protobuf-array'``, ``Document.to_bytes(protocol='protobuf')``): DocArray's
  and shoal's messages share field 1 (``docs`` / ``id``) but differ in most other field
  numbers and wire types. A Document is DocArray's only if its bytes fit DocArray's
  schema *and not* shoal's, recursively (sub-messages, UTF-8 strings, shoal's JSON
  tags); the first such decisive Document among the first :data:`SAMPLE_DOCS` decides.
  Bytes that fit both (e.g. only ``id`` / ``uri`` / a mime type) are read as shoal's,
  so shoal's own data is never misread.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["SAMPLE_DOCS", "compression_of", "is_pickle", "stream_payloads",
           "array_is_docarray", "doc_is_docarray", "names_docarray"]

#: how many leading Documents of an array the shape check looks at
SAMPLE_DOCS = 64
_BUDGET = 200_000  # wire fields visited per check, at most (then "fits so far")

_MAGICS = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "lzma"),
           (b"\x04\x22\x4d\x18", "lz4"))


def compression_of(data: bytes) -> str | None:
    """The compression whose magic bytes ``data`` starts with, or None."""
    for magic, name in _MAGICS:
        if data.startswith(magic):
            return name
    if len(data) >= 2 and data[0] == 0x78 and (data[0] << 8 | data[1]) % 31 == 0:
        return "zlib"
    return None


def is_pickle(data: bytes) -> bool:
    """True for pickle protocol 2-5 data (what ``pickle.dumps`` writes)."""
    return len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5


_DA_GLOBAL = re.compile(rb"(?:\x8c.|c)docarray[.\n]", re.DOTALL)


def names_docarray(pickled: bytes) -> bool:
    """True if a pickle's first class reference is in a ``docarray`` module (read as
    bytes, never unpickled); also for DocArray's streamed layout holding pickles."""
    head = pickled[13:77] if pickled[:1] == b"\x01" else pickled[:64]
    return _DA_GLOBAL.search(head) is not None


def stream_payloads(data: bytes) -> list[bytes] | None:
    """The per-Document payloads of DocArray's streamed layout, or None if not that layout."""
    if len(data) < 9 or data[0] != 1:
        return None
    count = int.from_bytes(data[1:9], "big")
    if count > (len(data) - 9) // 4:
        return None
    out, pos, end = [], 9, len(data)
    for _ in range(count):
        if pos + 4 > end:
            return None
        n = int.from_bytes(data[pos:pos + 4], "big")
        pos += 4
        if pos + n > end:
            return None
        out.append(data[pos:pos + n])
        pos += n
    return out if pos == end else None


# --- the wire-shape check ---------------------------------------------------------------
# A schema maps field number -> {wire type: rule}; a rule is None (anything), a check
# name, or a nested schema. Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.

_UTF8, _JSON, _P64, _P32, _PVAR = "utf8", "json", "p64", "p32", "pvarint"
_S, _ANY = {2: _UTF8}, {2: None}


def _msg(rule: Any) -> dict[int, Any]:
    return {2: rule}


_SH_ND = {1: _ANY, 2: {2: _PVAR, 0: None}, 3: _S}
_SH_SCORE = {1: {1: None}, 2: _S, 3: _S, 4: _S}
_SH_ENTRY = {1: _S, 2: _msg(_SH_SCORE)}
_SH_DOC: dict[int, Any] = {
    1: _S, 2: _S, 3: {0: None}, 4: {0: None}, 5: _S, 6: _ANY, 7: _msg(_SH_ND),
    8: _msg(_SH_ND), 9: _S, 10: _S, 11: {2: _JSON}, 12: _S, 13: {1: None},
    14: {2: _P64, 1: None}, 15: {1: None}, 18: _msg(_SH_ENTRY), 19: _msg(_SH_ENTRY)}
_SH_DOC[16] = _SH_DOC[17] = _msg(_SH_DOC)

_DA_VALUE: dict[int, Any] = {1: {0: None}, 2: {1: None}, 3: _S, 4: {0: None}}
_DA_STRUCT = {1: _msg({1: _S, 2: _msg(_DA_VALUE)})}
_DA_VALUE[5] = _msg(_DA_STRUCT)
_DA_VALUE[6] = _msg({1: _msg(_DA_VALUE)})
_DA_DENSE = {1: _ANY, 2: {2: _PVAR, 0: None}, 3: _S}
_DA_ND = {1: _msg(_DA_DENSE), 2: _msg({1: _msg(_DA_DENSE), 2: _msg(_DA_DENSE),
                                       3: {2: _PVAR, 0: None}}),
          3: _S, 4: _msg(_DA_STRUCT)}
_DA_SCORE = {1: {5: None}, 2: _S, 3: _S, 4: _S}
_DA_ENTRY = {1: _S, 2: _msg(_DA_SCORE)}
_DA_DOC: dict[int, Any] = {
    1: _S, 2: _ANY, 3: _msg(_DA_ND), 4: _S, 5: {0: None}, 6: {0: None}, 7: _S,
    8: {5: None}, 9: _S, 10: _S, 11: _S, 12: {5: None}, 13: {2: _P32, 5: None},
    16: _msg(_DA_ND), 17: _msg(_DA_STRUCT), 18: _msg(_DA_ENTRY), 19: _msg(_DA_ENTRY),
    20: _msg(_DA_STRUCT)}
_DA_DOC[14] = _DA_DOC[15] = _msg(_DA_DOC)


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, next position); position -1 if the varint is cut off or too long."""
    value = shift = 0
    while pos < end and shift < 70:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
    return 0, -1


def _rule_ok(buf: bytes, start: int, end: int, rule: Any, budget: list[int]) -> bool:
    if rule is None:
        return True
    if type(rule) is dict:
        return _fits(buf, start, end, rule, budget)
    if rule == _P64:
        return (end - start) % 8 == 0
    if rule == _P32:
        return (end - start) % 4 == 0
    if rule == _PVAR:
        pos = start
        while 0 <= pos < end:
            pos = _varint(buf, pos, end)[1]
        return pos == end
    if rule == _JSON and not (buf[start:start + 1] == b"{" and buf[end - 1:end] == b"}"):
        return False
    try:
        buf[start:end].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _fits(buf: bytes, start: int, end: int, schema: dict[int, Any], budget: list[int]) -> bool:
    """True if ``buf[start:end]`` is a message every field of which ``schema`` allows."""
    pos = start
    while pos < end:
        budget[0] -= 1
        if budget[0] < 0:
            return True  # too big to check all of it: it fits as far as it was read
        key, pos = _varint(buf, pos, end)
        if pos < 0:
            return False
        wire = key & 7
        rules = schema.get(key >> 3)
        if rules is None or wire not in rules:
            return False
        if wire == 0:
            pos = _varint(buf, pos, end)[1]
            if pos < 0:
                return False
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:  # 2: length-delimited (3 / 4, groups, are in no rule)
            n, pos = _varint(buf, pos, end)
            if pos < 0 or pos + n > end or not _rule_ok(buf, pos, pos + n, rules[2], budget):
                return False
            pos += n
    return pos == end


def _doc_verdict(buf: bytes, start: int, end: int, budget: list[int]) -> bool | None:
    """True: DocArray's; False: not DocArray's; None: fits both schemas."""
    if not _fits(buf, start, end, _DA_DOC, budget):
        return False
    return None if _fits(buf, start, end, _SH_DOC, budget) else True


def doc_is_docarray(data: bytes) -> bool:
    """True if ``data`` is a DocArray ``DocumentProto`` and cannot be a shoal one."""
    return bool(_doc_verdict(data, 0, len(data), [_BUDGET]))


def array_is_docarray(data: bytes) -> bool:
    """True if ``data`` is a DocArray ``DocumentArrayProto`` (decided on the first
    :data:`SAMPLE_DOCS` Documents; ambiguous ones count as shoal's)."""
    budget, pos, end = [_BUDGET], 0, len(data)
    for _ in range(SAMPLE_DOCS):
        if pos >= end or data[pos] != 0x0A:  # field 1 (docs), length-delimited
            return False
        n, pos = _varint(data, pos + 1, end)
        if pos < 0 or pos + n > end:
            return False
        verdict = _doc_verdict(data, pos, pos + n, budget)
        if verdict is not None:
            return verdict
        pos += n
    return False

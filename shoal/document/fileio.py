"""Saving and loading Documents: a streamed binary container, JSON Lines and CSV.

Binary container (``save_docs`` / ``load_docs`` / ``iter_load``)::

    header   b'SHOALDA1'  u8 version  u8 protocol  u8 compression  u8 flags (0)
    record*  u64 payload length  u32 document count  u32 crc32(payload)  payload
    end      u64 0               u32 total documents u32 0

A payload is one batch of Documents as ``DocumentArrayProto`` bytes (or pickle, only
when asked), compressed as the header says. Records are read one at a time, so a
file bigger than RAM can be iterated; a missing end record, a short read, a bad
checksum or a count that does not add up raises MalformedDataError naming the record.
Paths are written to a temporary file, fsynced, then renamed: a crash never leaves
a half-written file under the final name.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import os
import struct
import zlib
from contextlib import contextmanager
from typing import IO, Any, Iterable, Iterator

from shoal.document import codec
from shoal.document.document import Document
from shoal.errors import BadInputError, MalformedDataError, StoreNotWritableError, \
    StoreVersionError
from shoal.utils.progress import progress

__all__ = ["MAGIC", "FORMAT_VERSION", "save_docs", "load_docs", "iter_load", "save_json",
           "load_json", "iter_json", "save_csv", "load_csv"]

MAGIC = b"SHOALDA1"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sBBBB")
_RECORD = struct.Struct("<QII")
_PROTOCOL_IDS = {"protobuf": 0, "pickle": 1}
_COMPRESS_IDS = {None: 0, "zlib": 1, "gzip": 2, "bz2": 3, "lzma": 4, "lz4": 5}
_CHUNK = 64 << 20


def _name(target: Any) -> str:
    if isinstance(target, (str, os.PathLike)):
        return os.fspath(target)
    if isinstance(target, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return str(getattr(target, "name", "<file object>"))


@contextmanager
def _as_text(f: IO[Any], mode_write: bool) -> Iterator[IO[str]]:
    """A caller's file object as text; a binary one is wrapped, then detached (not closed)."""
    if isinstance(f, io.TextIOBase):
        yield f
        return
    wrapper = io.TextIOWrapper(f, encoding="utf-8", newline="", write_through=mode_write)
    try:
        yield wrapper
    finally:
        if mode_write:
            wrapper.flush()
        wrapper.detach()


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextmanager
def _open_write(target: Any, text: bool = False) -> Iterator[IO[Any]]:
    """A writable file; a path is written to a temp file, fsynced and renamed into place."""
    if not isinstance(target, (str, os.PathLike)):
        if text:
            with _as_text(target, True) as f:
                yield f
        else:
            if isinstance(target, io.TextIOBase):
                raise BadInputError(
                    "this writes bytes, but the file was opened in text mode; open it with "
                    "'wb' (or pass a path)")
            yield target
        return
    path = os.fspath(target)
    tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        f = open(tmp, "x", encoding="utf-8", newline="") if text else open(tmp, "xb")
    except OSError as exc:
        raise StoreNotWritableError(f"cannot write {path!r}: {exc}") from exc
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@contextmanager
def _open_read(source: Any, text: bool = False) -> Iterator[IO[Any]]:
    """A readable file from a path, a file object, or bytes already in memory."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    if not isinstance(source, (str, os.PathLike)):
        if text:
            with _as_text(source, False) as f:
                yield f
        else:
            yield source
        return
    try:
        f = open(source, encoding="utf-8", newline="") if text else open(source, "rb")
    except FileNotFoundError as exc:
        raise BadInputError(f"no such file: {os.fspath(source)!r}") from exc
    except OSError as exc:
        raise BadInputError(f"cannot read {os.fspath(source)!r}: {exc}") from exc
    with f:
        yield f


def _batches(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for d in docs:
        batch.append(d)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# ----------------------------------------------------------------------------------
# binary container
# ----------------------------------------------------------------------------------


def save_docs(docs: Iterable[Document], file: Any, protocol: str = "protobuf",
              compress: str | None = None, show_progress: bool = False,
              batch_size: int = 1024) -> int:
    """Write ``docs`` to a path or binary file object, ``batch_size`` per record.

    ``protocol='pickle'`` is for trusted local data only. Returns the number written.
    """
    proto = codec._protocol(protocol)
    if compress not in _COMPRESS_IDS:
        codec._codec_module(compress)  # raises the helpful error
    codec.compress_bytes(b"", compress)  # a missing codec (lz4) fails before writing
    if batch_size < 1:
        raise BadInputError(f"batch_size must be >= 1, got {batch_size}")
    total = len(docs) if hasattr(docs, "__len__") else None
    count = 0
    with _open_write(file) as f, progress(total, "saving", "doc", enabled=show_progress) as bar:
        f.write(_HEADER.pack(MAGIC, FORMAT_VERSION, _PROTOCOL_IDS[proto],
                             _COMPRESS_IDS[compress], 0))
        for batch in _batches(docs, batch_size):
            payload = codec.docs_to_bytes(batch, proto, compress)
            f.write(_RECORD.pack(len(payload), len(batch), zlib.crc32(payload)))
            f.write(payload)
            count += len(batch)
            bar.update(len(batch))
        f.write(_RECORD.pack(0, count, 0))
    return count


def _read_exact(f: IO[bytes], n: int) -> bytes:
    """``n`` bytes, fewer only at end of file (pipes and sockets may return short reads)."""
    data = f.read(min(n, _CHUNK))
    if data is None or len(data) == n:
        return data or b""
    parts, left = [data], n - len(data)
    while left and data:
        data = f.read(min(left, _CHUNK))
        if data:
            parts.append(data)
            left -= len(data)
    return b"".join(parts)


def _remaining(f: IO[bytes]) -> int | None:
    try:
        if not f.seekable():
            return None
        here = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(here)
        return end - here
    except (OSError, AttributeError, ValueError):
        return None


def _load_headerless(raw: bytes, name: str, protocol: str | None,
                     compress: str | None) -> list[Document]:
    """Bytes without the container header: ``DocumentArray.to_bytes()`` output saved as
    is, or a file DocArray 0.21 saved as protobuf (any layout / compression)."""
    if not raw:  # DocArray writes an empty array as no bytes at all
        return []
    try:
        return codec.docs_from_bytes(raw, protocol or "protobuf", compress)
    except MalformedDataError as exc:
        raise MalformedDataError(
            f"{name!r} is damaged or not a shoal document file (no {MAGIC.decode()} header, "
            f"and not shoal or DocArray protobuf bytes): {exc}") from exc


_DA_STREAM_BATCH = 1024  # DocArray stream records decoded together


def _iter_docarray_stream(f: IO[bytes], head: bytes, name: str) -> Iterator[list[Document]]:
    """DocArray 0.21's ``save_binary(protocol='protobuf')`` file, ``_DA_STREAM_BATCH``
    Documents at a time: ``0x01``, the count (8 bytes, big-endian), then per Document a
    4-byte big-endian length and its (possibly compressed) ``DocumentProto``."""
    from shoal.document.codec.docarray_format import stream_documents  # noqa: PLC0415

    count = int.from_bytes(head[1:9], "big")
    pending = bytearray(head[9:])
    batch: list[bytes] = []
    for i in range(count):
        while len(pending) < 4:
            more = f.read(_CHUNK)
            if not more:
                raise MalformedDataError(f"{name!r} ends after {i} of its {count} Documents")
            pending += more
        n = int.from_bytes(pending[:4], "big")
        while len(pending) < 4 + n:
            more = f.read(max(_CHUNK, 4 + n - len(pending)))
            if not more:
                raise MalformedDataError(f"{name!r} ends inside Document {i} of {count}")
            pending += more
        batch.append(bytes(pending[4:4 + n]))
        del pending[:4 + n]
        if len(batch) >= _DA_STREAM_BATCH:
            yield stream_documents(batch)
            batch = []
    if pending or f.read(1):
        raise MalformedDataError(f"{name!r} has bytes after its {count} Documents")
    if batch:
        yield stream_documents(batch)


def _iter_records(f: IO[bytes], name: str, protocol: str | None,
                  consumed: bytes = b"") -> Iterator[list[Document]]:
    """Documents record by record; ``consumed`` is the start of the file already read."""
    head = consumed + _read_exact(f, _HEADER.size - len(consumed))
    if head[:1] == b"\x01" and len(head) >= 9:  # DocArray's streamed 'protobuf' layout
        yield from _iter_docarray_stream(f, head, name)
        return
    if head and not head.startswith(MAGIC[:len(head)]):  # e.g. DocArray's: read whole
        yield _load_headerless(head + (f.read() or b""), name, protocol, None)
        return
    if len(head) < _HEADER.size or not head.startswith(MAGIC):
        raise MalformedDataError(f"{name!r} is not a shoal document file (bad magic bytes)")
    _, version, proto_id, comp_id, _flags = _HEADER.unpack(head)
    if version > FORMAT_VERSION:
        raise StoreVersionError(
            f"{name!r} was written in document file format version {version}; this shoal "
            f"reads up to version {FORMAT_VERSION}: upgrade shoal")
    protos = {v: k for k, v in _PROTOCOL_IDS.items()}
    comps = {v: k for k, v in _COMPRESS_IDS.items()}
    if proto_id not in protos or comp_id not in comps:
        raise MalformedDataError(f"{name!r} is damaged: unknown protocol / compression in "
                                 "its header")
    proto, comp = protos[proto_id], comps[comp_id]
    if proto == "pickle" and (protocol is None or codec._protocol(protocol) != "pickle"):
        raise BadInputError(
            f"{name!r} holds pickled documents; pass protocol='pickle' to load it, and only "
            "if you trust where it came from")
    seen = 0
    index = 0
    while True:
        where = f"{name!r} is damaged at record {index} (after {seen} documents)"
        raw = _read_exact(f, _RECORD.size)
        if len(raw) < _RECORD.size:
            raise MalformedDataError(f"{where}: the file is truncated (no end record)")
        length, count, crc = _RECORD.unpack(raw)
        if length == 0:
            if count != seen:
                raise MalformedDataError(
                    f"{where}: the end record counts {count} documents, read {seen}")
            return
        left = _remaining(f)
        if left is not None and length > left:
            raise MalformedDataError(
                f"{where}: the file is truncated ({length} bytes expected, {left} left)")
        payload = _read_exact(f, length)
        if len(payload) != length:
            raise MalformedDataError(
                f"{where}: the file is truncated ({length} bytes expected, got {len(payload)})")
        if zlib.crc32(payload) != crc:
            raise MalformedDataError(f"{where}: checksum mismatch")
        try:
            docs = codec.docs_from_bytes(payload, proto, comp)
        except MalformedDataError as exc:
            raise MalformedDataError(f"{where}: {exc}") from exc
        if len(docs) != count:
            raise MalformedDataError(f"{where}: {len(docs)} documents, header says {count}")
        seen += count
        index += 1
        yield docs


def iter_load(file: Any, batch_size: int | None = None, protocol: str | None = None,
              show_progress: bool = False) -> Iterator[list[Document]]:
    """Yield lists of ``batch_size`` Documents (one record each if None) from a saved file.

    Memory stays bounded by one record plus one batch, so files bigger than RAM work - for
    shoal's files and DocArray's streamed ``'protobuf'`` layout; other headerless bytes
    (DocArray's ``'protobuf-array'``, ``to_bytes()`` output) are one message, read whole.
    """
    if batch_size is not None and batch_size < 1:
        raise BadInputError(f"batch_size must be >= 1, got {batch_size}")
    with _open_read(file) as f, progress(None, "loading", "doc", enabled=show_progress) as bar:
        buf: list[Document] = []
        for docs in _iter_records(f, _name(file), protocol):
            bar.update(len(docs))
            if batch_size is None:
                yield docs
                continue
            buf.extend(docs)
            while len(buf) >= batch_size:
                yield buf[:batch_size]
                buf = buf[batch_size:]
        if buf:
            yield buf


def load_docs(file: Any, protocol: str | None = None, compress: str | None = None,
              show_progress: bool = False) -> list[Document]:
    """All Documents of a file written by :func:`save_docs`.

    Bytes without the container header (``DocumentArray.to_bytes()`` output saved as is,
    or DocArray 0.21's ``save_binary(protocol='protobuf' | 'protobuf-array')`` files) are
    read whole with ``protocol`` / ``compress`` as given.
    """
    with _open_read(file) as f:
        start = _read_exact(f, len(MAGIC))
        if start != MAGIC:
            return _load_headerless(start + (f.read() or b""), _name(file), protocol, compress)
        out: list[Document] = []
        with progress(None, "loading", "doc", enabled=show_progress) as bar, codec.gc_paused():
            for docs in _iter_records(f, _name(file), protocol, consumed=start):
                out.extend(docs)
                bar.update(len(docs))
        return out


# ----------------------------------------------------------------------------------
# JSON Lines
# ----------------------------------------------------------------------------------


def save_json(docs: Iterable[Document], file: Any, show_progress: bool = False,
              **kwargs: Any) -> int:
    """One JSON object per line (DocArray's ``save_json``); ``kwargs`` go to ``doc_to_dict``."""
    count = 0
    total = len(docs) if hasattr(docs, "__len__") else None
    with _open_write(file, text=True) as f, \
            progress(total, "saving", "doc", enabled=show_progress) as bar:
        for d in docs:
            f.write(codec.dumps_json(codec.doc_to_dict(d, **kwargs), "a Document"))
            f.write("\n")
            count += 1
            bar.update()
    return count


def iter_json(file: Any) -> Iterator[Document]:
    """Documents from JSON Lines, one at a time (a whole-file JSON list also works)."""
    name = _name(file)
    with _open_read(file, text=True) as f:
        start, first = next(((i, line) for i, line in enumerate(f, 1) if line.strip()),
                            (0, ""))
        if first.lstrip().startswith("["):  # one JSON array, possibly over many lines
            yield from codec.docs_from_json(first + f.read())
            return
        for lineno, line in itertools.chain([(start, first)], enumerate(f, start + 1)):
            if not line.strip():
                continue
            try:
                yield codec.doc_from_dict(codec.loads_json(line))
            except MalformedDataError as exc:
                raise MalformedDataError(f"{name!r} line {lineno}: {exc}") from exc


def load_json(file: Any) -> list[Document]:
    """All Documents of a JSON Lines file (or a JSON list) written by :func:`save_json`."""
    return list(iter_json(file))


# ----------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------

_CSV_FIELDS = ("id", "parent_id", "granularity", "adjacency", "text", "blob", "tensor",
               "embedding", "uri", "mime_type", "modality", "offset", "weight")
_TAG_PREFIX = "tag__"


def _csv_cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    return codec.dumps_json(value, "a CSV cell")


def _looks_like_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _tag_cell(value: Any) -> str:
    """A tag value as a cell: plain text for strings, JSON for everything else (and for
    strings that would read back as JSON, such as ``"1"`` or ``""``), so types survive."""
    if isinstance(value, str) and value and not _looks_like_json(value):
        return value
    return codec.dumps_json(value, "a tag")


def _tag_value(cell: str) -> Any:
    """The inverse of :func:`_tag_cell`: JSON if the cell parses as JSON, else the text."""
    try:
        return json.loads(cell)
    except ValueError:
        return cell


def save_csv(docs: Iterable[Document], file: Any, flatten_tags: bool = True,
             exclude_fields: Iterable[str] = ()) -> int:
    """Scalar fields, arrays (as JSON array dicts), blob (base64) and tags as CSV columns.

    With ``flatten_tags`` each top-level tag is a ``tag__<key>`` column (strings as
    text, other values as JSON, so :func:`load_csv` gets int / float / bool / None back);
    otherwise one ``tags`` column holds JSON. Chunks, matches and scores are not written.
    """
    docs = list(docs)
    skip = set(exclude_fields)
    rows = [codec.doc_to_dict(d, exclude=("chunks", "matches", "scores", "evaluations"))
            for d in docs]
    fields = [k for k in _CSV_FIELDS if k not in skip and any(k in r for r in rows)]
    if "location" not in skip and any("location" in r for r in rows):
        fields.append("location")
    tag_keys: list[str] = []
    if "tags" not in skip:
        if flatten_tags:
            seen: dict[str, None] = {}
            for r in rows:
                seen.update(dict.fromkeys(r.get("tags", {})))
            tag_keys = list(seen)
        elif any("tags" in r for r in rows):
            fields.append("tags")
    with _open_write(file, text=True) as f:
        writer = csv.writer(f)
        writer.writerow(fields + [_TAG_PREFIX + k for k in tag_keys])
        for r in rows:
            tags = r.get("tags", {})
            writer.writerow([_csv_cell(r[k]) if k in r else "" for k in fields]
                            + [_tag_cell(tags[k]) if k in tags else "" for k in tag_keys])
    return len(rows)


def _csv_value(field: str, cell: str) -> Any:
    if field in ("granularity", "adjacency"):
        return int(cell)
    if field in ("offset", "weight"):
        return float(cell)
    if field in ("tensor", "embedding", "location", "tags"):
        return codec.loads_json(cell)
    return cell


def load_csv(file: Any, field_resolver: dict[str, str] | None = None,
             size: int | None = None, dialect: str | Any = "excel") -> list[Document]:
    """Documents from a CSV with a header row, like DocArray's ``from_csv``.

    Columns named like fields (or mapped by ``field_resolver``: column -> field) fill
    those fields. ``tag__x`` columns become tag ``x``, read as JSON when the cell is JSON
    (``3`` -> 3, ``true`` -> True) and as text otherwise; other unknown columns become
    string tags, as in DocArray. Empty cells are skipped. ``size`` stops after that many rows.
    """
    resolver = field_resolver or {}
    name = _name(file)
    out: list[Document] = []
    with _open_read(file, text=True) as f:
        reader = csv.reader(f, dialect=dialect)
        try:
            header = next(reader)
        except StopIteration:
            return out
        except csv.Error as exc:
            raise MalformedDataError(f"{name!r} is not valid CSV: {exc}") from exc
        columns = [resolver.get(c, c) for c in header]
        try:
            for lineno, row in enumerate(reader, 2):
                if size is not None and len(out) >= size:
                    break
                if not row:
                    continue
                d: dict[str, Any] = {}
                tags: dict[str, Any] = {}
                for col, cell in zip(columns, row, strict=False):  # short rows are fine
                    if cell == "":
                        continue
                    if col.startswith(_TAG_PREFIX):
                        tags[col[len(_TAG_PREFIX):]] = _tag_value(cell)
                    elif col in _CSV_FIELDS or col in ("location", "tags"):
                        try:
                            d[col] = _csv_value(col, cell)
                        except (ValueError, MalformedDataError) as exc:
                            raise MalformedDataError(
                                f"{name!r} line {lineno}, column {col!r}: {exc}") from exc
                    else:
                        tags[col] = cell
                if tags:
                    d["tags"] = {**(d.get("tags") or {}), **tags}
                try:
                    out.append(codec.doc_from_dict(d))
                except MalformedDataError as exc:
                    raise MalformedDataError(f"{name!r} line {lineno}: {exc}") from exc
        except csv.Error as exc:
            raise MalformedDataError(f"{name!r} is not valid CSV: {exc}") from exc
    return out

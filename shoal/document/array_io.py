"""DocArray 0.21's line, CSV and DataFrame I/O of ``DocumentArray``: ``from_lines``,
``from_ndjson``, ``from_csv`` / ``load_csv`` options, ``save_csv`` options,
``save_embeddings_csv``, ``to_dataframe`` / ``from_dataframe``.

Readers are generators of Documents, so a disk-backed array is filled in batches.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import os
import random
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import numpy as np

from shoal.errors import BadInputError, EmptyArrayError, MalformedDataError, MissingExtraError

from shoal.document import fileio
from shoal.document.document import Document

if TYPE_CHECKING:  # pragma: no cover
    from shoal.document.array import DocumentArray

__all__ = ["iter_lines", "iter_ndjson", "iter_csv", "save_csv", "save_embeddings_csv",
           "to_dataframe", "from_dataframe_docs"]

#: File extensions ``from_lines(filepath=...)`` reads as JSON lines / CSV (as DocArray).
JSONL_EXT = frozenset({".jsonlines", ".ndjson", ".jsonl", ".jl", ".ldjson"})
CSV_EXT = frozenset({".csv", ".tcsv"})


def _subsample(items: Iterable[Any], size: int | None, sampling_rate: float | None) -> Iterator[Any]:
    """DocArray's ``_subsample``: keep each item with probability ``sampling_rate``, stop
    after ``size`` kept."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0):
        raise BadInputError(f"size must be a non-negative integer or None, got {size!r}")
    if sampling_rate is not None:
        if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, (int, float)) \
                or not 0 <= sampling_rate <= 1:
            raise BadInputError(f"sampling_rate must be a number in [0, 1] or None, got {sampling_rate!r}")
        items = (x for x in items if random.random() < sampling_rate)
    return itertools.islice(items, size)


def _open_text(path: Any, mode: str = "r", encoding: str = "utf-8") -> Any:
    try:
        return open(os.path.expanduser(os.fspath(path)), mode,
                    **({} if "b" in mode else {"encoding": encoding, "newline": ""}))
    except FileNotFoundError as exc:
        raise BadInputError(f"no such file: {os.fspath(path)!r}") from exc
    except OSError as exc:
        raise BadInputError(f"cannot read {os.fspath(path)!r}: {exc}") from exc


def iter_ndjson(fp: Any, field_resolver: dict[str, str] | None = None, size: int | None = None,
                sampling_rate: float | None = None) -> Iterator[Document]:
    """One Document per JSON object line of ``fp`` (lines, a file object, or a path);
    blank lines are skipped. Keys that are not fields land in tags."""
    if isinstance(fp, (str, os.PathLike)):
        with _open_text(fp) as f:
            yield from iter_ndjson(f, field_resolver, size, sampling_rate)
        return
    if isinstance(fp, (bytes, bytearray)):
        raise BadInputError("from_ndjson takes lines, a file object or a path, not bytes")
    name = getattr(fp, "name", "<lines>")
    numbered = ((n, line) for n, line in enumerate(fp, 1) if line.strip())
    for n, line in _subsample(numbered, size, sampling_rate):
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise MalformedDataError(f"{name!r} line {n} is not JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise MalformedDataError(
                f"{name!r} line {n} is a JSON {type(value).__name__}, not an object of fields")
        yield Document(value, field_resolver=field_resolver)


def iter_csv(file: Any, field_resolver: dict[str, str] | None = None, size: int | None = None,
             sampling_rate: float | None = None, dialect: str | Any = "excel",
             encoding: str = "utf-8") -> Iterator[Document]:
    """Documents of a CSV with a header row (see :func:`shoal.document.fileio.load_csv`):
    ``file`` a path, a file object or lines; ``dialect='auto'`` sniffs it."""
    if isinstance(file, (str, os.PathLike)):
        with _open_text(file, encoding=encoding) as f:
            yield from iter_csv(f, field_resolver, size, sampling_rate, dialect)
        return
    if isinstance(file, (list, tuple)):  # lines, as from_lines(lines=..., line_format='csv')
        file = io.StringIO("".join(x if x.endswith("\n") else x + "\n" for x in file))
    if isinstance(dialect, str) and dialect == "auto":
        dialect = _sniff(file)
    try:
        csv.reader([], dialect=dialect)
    except (csv.Error, TypeError) as exc:
        raise BadInputError(f"unknown CSV dialect {dialect!r}: {exc}") from exc
    # subsampling happens after parsing: rows are few enough per Document to hold
    docs = fileio.load_csv(file, field_resolver, size if sampling_rate is None else None, dialect)
    yield from _subsample(docs, size, sampling_rate)


def _sniff(f: Any) -> Any:
    """DocArray's ``dialect='auto'``: sniff the first 1024 characters, else ``'excel'``."""
    try:
        start = f.tell()
        head = f.read(1024)
        f.seek(start)
    except (OSError, AttributeError, ValueError) as exc:
        raise BadInputError("dialect='auto' needs a seekable file or a path") from exc
    if isinstance(head, bytes):
        head = head.decode("utf-8", "replace")
    try:
        return csv.Sniffer().sniff(head)
    except csv.Error:
        return "excel"


def _plain(lines: Iterable[Any], size: int | None, sampling_rate: float | None) -> Iterator[Document]:
    """Lines that are neither JSON nor CSV: one text (or, read as bytes, blob) Document
    each, without the line ending. (DocArray yields bare strings there, which its array
    then refuses.)"""
    for line in _subsample(lines, size, sampling_rate):
        if isinstance(line, (bytes, bytearray)):
            yield Document(blob=bytes(line).rstrip(b"\r\n"))
        elif isinstance(line, str):
            yield Document(text=line.rstrip("\r\n"))
        else:
            raise BadInputError(f"lines must be strings, got {type(line).__name__}")


def iter_lines(lines: Iterable[str] | None = None, filepath: Any = None, read_mode: str = "r",
               line_format: str = "json", field_resolver: dict[str, str] | None = None,
               size: int | None = None, sampling_rate: float | None = None) -> Iterator[Document]:
    """DocArray's ``from_lines``: ``filepath`` read by its extension (JSON lines, CSV, else
    one Document per line), or ``lines`` read as ``line_format`` (``'json'``, ``'csv'``,
    anything else: one text Document per line)."""
    if read_mode not in ("r", "rb"):
        raise BadInputError(f"read_mode must be 'r' or 'rb', got {read_mode!r}")
    if filepath:
        ext = os.path.splitext(os.fspath(filepath))[1]
        with _open_text(filepath, read_mode) as f:
            if ext in JSONL_EXT:
                yield from iter_ndjson(f, field_resolver, size, sampling_rate)
            elif ext in CSV_EXT:
                yield from iter_csv(f, field_resolver, size, sampling_rate)
            else:
                yield from _plain(f, size, sampling_rate)
    elif lines:
        if isinstance(lines, (str, bytes)):
            raise BadInputError("lines must be a list (or iterable) of strings, not one string")
        if line_format == "json":
            yield from iter_ndjson(lines, field_resolver, size, sampling_rate)
        elif line_format == "csv":
            yield from iter_csv(list(lines), field_resolver, size, sampling_rate)
        else:
            yield from _plain(lines, size, sampling_rate)
    else:
        raise BadInputError('from_lines needs "filepath" or "lines"; both are empty')


def save_csv(docs: DocumentArray, file: Any, flatten_tags: bool = True,
             exclude_fields: Sequence[str] | None = None, dialect: str | Any = "excel",
             with_header: bool = True, encoding: str = "utf-8") -> None:
    """:func:`shoal.document.fileio.save_csv` with DocArray's ``dialect``, ``with_header``
    and ``encoding`` options (the defaults write straight through, atomically)."""
    if isinstance(exclude_fields, str):
        exclude_fields = [exclude_fields]
    exclude = tuple(exclude_fields or ())
    plain = dialect == "excel" and with_header and encoding.lower().replace("-", "") == "utf8"
    if plain:
        fileio.save_csv(docs, file, flatten_tags=flatten_tags, exclude_fields=exclude)
        return
    try:
        csv.writer(io.StringIO(), dialect=dialect)
    except (csv.Error, TypeError) as exc:
        raise BadInputError(f"unknown CSV dialect {dialect!r}: {exc}") from exc
    buf = io.StringIO()
    fileio.save_csv(docs, buf, flatten_tags=flatten_tags, exclude_fields=exclude)
    rows = csv.reader(io.StringIO(buf.getvalue()))
    if not with_header:
        next(rows, None)
    if hasattr(file, "write"):
        csv.writer(file, dialect=dialect).writerows(rows)
        return
    try:
        with open(os.fspath(file), "w", encoding=encoding, newline="") as f:
            csv.writer(f, dialect=dialect).writerows(rows)
    except (LookupError, UnicodeEncodeError) as exc:
        raise BadInputError(f"cannot write CSV with encoding {encoding!r}: {exc}") from exc


def save_embeddings_csv(da: DocumentArray, file: Any, encoding: str = "utf-8", **kwargs: Any) -> None:
    """All embeddings, one row per Document, with :func:`numpy.savetxt` (``kwargs`` go to
    it: ``delimiter='\\t'``, ``fmt='%.4f'``...), as DocArray writes them."""
    emb = da.embeddings
    if emb is None:
        raise EmptyArrayError(
            "the array has no embeddings to save; call .embed(model) or set .embeddings first")
    emb = np.asarray(emb)
    if emb.ndim != 2:
        emb = emb.reshape(len(emb), -1)

    def write(f: Any) -> None:
        try:
            np.savetxt(f, emb, **kwargs)
        except (TypeError, ValueError) as exc:
            raise BadInputError(f"numpy.savetxt refused the options {sorted(kwargs)}: {exc}") from exc

    if hasattr(file, "write"):
        write(file)
    elif encoding.lower().replace("-", "") == "utf8":
        with fileio._open_write(file, text=True) as f:  # atomic: a temp file renamed
            write(f)
    else:
        with open(os.fspath(file), "w", encoding=encoding) as f:
            write(f)


def _pandas() -> Any:
    try:
        import pandas  # noqa: PLC0415
    except ImportError as exc:
        raise MissingExtraError(
            "to_dataframe / from_dataframe need pandas, which shoal does not install: "
            "pip install pandas") from exc
    return pandas


def to_dataframe(da: DocumentArray, **kwargs: Any) -> Any:
    """A :class:`pandas.DataFrame` of ``da.to_list()`` (a row per Document, a column per
    field in use); ``kwargs`` (``columns``, ``dtype``) go to the DataFrame, as DocArray
    passes them to ``DataFrame.from_dict`` (whose ``orient`` a list of rows ignores)."""
    pandas = _pandas()
    kwargs.pop("orient", None)
    try:
        return pandas.DataFrame(da.to_list(), **kwargs)
    except TypeError as exc:
        raise BadInputError(f"pandas.DataFrame refused the options {sorted(kwargs)}: {exc}") from exc


def from_dataframe_docs(df: Any) -> Iterator[Document]:
    """A Document per row of ``df`` (columns name fields, others become tags); NaN cells
    (pandas' missing values) are dropped, as DocArray drops them."""
    pandas = _pandas()
    if not isinstance(df, pandas.DataFrame):
        raise BadInputError(f"from_dataframe takes a pandas.DataFrame, got {type(df).__name__}")
    for row in df.to_dict(orient="records"):
        yield Document({str(k): v for k, v in row.items() if not (isinstance(v, float) and v != v)})

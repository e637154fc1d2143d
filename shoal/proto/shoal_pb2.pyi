from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NdArrayProto(_message.Message):
    __slots__ = ("buffer", "shape", "dtype")
    BUFFER_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    buffer: bytes
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    def __init__(self, buffer: _Optional[bytes] = ..., shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ...) -> None: ...

class NamedScoreProto(_message.Message):
    __slots__ = ("value", "op_type", "description", "ref_id")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    OP_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REF_ID_FIELD_NUMBER: _ClassVar[int]
    value: float
    op_type: str
    description: str
    ref_id: str
    def __init__(self, value: _Optional[float] = ..., op_type: _Optional[str] = ..., description: _Optional[str] = ..., ref_id: _Optional[str] = ...) -> None: ...

class DocumentProto(_message.Message):
    __slots__ = ("id", "parent_id", "granularity", "adjacency", "text", "blob", "tensor", "embedding", "uri", "mime_type", "tags_json", "modality", "offset", "location", "weight", "chunks", "matches", "scores", "evaluations")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: NamedScoreProto
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[NamedScoreProto, _Mapping]] = ...) -> None: ...
    class EvaluationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: NamedScoreProto
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[NamedScoreProto, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    ADJACENCY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    TAGS_JSON_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    parent_id: str
    granularity: int
    adjacency: int
    text: str
    blob: bytes
    tensor: NdArrayProto
    embedding: NdArrayProto
    uri: str
    mime_type: str
    tags_json: str
    modality: str
    offset: float
    location: _containers.RepeatedScalarFieldContainer[float]
    weight: float
    chunks: _containers.RepeatedCompositeFieldContainer[DocumentProto]
    matches: _containers.RepeatedCompositeFieldContainer[DocumentProto]
    scores: _containers.MessageMap[str, NamedScoreProto]
    evaluations: _containers.MessageMap[str, NamedScoreProto]
    def __init__(self, id: _Optional[str] = ..., parent_id: _Optional[str] = ..., granularity: _Optional[int] = ..., adjacency: _Optional[int] = ..., text: _Optional[str] = ..., blob: _Optional[bytes] = ..., tensor: _Optional[_Union[NdArrayProto, _Mapping]] = ..., embedding: _Optional[_Union[NdArrayProto, _Mapping]] = ..., uri: _Optional[str] = ..., mime_type: _Optional[str] = ..., tags_json: _Optional[str] = ..., modality: _Optional[str] = ..., offset: _Optional[float] = ..., location: _Optional[_Iterable[float]] = ..., weight: _Optional[float] = ..., chunks: _Optional[_Iterable[_Union[DocumentProto, _Mapping]]] = ..., matches: _Optional[_Iterable[_Union[DocumentProto, _Mapping]]] = ..., scores: _Optional[_Mapping[str, NamedScoreProto]] = ..., evaluations: _Optional[_Mapping[str, NamedScoreProto]] = ...) -> None: ...

class DocumentArrayProto(_message.Message):
    __slots__ = ("docs",)
    DOCS_FIELD_NUMBER: _ClassVar[int]
    docs: _containers.RepeatedCompositeFieldContainer[DocumentProto]
    def __init__(self, docs: _Optional[_Iterable[_Union[DocumentProto, _Mapping]]] = ...) -> None: ...

class NamedScoreEntryProto(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: NamedScoreProto
    def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[NamedScoreProto, _Mapping]] = ...) -> None: ...

class DocumentViewProto(_message.Message):
    __slots__ = ("id", "parent_id", "granularity", "adjacency", "text", "blob", "tensor", "embedding", "uri", "mime_type", "tags_json", "modality", "offset", "location", "weight", "chunks", "matches", "scores", "evaluations")
    ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    ADJACENCY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    TAGS_JSON_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    parent_id: str
    granularity: int
    adjacency: int
    text: str
    blob: bytes
    tensor: bytes
    embedding: bytes
    uri: str
    mime_type: str
    tags_json: str
    modality: str
    offset: float
    location: _containers.RepeatedScalarFieldContainer[float]
    weight: float
    chunks: _containers.RepeatedCompositeFieldContainer[DocumentViewProto]
    matches: _containers.RepeatedCompositeFieldContainer[DocumentViewProto]
    scores: _containers.RepeatedCompositeFieldContainer[NamedScoreEntryProto]
    evaluations: _containers.RepeatedCompositeFieldContainer[NamedScoreEntryProto]
    def __init__(self, id: _Optional[str] = ..., parent_id: _Optional[str] = ..., granularity: _Optional[int] = ..., adjacency: _Optional[int] = ..., text: _Optional[str] = ..., blob: _Optional[bytes] = ..., tensor: _Optional[bytes] = ..., embedding: _Optional[bytes] = ..., uri: _Optional[str] = ..., mime_type: _Optional[str] = ..., tags_json: _Optional[str] = ..., modality: _Optional[str] = ..., offset: _Optional[float] = ..., location: _Optional[_Iterable[float]] = ..., weight: _Optional[float] = ..., chunks: _Optional[_Iterable[_Union[DocumentViewProto, _Mapping]]] = ..., matches: _Optional[_Iterable[_Union[DocumentViewProto, _Mapping]]] = ..., scores: _Optional[_Iterable[_Union[NamedScoreEntryProto, _Mapping]]] = ..., evaluations: _Optional[_Iterable[_Union[NamedScoreEntryProto, _Mapping]]] = ...) -> None: ...

class DocumentArrayViewProto(_message.Message):
    __slots__ = ("docs",)
    DOCS_FIELD_NUMBER: _ClassVar[int]
    docs: _containers.RepeatedCompositeFieldContainer[DocumentViewProto]
    def __init__(self, docs: _Optional[_Iterable[_Union[DocumentViewProto, _Mapping]]] = ...) -> None: ...

class RequestViewProto(_message.Message):
    __slots__ = ("header", "parameters_json", "data", "routes")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    header: HeaderProto
    parameters_json: str
    data: bytes
    routes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, header: _Optional[_Union[HeaderProto, _Mapping]] = ..., parameters_json: _Optional[str] = ..., data: _Optional[bytes] = ..., routes: _Optional[_Iterable[str]] = ...) -> None: ...

class ExceptionProto(_message.Message):
    __slots__ = ("name", "message", "executor", "traceback")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    name: str
    message: str
    executor: str
    traceback: str
    def __init__(self, name: _Optional[str] = ..., message: _Optional[str] = ..., executor: _Optional[str] = ..., traceback: _Optional[str] = ...) -> None: ...

class StatusProto(_message.Message):
    __slots__ = ("code", "description", "exception")
    class StatusCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OK: _ClassVar[StatusProto.StatusCode]
        ERROR: _ClassVar[StatusProto.StatusCode]
    OK: StatusProto.StatusCode
    ERROR: StatusProto.StatusCode
    CODE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EXCEPTION_FIELD_NUMBER: _ClassVar[int]
    code: StatusProto.StatusCode
    description: str
    exception: ExceptionProto
    def __init__(self, code: _Optional[_Union[StatusProto.StatusCode, str]] = ..., description: _Optional[str] = ..., exception: _Optional[_Union[ExceptionProto, _Mapping]] = ...) -> None: ...

class HeaderProto(_message.Message):
    __slots__ = ("request_id", "exec_endpoint", "target_executor", "status", "timeout_ms")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    TARGET_EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    exec_endpoint: str
    target_executor: str
    status: StatusProto
    timeout_ms: int
    def __init__(self, request_id: _Optional[str] = ..., exec_endpoint: _Optional[str] = ..., target_executor: _Optional[str] = ..., status: _Optional[_Union[StatusProto, _Mapping]] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class RequestProto(_message.Message):
    __slots__ = ("header", "parameters_json", "data", "routes")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    header: HeaderProto
    parameters_json: str
    data: DocumentArrayProto
    routes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, header: _Optional[_Union[HeaderProto, _Mapping]] = ..., parameters_json: _Optional[str] = ..., data: _Optional[_Union[DocumentArrayProto, _Mapping]] = ..., routes: _Optional[_Iterable[str]] = ...) -> None: ...

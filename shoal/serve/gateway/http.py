"""The HTTP (and WebSocket) gateway: a FastAPI app over a :class:`GatewayHandler`.

Routes (Jina 3's)::

    GET    /            health: ``{}`` while serving
    GET    /status      gateway and package info           (debug; no_debug_endpoints)
    POST   /post        any endpoint: body's ``exec_endpoint`` (debug; no_debug_endpoints)
    POST   /index       exec_endpoint '/index'               (crud; no_crud_endpoints)
    POST   /search      exec_endpoint '/search'              (crud)
    PUT    /update      exec_endpoint '/update'              (crud)
    DELETE /delete      exec_endpoint '/delete'              (crud)
    <expose_endpoint('/foo', summary=...)>                   POST /foo by default
    GET    /docs, /openapi.json                              Swagger UI and schema

The body is Jina's JSON (``{"data": [...], "parameters": {...}, "exec_endpoint": "/x",
"target_executor": "..."}``) and the answer is the response in the same shape, so
curl examples written for Jina work. Embeddings and tensors in the JSON answer are plain
nested lists (``"embedding": [0.1, 0.2]``, as Jina 3 / DocArray 0.21 write them); the
request may carry either lists or ``{"dtype", "shape", "data": base64}`` objects. A
caller that wants the exact dtype back sends ``X-Shoal-Array-Format: base64``. With
``Content-Type: application/x-protobuf`` the body and the answer are ``RequestProto``
bytes instead (what shoal's Client sends: raw bytes, the fastest path).
Errors: undecodable body 400, too large 413, timeout 504, an executor failure (or an
answer that cannot be serialized) 500 — each with the error in
``header.status.exception``. An ``exec_endpoint`` no executor binds passes the Documents
through unchanged (200, as in Jina); an unknown route is FastAPI's 404
``{"detail": "Not Found"}``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shoal.document.codec import (
    dumps_json, loads_json, request_from_bytes, request_from_json_dict,
    request_to_bytes, request_to_json_dict,
)
from shoal.errors import MalformedDataError, MissingExtraError, RequestTooLargeError
from shoal.serve.gateway.asgi import UvicornRunner
from shoal.serve.gateway.handler import encoded, error_status

if TYPE_CHECKING:
    from shoal.document.request import DataRequest
    from shoal.serve.gateway.config import GatewayConfig
    from shoal.serve.gateway.handler import GatewayHandler

__all__ = ["HTTPGateway", "WebSocketGateway", "build_app", "PROTOBUF_MEDIA_TYPE",
           "CRUD_ENDPOINTS", "ARRAY_FORMAT_HEADER", "encode_response"]

PROTOBUF_MEDIA_TYPE = "application/x-protobuf"
#: Request header choosing how a JSON answer writes arrays: ``list`` (default) or ``base64``.
ARRAY_FORMAT_HEADER = "x-shoal-array-format"
#: Jina 3 / DocArray 0.21 clients (curl, JS) read embeddings as plain lists.
DEFAULT_ARRAY_FORMAT = "list"
_ARRAY_FORMATS = ("list", "base64")
#: path -> HTTP method, as in Jina 3.
CRUD_ENDPOINTS = {"/index": "POST", "/search": "POST", "/update": "PUT", "/delete": "DELETE"}
_BODY_DOC = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "data": {"type": "array", "items": {"type": "object"},
                             "description": "Documents: objects with id, text, embedding, "
                                            "tags, ... (a plain string becomes a text Document)"},
                    "parameters": {"type": "object", "description": "passed to executors"},
                    "exec_endpoint": {"type": "string", "description": "endpoint to call "
                                      "(only read by /post)", "default": "/"},
                    "target_executor": {"type": "string", "description": "only this "
                                        "executor (a name or regex)"},
                },
            },
            "example": {"data": [{"text": "hello, world!"}], "parameters": {}},
        },
        PROTOBUF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary",
                                         "description": "shoal.RequestProto bytes"}},
    },
}


def _fastapi() -> Any:
    try:
        import fastapi  # noqa: PLC0415
    except ImportError as exc:
        raise MissingExtraError(
            "the HTTP / WebSocket gateway needs FastAPI: pip install 'shoal[serve]'") from exc
    return fastapi


async def read_body(request: Any, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes (RequestTooLargeError)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLargeError(
            f"the request has {int(declared)} bytes, more than the gateway's limit of "
            f"{limit}; send fewer documents per request (request_size=)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLargeError(
                f"the request is larger than the gateway's limit of {limit} bytes; send "
                "fewer documents per request (request_size=)")
        chunks.append(chunk)
    return b"".join(chunks)


def decode_request(body: bytes, protobuf: bool) -> DataRequest:
    """A request from a JSON or ``RequestProto`` body (MalformedDataError if it is neither)."""
    if protobuf:
        return request_from_bytes(body)
    return request_from_json_dict(loads_json(body) if body.strip() else {})


def encode_response(resp: DataRequest, protobuf: bool,
                    array_format: str = DEFAULT_ARRAY_FORMAT) -> bytes:
    """``RequestProto`` bytes, or Jina's JSON with arrays as ``array_format``."""
    if protobuf:
        return request_to_bytes(resp)
    body = request_to_json_dict(resp, array_format=array_format)
    return dumps_json(body, "the response").encode()


def array_format_of(headers: Any) -> str:
    """The ``X-Shoal-Array-Format`` asked for (MalformedDataError if not list / base64)."""
    value = (headers.get(ARRAY_FORMAT_HEADER) or DEFAULT_ARRAY_FORMAT).strip().lower()
    if value not in _ARRAY_FORMATS:
        raise MalformedDataError(
            f"{ARRAY_FORMAT_HEADER}: {value!r} is not one of {', '.join(_ARRAY_FORMATS)}")
    return value


def build_app(handler: GatewayHandler, config: GatewayConfig) -> Any:
    """The FastAPI app of an HTTP gateway, or of a WebSocket one (``config.protocol``)."""
    fastapi = _fastapi()
    from starlette.responses import JSONResponse, Response  # noqa: PLC0415

    app = fastapi.FastAPI(title=config.title, description=config.description,
                          version=_version())
    if config.cors:
        from fastapi.middleware.cors import CORSMiddleware  # noqa: PLC0415

        # any origin, without credentials: a browser never sends cookies to it from another
        # site (allow_credentials with '*' would reflect every origin as trusted)
        app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=False,
                           allow_methods=["*"], allow_headers=["*"])
    limit = config.max_request_bytes

    def respond(resp: DataRequest, protobuf: bool,
                array_format: str = DEFAULT_ARRAY_FORMAT) -> Any:
        body, resp = encoded(resp, lambda r: encode_response(r, protobuf, array_format))
        status, _ = error_status(resp.header.error)
        return Response(body, status_code=status,
                        media_type=PROTOBUF_MEDIA_TYPE if protobuf else "application/json")

    def route(endpoint: str | None) -> Any:
        async def serve(request: fastapi.Request) -> Any:
            protobuf = request.headers.get("content-type", "").startswith(PROTOBUF_MEDIA_TYPE)
            try:
                array_format = array_format_of(request.headers)
            except MalformedDataError as exc:
                return respond(handler.malformed(exc), protobuf)
            try:
                body = await read_body(request, limit)
            except RequestTooLargeError as exc:
                return respond(handler.rejected(None, exc), protobuf, array_format)
            try:
                req = decode_request(body, protobuf)
            except MalformedDataError as exc:
                return respond(handler.malformed(exc), protobuf, array_format)
            if endpoint is not None:
                req.header.exec_endpoint = endpoint
            return respond(await handler.handle(req), protobuf, array_format)
        serve.__annotations__["request"] = fastapi.Request  # resolved here, not by name
        return serve

    @app.get("/", response_model=None, tags=["Debug"],
             summary="Health of the gateway: {} while it serves")
    async def health() -> Any:
        return JSONResponse({})

    if not config.no_debug_endpoints:
        @app.get("/status", response_model=None, tags=["Debug"],
                 summary="Package, protocol and port of the gateway")
        async def status() -> Any:
            return JSONResponse({"shoal": {"version": _version()},
                                 "gateway": {"protocol": config.protocol,
                                             "port": config.port}})

    if config.protocol == "websocket":
        from shoal.serve.gateway.websocket import add_websocket_route  # noqa: PLC0415

        add_websocket_route(app, handler, config)
        return app

    if not config.no_debug_endpoints:
        app.add_api_route("/post", route(None), methods=["POST"], tags=["Debug"],
                          response_model=None, name="post",
                          summary="Post a request to any endpoint (body's exec_endpoint)",
                          openapi_extra={"requestBody": _BODY_DOC})
    if not config.no_crud_endpoints:
        for path, method in CRUD_ENDPOINTS.items():
            app.add_api_route(path, route(path), methods=[method], tags=["CRUD"],
                              response_model=None, name=f"crud{path.replace('/', '_')}",
                              summary=f"Call the {path!r} endpoint of the Flow",
                              openapi_extra={"requestBody": _BODY_DOC})
    for ep in config.expose_endpoints:
        for method in ep.methods:  # one route per method: each its own OpenAPI operationId
            app.add_api_route(ep.path, route(ep.exec_endpoint), methods=[method],
                              response_model=None,
                              name=f"endpoint{ep.path.replace('/', '_')}_{method.lower()}",
                              summary=ep.summary or f"Call the {ep.exec_endpoint!r} endpoint",
                              description=ep.description, tags=list(ep.tags) or ["Endpoints"],
                              openapi_extra={"requestBody": _BODY_DOC})
    return app


def _version() -> str:
    from shoal import __version__  # noqa: PLC0415

    return __version__


class HTTPGateway(UvicornRunner):
    """FastAPI + uvicorn on ``config.port``."""

    protocol = "http"

    def __init__(self, handler: GatewayHandler, config: GatewayConfig) -> None:
        super().__init__(build_app(handler, config), config)
        self.handler = handler


class WebSocketGateway(HTTPGateway):
    """Requests streamed over one WebSocket per client at ``ws://host:port/``."""

    protocol = "websocket"

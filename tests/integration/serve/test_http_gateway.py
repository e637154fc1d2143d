"""The HTTP gateway spoken to directly, as curl would: Jina's JSON, routes, statuses."""
from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.timeout(60)


def url(gateway, path: str) -> str:
    return f"http://127.0.0.1:{gateway.port}{path}"


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_jina_json_body_and_crud_routes(gateway):
    body = {"data": [{"text": "hello"}, "plain string", {"id": "x1", "embedding": [1, 2, 3],
                                                         "tags": {"a": 1}}],
            "parameters": {"limit": 3}, "exec_endpoint": "/foo"}
    r = httpx.post(url(gateway, "/post"), json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["header"]["exec_endpoint"] == "/foo"
    assert out["header"]["status"]["code"] == "OK"
    assert [d["text"] for d in out["data"]] == ["hello!", "plain string!", "!"]
    assert out["data"][2]["id"] == "x1" and out["data"][2]["tags"] == {"a": 1}
    assert out["parameters"] == {"limit": 3, "endpoint": "/foo"}
    for path, method in (("/index", "POST"), ("/search", "POST"), ("/update", "PUT"),
                         ("/delete", "DELETE")):
        r = httpx.request(method, url(gateway, path), json={"data": [{"text": "t"}]})
        assert r.status_code == 200, (path, r.text)
        assert r.json()["parameters"]["endpoint"] == path
    assert httpx.post(url(gateway, "/search"), content=b"").status_code == 200
    assert httpx.get(url(gateway, "/")).json() == {}
    status = httpx.get(url(gateway, "/status")).json()
    assert status["gateway"]["protocol"] == "http" and "version" in status["shoal"]


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_openapi_and_swagger(gateway):
    r = httpx.get(url(gateway, "/docs"))
    assert r.status_code == 200 and "swagger" in r.text.lower()
    schema = httpx.get(url(gateway, "/openapi.json")).json()
    assert {"/", "/status", "/post", "/index", "/search", "/update", "/delete"} <= set(
        schema["paths"])
    body = schema["paths"]["/post"]["post"]["requestBody"]["content"]["application/json"]
    assert "data" in body["schema"]["properties"]


@pytest.mark.parametrize("gateway", [{"protocol": "http", "no_crud_endpoints": True,
                                      "no_debug_endpoints": True}], indirect=True)
def test_default_endpoints_can_be_hidden(gateway):
    for path in ("/index", "/search", "/post"):
        assert httpx.post(url(gateway, path), json={}).status_code == 404
    assert httpx.get(url(gateway, "/status")).status_code == 404
    assert httpx.get(url(gateway, "/")).status_code == 200
    paths = set(httpx.get(url(gateway, "/openapi.json")).json()["paths"])
    assert paths == {"/"}


@pytest.mark.parametrize("gateway", [{"protocol": "http", "no_crud_endpoints": True,
                                      "expose_endpoints": ({"exec_endpoint": "/foo",
                                                            "summary": "my endpoint"},)}],
                         indirect=True)
def test_expose_endpoint(gateway):
    r = httpx.post(url(gateway, "/foo"), json={"data": [{"text": "f"}]})
    assert r.status_code == 200 and r.json()["parameters"]["endpoint"] == "/foo"
    op = httpx.get(url(gateway, "/openapi.json")).json()["paths"]["/foo"]["post"]
    assert op["summary"] == "my endpoint"


@pytest.mark.parametrize("gateway", [{"protocol": "http", "cors": True}], indirect=True)
def test_cors(gateway):
    r = httpx.options(url(gateway, "/post"), headers={
        "Origin": "http://example.com", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] in ("*", "http://example.com")
    r = httpx.post(url(gateway, "/post"), json={}, headers={"Origin": "http://example.com"})
    assert "access-control-allow-origin" in r.headers


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_no_cors_by_default(gateway):
    r = httpx.post(url(gateway, "/post"), json={}, headers={"Origin": "http://example.com"})
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("gateway", [{"protocol": "http", "max_request_bytes": 2000,
                                      "timeout": 0.3}], indirect=True)
def test_error_statuses(gateway):
    def exception(r: httpx.Response) -> dict:
        return r.json()["header"]["status"]["exception"]

    r = httpx.post(url(gateway, "/post"), content=b"{not json",
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and exception(r)["name"] == "MalformedDataError"
    for bad in ({"parameters": 5}, {"data": 7}, {"exec_endpoint": 3}, [1, 2],
                {"data": [{"embedding": "abc"}]}):
        r = httpx.post(url(gateway, "/post"), json=bad)
        assert r.status_code == 400, (bad, r.text)
    r = httpx.post(url(gateway, "/post"), json={"data": [{"text": "x" * 5000}]})
    assert r.status_code == 413 and exception(r)["name"] == "RequestTooLargeError"
    r = httpx.post(url(gateway, "/post"), json={"exec_endpoint": "/missing"})
    assert r.status_code == 404 and exception(r)["name"] == "EndpointNotFoundError"
    assert httpx.post(url(gateway, "/nowhere"), json={}).status_code == 404
    r = httpx.post(url(gateway, "/post"), json={"exec_endpoint": "/error", "data": [{}]})
    assert r.status_code == 500
    exc = exception(r)
    assert (exc["name"], exc["executor"], exc["message"]) == ("ValueError", "fakeexec", "bad doc")
    assert "Traceback" in exc["traceback"]
    r = httpx.post(url(gateway, "/post"), json={"exec_endpoint": "/slow",
                                                "parameters": {"sleep": 2}})
    assert r.status_code == 504 and exception(r)["name"] == "RequestTimeoutError"
    assert httpx.post(url(gateway, "/post"), json={"data": ["ok"]}).status_code == 200


@pytest.mark.parametrize("gateway", [{"protocol": "http", "uvicorn_kwargs": {
    "loop": "asyncio", "http": "httptools"}}], indirect=True)
def test_uvicorn_kwargs_from_the_jina_docs(gateway):
    assert httpx.post(url(gateway, "/post"), json={"data": ["u"]}).json()["data"][0]["text"] == "u!"


@pytest.mark.parametrize("gateway", [{"protocol": "http", "uvicorn_kwargs": {
    "headers": [("x-served-by", "shoal")]}}], indirect=True)
def test_uvicorn_kwargs_reach_uvicorn(gateway):
    assert httpx.get(url(gateway, "/")).headers["x-served-by"] == "shoal"

"""Conversions between aiohttp / the SDK and azure.functions types."""

import json

import azure.functions as func
import pytest

from localdev.host.convert import decode_properties, to_http_request, to_web_response


def test_http_request_carries_method_url_headers_params_route_params_and_body():
    request = to_http_request(
        "post",
        "http://127.0.0.1:7071/api/items/7?code=k&x=1&x=2",
        [("Content-Type", "application/json"), ("X-Many", "a"), ("x-many", "b")],
        [("code", "k"), ("x", "1"), ("x", "2")],
        {"id": "7"},
        b'{"a": 1}',
    )
    assert request.method == "POST"
    assert request.url == "http://127.0.0.1:7071/api/items/7?code=k&x=1&x=2"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["X-Many"] == "a, b"
    assert request.params == {"code": "k", "x": "1"}
    assert request.route_params == {"id": "7"}
    assert request.get_body() == b'{"a": 1}'
    assert request.get_json() == {"a": 1}


def test_http_response_keeps_status_headers_and_mimetype():
    result = func.HttpResponse(
        json.dumps({"id": "x"}),
        status_code=202,
        mimetype="application/json",
        headers={"Retry-After": "5"},
    )
    response = to_web_response(result)
    assert response.status == 202
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.body == b'{"id": "x"}'


def test_explicit_content_type_header_wins_over_mimetype():
    result = func.HttpResponse("{}", headers={"Content-Type": "application/problem+json"})
    assert to_web_response(result).headers["Content-Type"] == "application/problem+json"


def test_str_and_none_results():
    text = to_web_response("hello")
    assert (text.status, text.text, text.content_type) == (200, "hello", "text/plain")
    assert to_web_response(None).status == 204


def test_other_results_are_errors():
    with pytest.raises(TypeError, match="HttpResponse or str"):
        to_web_response({"a": 1})


def test_application_properties_are_decoded_at_the_boundary():
    raw = {b"tenant": b"acme", b"schema_version": 1, "already": "str", b"blob": b"\xff\xfe"}
    assert decode_properties(raw) == {
        "tenant": "acme",
        "schema_version": 1,
        "already": "str",
        "blob": b"\xff\xfe",
    }
    assert decode_properties(None) == {}

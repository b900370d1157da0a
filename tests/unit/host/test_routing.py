"""Route templates, precedence, 404 and 405."""

import pytest

from localdev.host.discovery import HttpFunction
from localdev.host.routing import (
    RouteMatch,
    RouteMiss,
    Router,
    RouteTemplateError,
    compile_template,
)


def http_function(name, route, methods=None):
    return HttpFunction(
        name=name,
        callable=lambda req: None,
        trigger_arg="req",
        context_arg=None,
        is_async=False,
        route=route,
        methods=frozenset(methods) if methods else None,
        auth_level="anonymous",
    )


def test_literal_route_is_case_insensitive_and_allows_trailing_slash():
    template = compile_template("api", "registrations")
    assert template.match("/api/registrations") == {}
    assert template.match("/API/Registrations/") == {}
    assert template.match("/api/registrations/x") is None


def test_route_parameters_are_decoded():
    template = compile_template("api", "users/{user_id}/items/{item}")
    assert template.match("/api/users/auth0%7Cabc/items/7") == {"user_id": "auth0|abc", "item": "7"}


def test_encoded_slash_stays_inside_one_parameter():
    template = compile_template("api", "users/{user_id}")
    assert template.match("/api/users/samlp%2Facme") == {"user_id": "samlp/acme"}


def test_int_constraint():
    template = compile_template("api", "items/{id:int}")
    assert template.match("/api/items/12") == {"id": "12"}
    assert template.match("/api/items/abc") is None


def test_optional_and_catch_all():
    optional = compile_template("api", "files/{name?}")
    assert optional.match("/api/files") == {}
    assert optional.match("/api/files/a.txt") == {"name": "a.txt"}
    catch_all = compile_template("api", "static/{*path}")
    assert catch_all.match("/api/static/a/b/c.css") == {"path": "a/b/c.css"}


def test_empty_prefix():
    assert compile_template("", "hello").match("/hello") == {}


def test_catch_all_must_be_last():
    with pytest.raises(RouteTemplateError):
        compile_template("api", "{*path}/x")


def test_literal_beats_parameter_regardless_of_registration_order():
    router = Router("api", [http_function("by_id", "users/{id}"), http_function("me", "users/me")])
    found = router.resolve("GET", "/api/users/me")
    assert isinstance(found, RouteMatch)
    assert found.function.name == "me"
    found = router.resolve("GET", "/api/users/42")
    assert isinstance(found, RouteMatch)
    assert found.function.name == "by_id"
    assert found.route_params == {"id": "42"}


def test_unknown_path_is_404():
    router = Router("api", [http_function("a", "a")])
    assert router.resolve("GET", "/api/b") == RouteMiss(status=404, allowed=frozenset())
    assert router.resolve("GET", "/a") == RouteMiss(status=404, allowed=frozenset())


def test_wrong_method_is_405_with_allowed_methods():
    router = Router("api", [http_function("ingest", "registrations", ["POST"])])
    assert router.resolve("GET", "/api/registrations") == RouteMiss(
        status=405, allowed=frozenset({"POST"})
    )
    assert isinstance(router.resolve("post", "/api/registrations"), RouteMatch)


def test_no_methods_means_every_method():
    router = Router("api", [http_function("any", "any")])
    for method in ("GET", "POST", "DELETE", "PATCH"):
        assert isinstance(router.resolve(method, "/api/any"), RouteMatch)

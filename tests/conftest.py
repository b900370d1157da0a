"""Test-wide configuration: each service's fixtures live in their own plugin module."""

pytest_plugins = [
    "tests.fixtures.ports",
    "tests.fixtures.azurite",
    "tests.fixtures.servicebus",
    "tests.fixtures.stack",
]

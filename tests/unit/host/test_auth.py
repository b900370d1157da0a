"""Auth levels: which key opens which function."""

import pytest

from localdev.host.auth import HostKeys, is_authorized, presented_key

KEYS = HostKeys(function_keys=("fkey",), master_key="mkey")


@pytest.mark.parametrize(
    ("level", "key", "allowed"),
    [
        ("anonymous", None, True),
        ("anonymous", "wrong", True),
        ("function", None, False),
        ("function", "", False),
        ("function", "wrong", False),
        ("function", "fkey", True),
        ("function", "mkey", True),
        ("admin", "fkey", False),
        ("admin", "mkey", True),
        ("admin", None, False),
    ],
)
def test_auth_levels(level, key, allowed):
    assert is_authorized(level, key, KEYS) is allowed


def test_key_from_header_wins_over_query():
    assert presented_key({"x-functions-key": "h"}, {"code": "q"}) == "h"
    assert presented_key({}, {"code": "q"}) == "q"
    assert presented_key({}, {}) is None


def test_keys_from_settings_generate_a_master_key_when_unset():
    keys, generated = HostKeys.from_settings({"LOCALDEV_FUNCTION_KEY": "abc"})
    assert generated is True
    assert keys.function_keys == ("abc",)
    assert len(keys.master_key) >= 40


def test_keys_from_settings_use_the_configured_master_key():
    keys, generated = HostKeys.from_settings({"LOCALDEV_MASTER_KEY": "m"})
    assert generated is False
    assert keys.master_key == "m"
    assert keys.function_keys == ()
    assert not is_authorized("function", "", keys)

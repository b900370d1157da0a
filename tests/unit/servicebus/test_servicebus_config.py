"""Config.json validation: every mistake is one line naming the field."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from localdev.servicebus.broker.config import ConfigError, load_config, parse_config, parse_duration
from localdev.servicebus.cli import DEFAULT_CONFIG
from localdev.servicebus.process import write_config


def doc(**props) -> dict:
    return {
        "UserConfig": {
            "Namespaces": [{"Name": "ns", "Queues": [{"Name": "q", "Properties": props}]}]
        }
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT1M", 60),
        ("P14D", 14 * 86400),
        ("PT1H", 3600),
        ("PT0.5S", 0.5),
        ("P1DT2H3M4S", 93784),
        ("P2W", 1209600),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "P", "PT", "1M", "PT1X", "P1H", "PT-1S"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_project_config_has_the_design_defaults():
    (queue,) = load_config(DEFAULT_CONFIG)
    assert queue.name == "registrations"
    assert (queue.max_delivery_count, queue.lock_duration) == (10, 60)
    assert (queue.requires_duplicate_detection, queue.duplicate_window) == (True, 3600)
    assert (queue.dead_lettering_on_expiration, queue.default_ttl) == (True, 14 * 86400)


def test_write_config_fills_defaults(tmp_path):
    path = write_config(tmp_path / "c.json", {"fast": {"LockDuration": "PT2S"}})
    (queue,) = load_config(path)
    assert (queue.name, queue.lock_duration, queue.max_delivery_count) == ("fast", 2, 10)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, "UserConfig: missing"),
        ({"UserConfig": {"Namespaces": []}}, "UserConfig.Namespaces: at least one"),
        (doc(LockDuration="1 minute"), "Properties.LockDuration"),
        (doc(LockDuration="PT6M"), "Properties.LockDuration"),
        (doc(MaxDeliveryCount=0), "Properties.MaxDeliveryCount"),
        (doc(MaxDeliveryCount=True), "Properties.MaxDeliveryCount: expected int"),
        (doc(RequiresSession=True), "Properties.RequiresSession: sessions are not supported"),
        (doc(ForwardTo="other"), "Properties.ForwardTo"),
        (doc(Colour="blue"), "Properties.Colour: unknown property"),
        (
            doc(DeadLetteringOnMessageExpiration="yes"),
            "Properties.DeadLetteringOnMessageExpiration",
        ),
    ],
)
def test_errors_name_the_field(document, field):
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    assert field in str(caught.value)


def test_topics_and_duplicate_queues_are_refused():
    topics = doc()
    topics["UserConfig"]["Namespaces"][0]["Topics"] = [{"Name": "t"}]
    with pytest.raises(ConfigError, match=r"Namespaces\[0\]\.Topics"):
        parse_config(topics)
    twice = doc()
    twice["UserConfig"]["Namespaces"][0]["Queues"].append({"Name": "Q"})
    with pytest.raises(ConfigError, match="duplicate queue"):
        parse_config(twice)


def test_cli_exits_2_with_one_line_on_a_bad_config(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc(MaxDeliveryCount="ten")))
    result = subprocess.run(
        [sys.executable, "-m", "localdev", "servicebus", "--port", "1", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "Properties.MaxDeliveryCount: expected int" in result.stderr

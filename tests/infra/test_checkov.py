"""checkov passes on infra/, and every suppression is justified where it applies.

A skip is written on the resource it excuses, as
`// checkov:skip=CKV_AZURE_NNN: <reason>`; checkov only honours it inside
that resource's lines. These tests also refuse skips without a reason and
skips that no longer suppress anything (stale excuses hide real findings
once the resource changes).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infra.bicep import CHECKOV, REPO, bicep_files, run_infra_tool

SKIP_COMMENT = re.compile(r"//\s*checkov:skip=(?P<check>[A-Z0-9_]+)(?::\s*(?P<reason>.*))?$")
MIN_REASON_LENGTH = 40  # a sentence, not "n/a" or "false positive"


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    done = run_infra_tool(
        [str(CHECKOV), "-d", "infra", "--framework", "bicep", "--output", "json", "--skip-download"]
    )
    try:
        report: Any = json.loads(done.stdout)
    except ValueError:
        pytest.fail(
            f"checkov printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )
    # One framework gives one report object; several give a list of them.
    reports = report if isinstance(report, list) else [report]
    (bicep_report,) = [r for r in reports if r.get("check_type") == "bicep"]
    return dict(bicep_report)


def _describe(check: dict[str, Any]) -> str:
    return (
        f"{check['check_id']} {check['check_name']} on {check['resource']} ({check['file_path']})"
    )


def test_checkov_finds_no_failed_check(checkov_report: dict[str, Any]) -> None:
    failed = checkov_report["results"]["failed_checks"]
    assert not failed, "checkov failed checks:\n" + "\n".join(map(_describe, failed))


def test_checkov_parses_every_file(checkov_report: dict[str, Any]) -> None:
    assert checkov_report["results"]["parsing_errors"] == []
    assert checkov_report["summary"]["passed"] > 0, "checkov evaluated nothing"


def test_every_skip_has_a_reason(checkov_report: dict[str, Any]) -> None:
    for check in checkov_report["results"]["skipped_checks"]:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) >= MIN_REASON_LENGTH, f"unjustified skip: {_describe(check)}: {reason!r}"


def _skip_comments() -> list[tuple[str, int, str, str]]:
    found = []
    for path in bicep_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = SKIP_COMMENT.search(line.strip())
            if match:
                where = str(path.relative_to(REPO))
                found.append((where, number, match["check"], (match["reason"] or "").strip()))
    return found


def test_every_skip_comment_suppresses_a_real_finding(checkov_report: dict[str, Any]) -> None:
    # Given each skip comment in the sources, and what checkov actually skipped
    skipped = {
        (check["file_path"].lstrip("/"), check["check_id"])
        for check in checkov_report["results"]["skipped_checks"]
    }
    comments = _skip_comments()
    assert comments, "expected the documented skips (public endpoints without a VNet, ...)"
    for where, number, check_id, reason in comments:
        # Then each comment carries a reason and was used on the resource it sits in
        assert len(reason) >= MIN_REASON_LENGTH, f"{where}:{number} {check_id} has no real reason"
        relative_to_infra = where.removeprefix("infra/")
        assert (relative_to_infra, check_id) in skipped, (
            f"{where}:{number} skips {check_id}, but checkov reports no such finding there: "
            "remove the stale skip or move it inside the resource it excuses"
        )

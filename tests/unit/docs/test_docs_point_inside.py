"""The README and docs/ point only to files inside the repository, and the
layout they describe is the tree as it is."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
BACKTICKED_PATH = re.compile(r"`([A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*/?)`")


def _tracked() -> list[str]:
    result = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def _markdown_files() -> list[Path]:
    return [ROOT / name for name in _tracked() if name.endswith(".md")]


def _layout_section(text: str) -> str:
    match = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "no '## Layout' section"
    return match.group(1)


@pytest.mark.parametrize("document", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(document: Path) -> None:
    for target in LINK.findall(document.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):
            continue  # an absolute URL: public documentation, not a file
        resolved = (document.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{document.name} points outside: {target}"
        assert resolved.exists(), f"{document.name} links to a missing file: {target}"


def test_nothing_points_to_documents_outside_the_repository() -> None:
    outside = re.compile(r"\.\./shared/|\bDESIGN\.md\b|\bSTYLE\.md\b")
    offenders = [
        name
        for name in _tracked()
        if not name.endswith("package-lock.json")
        and name != "tests/unit/docs/test_docs_point_inside.py"
        and (ROOT / name).is_file()
        and outside.search((ROOT / name).read_text(encoding="utf-8", errors="replace"))
    ]
    assert offenders == []


PATH_ENDINGS = (".py", ".md", ".json", ".bicep", ".js", ".txt", ".toml", ".yaml", "/")


def _exists_somewhere(name: str, tracked: list[str]) -> bool:
    """`name` is a tracked file or folder, or one inside some folder (a module named in its row)."""
    name = name.rstrip("/")
    return any(
        path == name
        or path.startswith(name + "/")
        or path.endswith("/" + name)
        or ("/" + name + "/") in path
        for path in tracked
    )


@pytest.mark.parametrize("document", ["README.md", "docs/architecture.md"])
def test_the_layout_section_names_every_top_level_part_and_only_real_paths(
    document: str,
) -> None:
    section = _layout_section((ROOT / document).read_text(encoding="utf-8"))
    named = set(BACKTICKED_PATH.findall(section))
    tracked = _tracked()
    top_level = {name.split("/")[0] for name in tracked if "/" in name and not name.startswith(".")}
    missing = sorted(part for part in top_level if part + "/" not in named and part not in named)
    assert missing == [], f"{document}'s layout does not name {missing}"
    invented = sorted(
        name
        for name in named
        if name.endswith(PATH_ENDINGS) and not _exists_somewhere(name, tracked)
    )
    assert invented == [], f"{document}'s layout names paths that do not exist: {invented}"

"""Parse Bicep files with pycep-parser and print one JSON document.

Runs under `.venv-infra/bin/python` (pycep and checkov live in their own
virtualenv); the pytest side reads its output. Usage:
`python _pycep_dump.py FILE...` -> `{"FILE": {"tree": ...} | {"error": "..."}}`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pycep import BicepParser  # type: ignore[import-not-found]  # lives in .venv-infra


def main(paths: list[str]) -> int:
    parser = BicepParser()
    results: dict[str, dict[str, object]] = {}
    for path in paths:
        try:
            results[path] = {"tree": parser.parse(file_path=Path(path))}
        except Exception as exc:  # every parse failure is reported, per file
            results[path] = {"error": f"{type(exc).__name__}: {exc}"}
    json.dump(results, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""`python -m bench [NAME ...]`: run the benchmarks (all by default) one after another."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("servicebus", "pipeline", "reconcile")


def main(argv: list[str] | None = None) -> int:
    """Run each named benchmark module's `main()`; the exit code is the worst one."""
    names = (sys.argv[1:] if argv is None else argv) or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(
            f"bench: unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2
    worst = 0
    for name in names:
        print(f"== bench.{name}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        worst = max(worst, int(module.main()))
    return worst


if __name__ == "__main__":
    sys.exit(main())

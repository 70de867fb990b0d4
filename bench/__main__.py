"""``python -m bench NAME [--quick]`` runs one benchmark; ``python -m bench all`` runs them all."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from bench.report import machine

BENCHMARKS = ("startup", "startup_instructions", "send_link", "pay_to_close", "page", "webhooks", "scale", "cache")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=(*BENCHMARKS, "all"))
    parser.add_argument(
        "--quick", action="store_true", help="a tiny configuration (smoke test, not a figure)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # benchmarks never need a screen
    print(f"machine: {machine()}\n", flush=True)
    failed = []
    for name in BENCHMARKS if args.name == "all" else (args.name,):
        module = importlib.import_module(f"bench.{name}")
        try:
            table = module.run(quick=args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            if args.name != "all":
                raise
            failed.append(name)
            print(f"## {name}: FAILED ({type(exc).__name__}: {exc})\n", flush=True)
            continue
        print(table.render(), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

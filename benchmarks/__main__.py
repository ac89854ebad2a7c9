"""Run the benchmark suites: ``python -m benchmarks --profile quick|full``.

Each suite is a module with ``main(argv) -> int`` that writes
``benchmarks/results/<suite>.md`` and ``.json``. The quick profile is what
``make bench`` runs (issue 7 asks for under 20 minutes on 2 cores; not yet timed
end to end); ``full`` is ``make bench-full``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

# suite -> (arguments for the quick profile, arguments for the full profile)
SUITES = {
    "fidelity": (["--quick"], ["--peers"]),
    "neural": (["--quick"], []),
    "verify": (["--quick"], []),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=("quick", "full"), default="quick")
    ap.add_argument("--suites", default=",".join(SUITES), help="comma-separated subset of " + ", ".join(SUITES))
    args = ap.parse_args(argv)
    status = 0
    for name in args.suites.split(","):
        if name not in SUITES:
            print(f"unknown suite {name!r}; choose from {', '.join(SUITES)}", file=sys.stderr)
            return 2
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ImportError as exc:
            print(f"[{name}] skipped: {exc}", file=sys.stderr)
            continue
        quick, full = SUITES[name]
        t0 = time.perf_counter()
        print(f"[{name}] running ({args.profile}) ...", file=sys.stderr, flush=True)
        rc = module.main(quick if args.profile == "quick" else full)
        print(f"[{name}] done in {time.perf_counter() - t0:.0f} s (exit {rc})", file=sys.stderr, flush=True)
        status = status or rc
    return status


if __name__ == "__main__":
    raise SystemExit(main())

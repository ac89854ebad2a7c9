"""Run the benchmark suites: ``python -m benchmarks --profile quick|full``.

Each suite is a module with ``main(argv) -> int`` that writes
``benchmarks/results/<suite>.md`` and ``.json`` (the full profile of most
suites writes ``<suite>_full.*`` beside them); ``plots`` runs last and draws
the PNGs from whatever JSON is there. The quick profile is what ``make bench``
runs (about 34 minutes on a 2-core machine; per-suite times in
``benchmarks/README.md``); it prints wall and CPU seconds per suite at the end;
``full`` is ``make bench-full``. A suite whose module is not there (or cannot
be imported) is skipped with a line saying why.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import sys
import time


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


# The hybrid suite's quick profile takes ~680 s without adult on an idle 2-core machine, and adult would add
# several minutes; the quick profile of all suites takes about 34 min end to end (benchmarks/README.md).
HYBRID_QUICK_DATASETS = "german_credit,compas,heart,breast_cancer"

# suite -> (arguments for the quick profile, arguments for the full profile)
SUITES = {
    # Quick: the public peers too (te2rules with one stage and a 30 s cap), so that make bench
    # answers "better than what I would use instead?"; full: every budget, te2rules 1 and 2 stages.
    "fidelity": (["--quick", "--peers", "--te2rules-stages", "1", "--te2rules-cap", "30"], ["--peers"]),
    "neural": (["--quick"], []),
    "verify": (["--quick"], []),
    "hybrid": (["--quick", "--datasets", HYBRID_QUICK_DATASETS], []),
    "guards": (["--quick"], []),
    "verify_neural": (["--quick"], ["--full"]),
    "predict": (["--quick"], []),
    "plots": ([], []),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=("quick", "full"), default="quick")
    ap.add_argument("--suites", default=",".join(SUITES), help="comma-separated subset of " + ", ".join(SUITES))
    args = ap.parse_args(argv)
    names = args.suites.split(",")
    for name in names:
        if name not in SUITES:
            print(f"unknown suite {name!r}; choose from {', '.join(SUITES)}", file=sys.stderr)
            return 2
    status = 0
    times: list[tuple[str, str]] = []
    t_all = time.perf_counter()
    for name in names:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ImportError as exc:
            print(f"[{name}] skipped: {exc}", file=sys.stderr)
            times.append((name, "skipped"))
            continue
        quick, full = SUITES[name]
        t0, c0 = time.perf_counter(), _cpu_seconds()
        print(f"[{name}] running ({args.profile}) ...", file=sys.stderr, flush=True)
        rc = module.main(quick if args.profile == "quick" else full)
        seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
        print(f"[{name}] done in {seconds:.0f} s, {cpu:.0f} CPU s (exit {rc})", file=sys.stderr, flush=True)
        times.append((name, f"{seconds:6.0f} s wall {cpu:6.0f} s CPU" + (f" (exit {rc})" if rc else "")))
        status = status or rc
    print(f"\n{args.profile} profile, seconds per suite (CPU: user + system, this process and its children; "
          "close to the wall time of an idle machine for single-threaded work):", file=sys.stderr)
    for name, t in times:
        print(f"  {name:<14} {t}", file=sys.stderr)
    print(f"  {'total':<14} {time.perf_counter() - t_all:.0f} s", file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())

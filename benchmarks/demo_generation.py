"""Demo generation speed: customers per second on a fresh database.

    uv run python benchmarks/demo_generation.py --customers 100000 --engine sqlite
    uv run python benchmarks/demo_generation.py --customers 1000000 --engine postgresql

SQLite runs in a new temporary directory; PostgreSQL in the database "bench_demo" (dropped and
created again; server from --pg-url). Prints one JSON line: the figures for docs/benchmarks.md,
with the machine (nproc, CPU model, RAM), the load average around the run and the date, and
the machine's CPU seconds (all processes, the database server's too) overall and per phase.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        mem_kb = 0
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
    }


def _cpu(before: resource.struct_rusage, after: resource.struct_rusage) -> float:
    return round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1)


def machine_cpu() -> tuple[float, float]:
    """The whole machine's busy and stolen CPU seconds so far (/proc/stat; all processes, the
    database server's too). Stolen: time the hypervisor gave other guests."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / tick, steal / tick


class CpuSampler:
    """Machine CPU sampled every 0.5 s, to say how busy both cores were in each phase."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append((time.perf_counter(), *machine_cpu()))
            if self._stop.wait(0.5):
                self.samples.append((time.perf_counter(), *machine_cpu()))
                return

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> tuple[float, float]:
        """Busy and stolen CPU seconds from start to end (nearest samples)."""

        def at(moment: float) -> tuple[float, float]:
            sample = min(self.samples, key=lambda s: abs(s[0] - moment))
            return sample[1], sample[2]

        (busy0, steal0), (busy1, steal1) = at(start), at(end)
        return busy1 - busy0, steal1 - steal0


SEQUENTIAL_PHASES = ("setup", "load", "indexes", "analyze", "finishing")


def phase_cpu(sampler: CpuSampler, started: float, phases: dict[str, float]) -> dict[str, dict]:
    """Per sequential phase: wall seconds, machine CPU seconds, and how many of the cores that
    is on average (2.0 = both cores busy throughout)."""
    report = {}
    moment = started
    for phase in SEQUENTIAL_PHASES:
        if phase not in phases:
            continue
        end = moment + phases[phase]
        busy, steal = sampler.between(moment, end)
        report[phase] = {
            "wall": phases[phase],
            "cpu": round(busy, 1),
            "cores": round(busy / phases[phase], 2) if phases[phase] else 0.0,
            "stolen": round(steal, 1),
        }
        moment = end
    return report


def fresh_postgresql(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--today", default="2026-06-30")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_demo")
    parser.add_argument(
        "--var-dir",
        help="SQLite: keep the database in this (empty) directory instead of a temporary one, "
        "e.g. to run benchmarks/search.py on it afterwards",
    )
    parser.add_argument(
        "--foundation-only",
        action="store_true",
        help="only the foundation's tables (dealercrm demo --foundation-only)",
    )
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    tmp = None
    if args.engine == "sqlite":
        os.environ.pop("DATABASE_URL", None)
        if args.var_dir:
            Path(args.var_dir).mkdir(parents=True, exist_ok=True)
            os.environ["DEALERCRM_VAR_DIR"] = args.var_dir
            var_dir = Path(args.var_dir)
        else:
            tmp = tempfile.TemporaryDirectory(prefix="bench_demo_")
            os.environ["DEALERCRM_VAR_DIR"] = tmp.name
            var_dir = Path(tmp.name)
    else:
        fresh_postgresql(args.pg_url)
        os.environ["DATABASE_URL"] = args.pg_url

    import django

    django.setup()
    from django.core.management import call_command

    from dealercrm.demo.generators import CHUNK_GENERATORS, FOUNDATION_GENERATORS
    from dealercrm.demo.runner import run_demo

    call_command("migrate", verbosity=0, skip_checks=True)
    load_before = os.getloadavg()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_before, steal_before = machine_cpu()
    with CpuSampler() as sampler:
        started = time.perf_counter()
        result = run_demo(
            customers=args.customers,
            seed=args.seed,
            today=dt.date.fromisoformat(args.today),
            generators=FOUNDATION_GENERATORS if args.foundation_only else CHUNK_GENERATORS,
        )
        wall = time.perf_counter() - started
    busy_after, steal_after = machine_cpu()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    size = None
    if args.engine == "sqlite":
        size = sum(f.stat().st_size for f in var_dir.glob("dealercrm.sqlite3*"))
    print(
        json.dumps(
            {
                "benchmark": "demo_generation",
                "engine": args.engine,
                "customers": args.customers,
                "foundation_only": args.foundation_only,
                "seconds": round(wall, 1),
                "customers_per_second": round(args.customers / wall),
                # The writing process, and the generating child (see dealercrm.demo.runner).
                "cpu_seconds_writer": _cpu(cpu_before, cpu_after),
                "cpu_seconds_generator": _cpu(children_before, children_after),
                # Every process of the machine, the database server's included: at N cores the
                # run cannot take less than this / N seconds, however it is arranged.
                "cpu_seconds_machine": round(busy_after - busy_before, 1),
                "cpu_seconds_stolen": round(steal_after - steal_before, 1),
                "phase_cpu": phase_cpu(sampler, started, result.phase_seconds),
                "rows": result.rows,
                "total_rows": sum(result.rows.values()),
                "write_seconds": result.write_seconds,
                "phase_seconds": result.phase_seconds,
                "sqlite_bytes": size,
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "machine": machine(),
                "date": dt.datetime.now().isoformat(timespec="seconds"),
            },
            ensure_ascii=False,
        )
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()

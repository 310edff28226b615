"""A pytest plugin: CPU seconds per test, which a host shared with other jobs distorts far
less than wall time. Counts this process (every thread) and the child processes it waited
for (CLI subprocesses, worker pools, the browser), setup and teardown included.

    PYTHONPATH=src:benchmarks python -m pytest -m "not slow" -p pytest_cpu_times

Writes ``CPU_TIMES`` (default ``cpu_times.tsv``): a total line, then one line per test,
costliest first: own CPU s, children's CPU s, wall s, test id.
"""

from __future__ import annotations

import os
import resource
import time

import pytest

_rows: list[tuple[float, float, float, str]] = []


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


_START = _cpu()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    own, children = _cpu()
    start = time.perf_counter()
    yield
    own_after, children_after = _cpu()
    _rows.append((own_after - own, children_after - children, time.perf_counter() - start,
                  item.nodeid))


def pytest_sessionfinish(session):
    own, children = _cpu()
    with open(os.environ.get("CPU_TIMES", "cpu_times.tsv"), "w") as out:
        out.write(f"# whole run: own {own - _START[0]:.1f} s, children {children - _START[1]:.1f}"
                  f" s; per test: own {sum(r[0] for r in _rows):.1f} s, children "
                  f"{sum(r[1] for r in _rows):.1f} s\n")
        for row in sorted(_rows, key=lambda r: -(r[0] + r[1])):
            out.write(f"{row[0]:.3f}\t{row[1]:.3f}\t{row[2]:.3f}\t{row[3]}\n")

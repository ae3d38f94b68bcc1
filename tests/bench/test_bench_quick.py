"""Every benchmark runs in its --quick form in the test suite, so none of them can rot unnoticed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

#: The fleet benchmark (a service process and DDS) has its own test below, marked ros and slow.
BENCHES = sorted(b for b in Path(__file__).parent.glob("bench_*.py") if b.name != "bench_fleet.py")


@pytest.mark.parametrize("bench", BENCHES, ids=[b.stem for b in BENCHES])
def test_benchmark_runs_quick(bench: Path, tmp_path: Path):
    done = subprocess.run([sys.executable, str(bench), "--quick"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    written = list((tmp_path / "out" / "bench").glob("*.md"))
    assert written, "a benchmark must write its table under out/bench/"
    assert "|" in written[0].read_text()


@pytest.mark.ros
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_fleet_benchmark_runs_quick(tmp_path: Path):
    """10 emulated vehicles, 50 orders, short windows: every figure measured, none a placeholder."""
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("bench_fleet.py")), "--quick"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = (tmp_path / "out" / "bench" / "fleet.md").read_text()
    assert (tmp_path / "out" / "bench" / "fleet.png").stat().st_size > 0
    rows = {line.split("|")[1].strip(): line for line in report.splitlines() if line.startswith("| ")}
    for measure in ("dispatch tick p50", "dispatch tick p99", "API p99 (10 clients)", "service peak RSS (VmHWM)",
                    "API p50 / p99, open loop: 10 consoles at 2 req/s each"):
        assert re.search(r"\d+(\.\d+)? (ms|MiB)", rows[measure]), rows[measure]
    row = rows["clearances: in all (past the gate within 10 s) / way free / behind a vehicle just released onto its "
               "lanes / held at the gate (its way or dock taken)"]
    timed = re.search(r"\| (\d+) \((\d+)\) / (\d+) / (\d+) / (\d+) \|", row)
    assert timed and int(timed.group(1)) > 0, "no vehicle reached a gate and was released"
    assert sum(int(timed.group(k)) for k in (3, 4, 5)) == int(timed.group(1)), row

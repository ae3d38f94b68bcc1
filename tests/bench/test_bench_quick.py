"""Every benchmark runs in its --quick form in the test suite, so none of them can rot unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHES = sorted(Path(__file__).parent.glob("bench_*.py"))


@pytest.mark.parametrize("bench", BENCHES, ids=[b.stem for b in BENCHES])
def test_benchmark_runs_quick(bench: Path, tmp_path: Path):
    done = subprocess.run([sys.executable, str(bench), "--quick"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    written = list((tmp_path / "out" / "bench").glob("*.md"))
    assert written, "a benchmark must write its table under out/bench/"
    assert "|" in written[0].read_text()

"""``xborder audit``'s file options given a file that is missing, a directory or not what it should be: one line
naming the file and exit 2, never a traceback (found by hand: a missing --checkpoint printed one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.cli.audit import app
from fleet.customs.signing import generate_keys
from fleet.store import Store

XBORDER = str(Path(sys.executable).with_name("xborder"))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Named files in ``tmp_path``: an export, a fleet key, garbage, non-UTF-8 bytes, the fleet's database."""
    export = tmp_path / "audit.jsonl"
    export.write_text("")
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key, not JSON\n")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00")
    db = tmp_path / "fleet.db"
    Store(db).close()
    key = generate_keys("fleet", tmp_path / "keys")[1]
    return {"export": export, "key": key, "garbage": garbage, "binary": binary, "db": db, "dir": tmp_path,
            "missing": tmp_path / "nope.jsonl"}


CASES = {  # the arguments ({name} stands for files[name]), the file the message must name
    "verify: missing export": ("verify {missing}", "missing"),
    "verify: export is a directory": ("verify {dir}", "dir"),
    "verify: missing checkpoint": ("verify {export} --checkpoint {missing} --fleet-key {key}", "missing"),
    "verify: checkpoint is a directory": ("verify {export} --checkpoint {dir} --fleet-key {key}", "dir"),
    "verify: checkpoint not UTF-8": ("verify {export} --checkpoint {binary} --fleet-key {key}", "binary"),
    "verify: missing fleet key": ("verify {export} --checkpoint {garbage} --fleet-key {missing}", "missing"),
    "verify: fleet key is a directory": ("verify {export} --checkpoint {garbage} --fleet-key {dir}", "dir"),
    "verify: fleet key is garbage": ("verify {export} --checkpoint {garbage} --fleet-key {garbage}", "garbage"),
    "verify: fleet key not UTF-8": ("verify {export} --checkpoint {garbage} --fleet-key {binary}", "binary"),
    "export: out is a directory": ("export --db {db} --out {dir}", "dir"),
    "export: out under a file": ("export --db {db} --out {garbage}/audit.jsonl", "garbage"),
    "export: db is garbage": ("export --db {garbage} --out {export}", "garbage"),
    "export: db is a directory": ("export --db {dir} --out {export}", "dir"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_file_is_one_line_naming_it(files, case):
    words, named = CASES[case]
    args = [word.format(**files) for word in words.split()]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(files[named]) in lines[0], result.stderr


def test_the_command_names_a_missing_checkpoint_without_a_traceback(files):
    """As found: the installed command, a checkpoint file that does not exist."""
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    done = subprocess.run([XBORDER, "audit", "verify", str(files["export"]), "--checkpoint", str(files["missing"]),
                           "--fleet-key", str(files["key"])], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == f"{files['missing']}: cannot read the checkpoint file: No such file or directory\n"

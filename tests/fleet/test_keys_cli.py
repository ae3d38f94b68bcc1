"""``xborder keys generate`` as an operator meets it: run twice on the same folder, or given a folder it cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.cli.keys import app

FILES = ("VN_CUSTOMS.key", "VN_CUSTOMS.pub", "VN_CUSTOMS.curve.key", "VN_CUSTOMS.curve.pub")


def generate(*args: str):
    return CliRunner().invoke(app, ["--authority", "VN_CUSTOMS", *args], env={"COLUMNS": "200"})


def test_running_it_again_does_not_replace_the_keys(tmp_path):
    """Found by hand: a second run over the same folder silently wrote new key pairs over the authority's, its
    private keys lost (the fleet's config still names the old public ones: every event it signs is then refused)."""
    assert generate("--out", str(tmp_path)).exit_code == 0
    before = {name: (tmp_path / name).read_bytes() for name in FILES}
    again = generate("--out", str(tmp_path))
    assert again.exit_code == 2 and isinstance(again.exception, SystemExit), again.exception
    assert f"{tmp_path / 'VN_CUSTOMS.key'} exists" in again.stderr and "--force" in again.stderr, again.stderr
    assert {name: (tmp_path / name).read_bytes() for name in FILES} == before
    forced = generate("--out", str(tmp_path), "--force")  # a new pair on purpose (a rotation)
    assert forced.exit_code == 0 and (tmp_path / "VN_CUSTOMS.key").read_bytes() != before["VN_CUSTOMS.key"]


@pytest.mark.parametrize("out", ["under a file", "a file"])
def test_an_out_folder_it_cannot_use_is_one_line_naming_it(tmp_path, out):
    """It was a NotADirectoryError / FileExistsError traceback."""
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "keys" if out == "under a file" else tmp_path / "file"
    result = generate("--out", str(path))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith(f"{path}: cannot write the keys: "), result.stderr
    assert not any(Path(tmp_path).rglob("*.key"))

"""``xborder audit``: export the hash-chained audit log and verify an export (against kept checkpoints)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="The audit log either customs side can export and verify.", no_args_is_help=True)


@app.command()
def export(
    db: Path = typer.Option(..., "--db", help="the fleet's SQLite file"),
    out: Path = typer.Option(..., "--out", help="JSON-lines file to write"),
) -> None:
    """Write every audit record, oldest first, one JSON object per line.

    The database is opened read-only: exporting never repairs anything (a dropped trigger is reported)."""
    import json
    import sqlite3

    from fleet.store.audit import AuditRecord, missing_triggers

    if not db.is_file():
        typer.echo(f"{db}: no such database", err=True)
        raise typer.Exit(2)
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    triggers = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    for problem in missing_triggers(triggers, "sqlite"):
        typer.echo(f"WARNING: {problem}", err=True)
    rows = connection.execute("SELECT seq, recorded_at, kind, body, prev_hash, hash FROM audit_log ORDER BY seq")
    count, head = 0, ""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for seq, recorded_at, kind, body, prev_hash, digest in rows:
            handle.write(AuditRecord(seq, recorded_at, kind, json.loads(body), prev_hash, digest).to_json() + "\n")
            count, head = count + 1, digest
    connection.close()
    typer.echo(f"exported {count} records to {out}; head hash {head or '-'}")


@app.command()
def verify(
    file: Path = typer.Argument(..., help="an exported audit log (JSON lines)"),
    checkpoint: list[Path] = typer.Option([], "--checkpoint",
                                          help="a file of signed checkpoints an authority kept (repeatable)"),
    fleet_key: Path | None = typer.Option(None, "--fleet-key", help="the fleet's Ed25519 public key (fleet.pub)"),
) -> None:
    """Check the chain, and the export against every kept checkpoint: exit 0 if intact, 1 naming each problem.

    The chain alone finds an edited, removed or reordered record; only checkpoints find a truncated log or
    one rewritten from genesis."""
    from fleet.customs.checkpoints import check_export, checkpoints_from_lines
    from fleet.customs.signing import parse_public_key
    from fleet.store.audit import parse_record, verify_chain

    if checkpoint and fleet_key is None:
        typer.echo("--checkpoint needs --fleet-key (the fleet's public key the checkpoints are signed with)", err=True)
        raise typer.Exit(2)
    lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    problems = verify_chain(lines)
    if checkpoint and fleet_key is not None:
        heads = {}
        for line in lines:
            try:
                record = parse_record(line)
            except ValueError:
                continue  # already reported by verify_chain
            heads[record.seq] = record.hash
        kept = [c for path in checkpoint for c in checkpoints_from_lines(path.read_text(encoding="utf-8").splitlines())]
        problems += check_export(heads, kept, parse_public_key(fleet_key.read_text()))
    if problems:
        for problem in problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1)
    anchored = f", consistent with {len(checkpoint)} checkpoint file(s)" if checkpoint else ""
    typer.echo(f"intact: {sum(1 for line in lines if line.strip())} records, hash chain verified{anchored}")

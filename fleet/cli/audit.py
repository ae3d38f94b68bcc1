"""``xborder audit``: export the hash-chained audit log and verify an export."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="The audit log either customs side can export and verify.", no_args_is_help=True)


@app.command()
def export(
    db: Path = typer.Option(..., "--db", help="the fleet's SQLite file"),
    out: Path = typer.Option(..., "--out", help="JSON-lines file to write"),
) -> None:
    """Write every audit record, oldest first, one JSON object per line."""
    from fleet.store import Store

    if not db.is_file():
        typer.echo(f"{db}: no such database", err=True)
        raise typer.Exit(2)
    store = Store(db)
    count, head = 0, ""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for record in store.audit_records():
            handle.write(record.to_json() + "\n")
            count, head = count + 1, record.hash
    store.close()
    typer.echo(f"exported {count} records to {out}; head hash {head or '-'}")


@app.command()
def verify(file: Path = typer.Argument(..., help="an exported audit log (JSON lines)")) -> None:
    """Check the chain: exit 0 if intact, 1 naming every edited, removed or reordered record."""
    from fleet.store import verify_chain

    lines = file.read_text(encoding="utf-8").splitlines()
    problems = verify_chain(lines)
    if problems:
        for problem in problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1)
    typer.echo(f"intact: {sum(1 for line in lines if line.strip())} records, hash chain verified")

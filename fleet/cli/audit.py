"""``xborder audit``: export the hash-chained audit log and verify an export (against kept checkpoints)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

app = typer.Typer(help="The audit log either customs side can export and verify.", no_args_is_help=True)


@app.command()
def export(
    db: str = typer.Option(..., "--db", help="the fleet's SQLite file, or its database URL (postgresql+psycopg://...)"),
    out: Path = typer.Option(..., "--out", help="JSON-lines file to write"),
) -> None:
    """Write every audit record, oldest first, one JSON object per line.

    The database is opened read-only: exporting never repairs anything (a dropped trigger is reported)."""
    import sqlalchemy as sa

    from fleet.store.audit import UNREADABLE_BODY, AuditRecord, body_of, missing_triggers

    if "://" not in db and not Path(db).is_file():
        typer.echo(f"{db}: no such database", err=True)
        raise typer.Exit(2)
    try:
        engine = _read_only_engine(db)
        with engine.connect() as connection:
            dialect = engine.dialect.name
            triggers = [row[0] for row in connection.exec_driver_sql(
                "SELECT tgname FROM pg_trigger" if dialect == "postgresql" else
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")]
            rows = connection.exec_driver_sql(
                "SELECT seq, recorded_at, kind, body, prev_hash, hash FROM audit_log ORDER BY seq").all()
    except (sa.exc.SQLAlchemyError, ModuleNotFoundError) as exc:
        typer.echo(f"{db}: cannot read the audit log: {getattr(exc, 'orig', None) or exc}", err=True)
        raise typer.Exit(2) from None
    for problem in missing_triggers(triggers, dialect):
        typer.echo(f"WARNING: {problem}", err=True)
    engine.dispose()
    count, head = 0, ""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as handle:
            for seq, recorded_at, kind, body, prev_hash, digest in rows:
                record = AuditRecord(seq, recorded_at, kind, body_of(body), prev_hash, digest)
                if UNREADABLE_BODY in record.body:
                    typer.echo(f"WARNING: record {seq}'s body is not a JSON object (edited?): exported as text",
                               err=True)
                handle.write(record.to_json() + "\n")
                count, head = count + 1, digest
    except OSError as exc:
        _fail(f"{out}: cannot write the export: {exc.strerror or exc}")
    typer.echo(f"exported {count} records to {out}; head hash {head or '-'}")


def _fail(message: str) -> NoReturn:
    """One line on stderr and exit 2: a file a user named is missing or not what it should be."""
    typer.echo(message, err=True)
    raise typer.Exit(2)


def _read_text(path: Path, what: str, errors: str = "strict") -> str:
    """The UTF-8 text of ``path``, or :func:`_fail` naming it: missing, a directory, unreadable, not UTF-8. A leading
    byte order mark is no part of it (an editor saving "UTF-8 with BOM" adds one: the same records, the same key)."""
    try:
        return path.read_text(encoding="utf-8-sig", errors=errors)
    except OSError as exc:
        _fail(f"{path}: cannot read {what}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        _fail(f"{path}: cannot read {what}: not UTF-8 text")


def _read_only_engine(db: str):
    """An engine that cannot write: SQLite opened in ``mode=ro``, PostgreSQL sessions read-only."""
    import sqlalchemy as sa

    if "://" not in db:
        return sa.create_engine("sqlite://", creator=lambda: __import__("sqlite3").connect(
            f"file:{Path(db).resolve()}?mode=ro", uri=True))
    return sa.create_engine(db, connect_args={"options": "-c default_transaction_read_only=on"}
                            if db.startswith("postgresql") else {})


@app.command()
def verify(
    file: Path = typer.Argument(..., help="an exported audit log (JSON lines)"),
    checkpoint: list[Path] = typer.Option([], "--checkpoint",
                                          help="a file of signed checkpoints an authority kept (repeatable)"),
    fleet_key: list[Path] = typer.Option([], "--fleet-key", help="the fleet's Ed25519 public key (fleet.pub); "
                                         "repeat it for the keys the fleet signed with before rotating its key"),
) -> None:
    """Check the chain, and the export against every kept checkpoint: exit 0 if intact, 1 naming each problem
    (2: a file it cannot use).

    The chain alone finds an edited, removed or reordered record; only checkpoints find a truncated log or
    one rewritten from genesis."""
    from fleet.customs.checkpoints import check_export, checkpoints_from_lines
    from fleet.store.audit import parse_record, verify_chain

    if checkpoint and not fleet_key:
        typer.echo("--checkpoint needs --fleet-key (the fleet's public key the checkpoints are signed with)", err=True)
        raise typer.Exit(2)
    lines = _read_text(file, "the export", errors="replace").splitlines()  # a garbled line is reported below
    problems = verify_chain(lines)
    if checkpoint:
        heads = {}
        for line in lines:
            try:
                record = parse_record(line)
            except ValueError:
                continue  # already reported by verify_chain
            heads[record.seq] = record.hash
        kept = [c for path in checkpoint
                for c in checkpoints_from_lines(_read_text(path, "the checkpoint file").splitlines())]
        problems += check_export(heads, kept, [_fleet_key(path) for path in fleet_key])
    if problems:
        for problem in problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1)
    anchored = f", consistent with {len(checkpoint)} checkpoint file(s)" if checkpoint else ""
    typer.echo(f"intact: {sum(1 for line in lines if line.strip())} records, hash chain verified{anchored}")


def _fleet_key(path: Path) -> Ed25519PublicKey:
    """The fleet's public key in ``path``, or :func:`_fail` naming the file."""
    from fleet.customs.signing import parse_public_key

    try:
        return parse_public_key(_read_text(path, "the fleet key"))
    except ValueError as exc:
        _fail(f"{path}: not the fleet's public key: {exc}")

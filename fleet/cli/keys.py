"""``xborder keys``: Ed25519 key pairs for customs authorities."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Keys for signing customs events.", no_args_is_help=True)


@app.command()
def generate(
    authority: str = typer.Option(..., "--authority", help="authority name, e.g. VN_CUSTOMS"),
    out: Path = typer.Option(..., "--out", help="folder for NAME.key (private, PEM) and NAME.pub (base64 raw)"),
) -> None:
    """Write DIR/NAME.key and DIR/NAME.pub; put the .pub line in the fleet's config."""
    import re

    from fleet.customs.envelope import AUTHORITY_PATTERN
    from fleet.customs.signing import generate_keys

    if not re.match(AUTHORITY_PATTERN, authority):
        typer.echo(f"authority name must match {AUTHORITY_PATTERN}", err=True)
        raise typer.Exit(2)
    key_path, pub_path = generate_keys(authority, out)
    typer.echo(f"private key: {key_path} (keep it with {authority} only)")
    typer.echo(f"public key:  {pub_path}: {pub_path.read_text().strip()}")

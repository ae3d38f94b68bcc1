"""``xborder keys``: the key pairs of the customs link — Ed25519 for signing, CURVE for the ZeroMQ link."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Keys for the customs link: signing (Ed25519) and ZeroMQ encryption (CURVE).",
                  no_args_is_help=True)

FLEET = "fleet"
KEY_FILES = (".key", ".pub", ".curve.key", ".curve.pub")  # what generate writes for NAME


@app.command()
def generate(
    authority: str | None = typer.Option(None, "--authority", help="authority name, e.g. VN_CUSTOMS"),
    fleet: bool = typer.Option(False, "--fleet", help="the fleet's own keys instead of an authority's"),
    out: Path = typer.Option(..., "--out", help="folder for the key files"),
    force: bool = typer.Option(False, "--force", help="replace NAME's key files in --out (a new pair on purpose)"),
) -> None:
    """Write NAME.key / NAME.pub (Ed25519: PEM private, base64 raw public) and NAME.curve.key / NAME.curve.pub
    (CURVE, Z85); NAME is the authority, or ``fleet`` with --fleet. Public keys go in the other side's config.

    Key files already in --out are kept unless --force: a private key written over is lost for good."""
    import re

    from fleet.customs.envelope import AUTHORITY_PATTERN
    from fleet.customs.signing import generate_keys
    from fleet.transports.curve import generate_curve_keys

    if fleet == (authority is not None):
        typer.echo("give either --authority NAME or --fleet", err=True)
        raise typer.Exit(2)
    name = FLEET if fleet else str(authority)
    if not fleet and not re.match(AUTHORITY_PATTERN, name):
        typer.echo(f"authority name must match {AUTHORITY_PATTERN}", err=True)
        raise typer.Exit(2)
    existing = [path for suffix in KEY_FILES if (path := out / f"{name}{suffix}").exists()]
    if existing and not force:
        typer.echo(f"{existing[0]} exists: its keys are kept (--force writes a new pair over them)", err=True)
        raise typer.Exit(2)
    try:
        key_path, pub_path = generate_keys(name, out)
        curve_key, curve_pub = generate_curve_keys(name, out)
    except OSError as exc:
        typer.echo(f"{out}: cannot write the keys: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"signing key:      {key_path} (private: keep it with {name} only)")
    typer.echo(f"signing public:   {pub_path}: {pub_path.read_text().strip()}")
    typer.echo(f"CURVE key:        {curve_key} (private)")
    typer.echo(f"CURVE public:     {curve_pub}: {curve_pub.read_text().strip()}")

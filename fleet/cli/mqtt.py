"""``xborder mqtt``: the VDA 5050 broker's set-up for a site (docs/vehicle-protocol.md, "The broker")."""

from __future__ import annotations

import typer

app = typer.Typer(help="The MQTT broker of VDA 5050 vehicles: its access list.", no_args_is_help=True)


@app.command()
def acl(fleet_user: str = typer.Option("xborder-fleet", "--fleet-user",
                                       help="the fleet manager's user name on the broker (fleet.mqtt.username)"),
        ) -> None:
    """Print mosquitto's access list (acl_file): the fleet manager reads every vehicle's reports and commands every
    vehicle; each vehicle, logged in with its serial number, reports for itself and hears its own commands."""
    from fleet.vehicles.mqtt_access import mosquitto_acl

    if not fleet_user or any(c in fleet_user for c in "/#+ "):
        typer.echo("--fleet-user: a user name without '/', '#', '+' or spaces", err=True)
        raise typer.Exit(2)
    typer.echo(mosquitto_acl(fleet_user), nl=False)

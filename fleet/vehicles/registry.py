"""The configured fleet: each vehicle's id, home side, whether it may cross, where it starts, and whether it
is in service. Kept in the store, so taking a vehicle out of service survives a restart."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from fleet.customs.envelope import VEHICLE_PATTERN
from fleet.store import Store
from fleet.store.schema import vehicles


class VehicleConfig(BaseModel):
    """One vehicle of the fleet, as configured."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=VEHICLE_PATTERN)
    home: str = Field(pattern=r"^[A-Z]{2}$", description="the side it belongs to")
    may_cross: bool = Field(True, description="authorized to cross; False: relay-only, stays on its side")
    start_node: str = Field(description="the map node it starts at (a parking spot, say)")


class HeldLoad(BaseModel):
    """Containers aboard that no order carries any more (their order was cancelled once loaded, or their drop
    failed): the vehicle takes them to one of ``bays`` on the side it is on and waits there until an operator
    says they were taken off by hand."""

    consignments: list[str]
    bays: list[str]
    #: the vehicle has not said yet whether it loaded them (its order was cancelled as it might: a ``cancel_pick``
    #: job); a restart holds them all the same
    unconfirmed: bool = False


class VehicleRecord(VehicleConfig):
    in_service: bool = True
    service_reason: str | None = None
    vda_order_id: str | None = None
    vda_update_id: int = 0
    order_id: str | None = None
    held_load: HeldLoad | None = None
    released_way: list[str] | None = None  # the way last released to it, stored with each order sent


#: a vehicle's VDA order, update and transport order, written after every tick that sent one: built once (building
#: it for each of a busy day's 7,000 writes cost more than the write)
_SET_VDA_ORDER = vehicles.update().where(vehicles.c.id == sa.bindparam("vid")).values(
    vda_order_id=sa.bindparam("vda"), vda_update_id=sa.bindparam("upd"), order_id=sa.bindparam("oid"),
    released_way=sa.bindparam("way", type_=sa.JSON))


class SentOrder(NamedTuple):
    """What the fleet last sent a vehicle: its VDA 5050 order and update, the transport order it carries out, and
    the way released to it (``fleet.dispatch.steps.released_way``)."""

    vehicle_id: str
    vda_order_id: str | None
    update_id: int
    order_id: str | None
    released_way: tuple[str, ...]


class VehicleRegistry:
    def __init__(self, store: Store) -> None:
        self.store = store

    def configure(self, fleet: Iterable[VehicleConfig]) -> None:
        """Add configured vehicles, update those known (keeping their service state and current order)."""
        with self.store.transaction() as conn:
            known = {r.id for r in conn.execute(sa.select(vehicles.c.id))}
            for v in fleet:
                values = {"home": v.home, "may_cross": v.may_cross, "start_node": v.start_node}
                if v.id in known:
                    conn.execute(vehicles.update().where(vehicles.c.id == v.id).values(**values))
                else:
                    conn.execute(vehicles.insert().values(id=v.id, in_service=True, vda_update_id=0, **values))

    def all(self) -> list[VehicleRecord]:
        with self.store.reading() as conn:
            return [VehicleRecord.model_validate(r._asdict())
                    for r in conn.execute(sa.select(vehicles).order_by(vehicles.c.id))]

    def set_service(self, vehicle_id: str, in_service: bool, reason: str | None) -> None:
        with self.store.transaction() as conn:
            conn.execute(vehicles.update().where(vehicles.c.id == vehicle_id)
                         .values(in_service=in_service, service_reason=reason))

    def set_held_load(self, vehicle_id: str, load: HeldLoad | None) -> None:
        with self.store.transaction() as conn:
            conn.execute(vehicles.update().where(vehicles.c.id == vehicle_id).values(
                held_load=sa.null() if load is None else load.model_dump()))  # SQL NULL, not JSON null

    def set_vda_orders(self, rows: Iterable[SentOrder]) -> None:
        """Store what was last sent to each vehicle (:class:`SentOrder`), in one transaction."""
        rows = list(rows)
        if not rows:
            return
        with self.store.transaction() as conn:
            conn.execute(_SET_VDA_ORDER, [{"vid": r.vehicle_id, "vda": r.vda_order_id, "upd": r.update_id,
                                           "oid": r.order_id, "way": list(r.released_way)} for r in rows])

"""Alarms for the control room: raised by the gate (refused, forged or equivocating customs events), the
dispatcher (a vehicle offline, silent, low on battery or stuck; a customs link down; a flagged crossing),
stored, streamed, and acknowledged by an operator. An open alarm of the same kind and subject is not raised
twice; it stays one line until acknowledged. One whose cause ends (a silent vehicle reporting, a fault reset, a
customs link back) is marked cleared, with the time, and stays open: the operator still sees that it happened, and
acknowledges it; the cause back much later is a new alarm (``RECURS_AFTER_S``). Which kinds are cleared, and why the
others never are: docs/operations.md, "Alarms and what to do"."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from fleet.customs.gate import AlarmCause
from fleet.events import EventBus, Topic
from fleet.store import AuditKind, Store
from fleet.store.schema import alarms

log = logging.getLogger(__name__)


class AlarmKind(StrEnum):
    CUSTOMS_EVENT_REFUSED = "customs_event_refused"  # forged; or a stored event the start could not apply
    CUSTOMS_EQUIVOCATION = "customs_equivocation"  # an authority's key signed two events for one seq
    CUSTOMS_EVENT_ID_REUSED = "customs_event_id_reused"  # an authority's event_id came again with other content
    CUSTOMS_LINK_DOWN = "customs_link_down"
    VEHICLE_OFFLINE = "vehicle_offline"
    VEHICLE_SILENT = "vehicle_silent"
    VEHICLE_FAULT = "vehicle_fault"
    VEHICLE_OFF_ITS_WAY = "vehicle_off_its_way"  # standing idle away from the node it last reached (moved by hand)
    VEHICLE_LINK_TROUBLE = "vehicle_link_trouble"  # the fleet's link to the vehicles: a broker lost, a bridge stopped
    LOW_BATTERY = "low_battery"
    VEHICLE_STUCK = "vehicle_stuck"
    HANDLING_FAILED = "handling_failed"  # a pick or drop the vehicle reported FAILED
    CROSSING_FLAGGED = "crossing_flagged"
    UNRELEASED_CROSSING = "unreleased_crossing"  # a vehicle seen across the border or on its line, not released
    VEHICLE_OFF_THE_MAP = "vehicle_off_the_map"  # a vehicle seen far off every zone of the map (the border watch)
    VEHICLE_PAST_ITS_BASE = "vehicle_past_its_base"  # seen by the line, short of it, past its released base
    VEHICLE_NOT_LOCALISED = "vehicle_not_localised"  # reporting for long that it does not know where it is
    DUPLICATE_VEHICLE_ID = "duplicate_vehicle_id"  # two sources report under one vehicle id (two vehicles, a forger)
    #: out of dispatch with the way to the pickup of an order it has not loaded still released to it: the order waits
    ORDER_WAITS_FOR_STOPPED = "order_waits_for_stopped"
    LOAD_HELD = "load_held"  # a load no order carries waits at a holding bay for people to take it off
    ORDER_OVERDUE = "order_overdue"  # an order not finished by its latest delivery


#: The conditions the dispatcher asks to raise on every tick (2 Hz) while they last: once acknowledged, one is not
#: raised again while it lasts, only when it comes back after not being asked for ``LAPSE_S``.
LASTING_KINDS = frozenset({AlarmKind.VEHICLE_OFFLINE, AlarmKind.VEHICLE_SILENT, AlarmKind.VEHICLE_FAULT,
                           AlarmKind.VEHICLE_OFF_ITS_WAY, AlarmKind.VEHICLE_NOT_LOCALISED, AlarmKind.LOW_BATTERY,
                           AlarmKind.CUSTOMS_LINK_DOWN, AlarmKind.VEHICLE_LINK_TROUBLE,
                           AlarmKind.ORDER_WAITS_FOR_STOPPED})
LAPSE_S = 10.0
#: A cause back later than this after its alarm was marked cleared is a new alarm (a new occurrence); sooner, the
#: same alarm stands again: a vehicle whose link flaps is one line, not one a flap (silent is told after 10 s).
RECURS_AFTER_S = 300.0

#: The gate's alarm causes, each its own kind: an open alarm of one kind does not hide another.
KIND_OF_CUSTOMS_ALARM: dict[str, AlarmKind] = {AlarmCause.FORGED: AlarmKind.CUSTOMS_EVENT_REFUSED,
                                               AlarmCause.EQUIVOCATION: AlarmKind.CUSTOMS_EQUIVOCATION,
                                               AlarmCause.EVENT_ID_REUSED: AlarmKind.CUSTOMS_EVENT_ID_REUSED}


class Alarm(BaseModel):
    id: int
    raised_at: float
    kind: AlarmKind
    subject: str
    message: str
    detail: dict[str, Any]
    acknowledged_at: float | None
    acknowledged_by: str | None
    cleared_at: float | None = None  # its cause ended then (None: it stands, or it cannot tell)


class AlarmService:
    def __init__(self, store: Store, bus: EventBus, clock: Callable[[], float]) -> None:
        self.store, self.bus, self.clock = store, bus, clock
        self._lock = threading.Lock()
        # The open alarms' (kind, subject): the dispatch loop asks to raise a standing condition on every tick,
        # and that must cost a dict lookup, not a write transaction. This process is the store's one writer.
        with store.reading() as conn:
            rows = conn.execute(sa.select(alarms.c.id, alarms.c.kind, alarms.c.subject, alarms.c.cleared_at)
                                .where(alarms.c.acknowledged_at.is_(None)).order_by(alarms.c.id)).all()
        self._open: dict[tuple[str, str], int] = {}  # -> the latest open alarm's id (an older one may be cleared)
        self._cleared: dict[tuple[str, str], float] = {}  # -> when the latest open one's cause ended
        for row in rows:
            self._open[(row.kind, row.subject)] = row.id
            if row.cleared_at is None:
                self._cleared.pop((row.kind, row.subject), None)
            else:
                self._cleared[(row.kind, row.subject)] = row.cleared_at
        self._acknowledged_lasting: dict[tuple[str, str], float] = {}  # -> when last asked to raise it
        bus.subscribe(self._from_the_gate, topics=(Topic.ALARM,))

    def _from_the_gate(self, _topic: str, message: dict[str, Any]) -> None:
        """The customs gate's alarms (forged, equivocating events): it audited them already; list them here."""
        if message.get("source") == "fleet":
            return
        kind = KIND_OF_CUSTOMS_ALARM.get(str(message.get("alarm")), AlarmKind.CUSTOMS_EVENT_REFUSED)
        self.raise_alarm(kind, str(message.get("authority") or "customs"),
                         str(message.get("reason", "customs event refused")), message, audited=True)

    def raise_alarm(self, kind: AlarmKind, subject: str, message: str, detail: dict[str, Any] | None = None,
                    audited: bool = False) -> Alarm | None:
        """Raise (store, audit, publish) unless the same kind is open for the subject already; the new alarm or
        None. ``audited``: the gate audited and published it already; only list it. A cause back within
        ``RECURS_AFTER_S`` of its alarm being marked cleared is that alarm standing again; back later, it is a new
        alarm: a new occurrence, on top of the list, in the audit log, in its own words, the cleared one kept as
        it was until acknowledged."""
        key = (kind, subject)
        with self._lock:
            if self._cleared_lately(key):
                alarm_id, new = self._store_cleared(key, None), False
            elif (key in self._open and key not in self._cleared) or self._lasts(key):
                return None
            else:
                alarm_id, new = self._insert(kind, subject, message, detail, audited), True
                self._open[key] = alarm_id
                self._cleared.pop(key, None)
        alarm = self.get(alarm_id)
        if new:  # (in the service's log too: a run's log alone, a CI's, said nothing of what was raised)
            log.warning("alarm %s on %s: %s", kind, subject, message)
        if not (new and audited):
            self._publish(alarm)
        return alarm if new else None

    def _cleared_lately(self, key: tuple[str, str]) -> bool:
        """The latest open alarm of ``key`` was marked cleared no longer than ``RECURS_AFTER_S`` ago. (Under the
        lock.)"""
        cleared_at = self._cleared.get(key)
        return cleared_at is not None and self.clock() - cleared_at <= RECURS_AFTER_S

    def clear(self, kind: AlarmKind, subject: str) -> None:
        """The cause of the open alarm of this kind for the subject has ended: marked cleared now (stored, published),
        open until acknowledged. Asked on every tick while all is well: a dict lookup when there is nothing to do."""
        key = (kind, subject)
        if key not in self._open or key in self._cleared:
            return
        with self._lock:
            if key not in self._open or key in self._cleared:
                return  # acknowledged, or marked, meanwhile
            alarm_id = self._store_cleared(key, self.clock())
        self._publish(self.get(alarm_id))

    def _store_cleared(self, key: tuple[str, str], cleared_at: float | None) -> int:
        """The latest open alarm of ``key`` marked cleared at ``cleared_at`` (None: its cause stands again), in the
        store and here (under the lock); its id."""
        alarm_id = self._open[key]
        with self.store.transaction() as conn:
            conn.execute(alarms.update().where(alarms.c.id == alarm_id).values(cleared_at=cleared_at))
        if cleared_at is None:
            self._cleared.pop(key, None)
        else:
            self._cleared[key] = cleared_at
        return alarm_id

    def _publish(self, alarm: Alarm) -> None:
        """A stored alarm (new, cleared, standing again, acknowledged), on the stream as it stands."""
        self.bus.publish(Topic.ALARM, {**alarm.model_dump(mode="json"), "source": "fleet"})

    def is_open(self, kind: AlarmKind, subject: str) -> bool:
        """An alarm of this kind stands open (not acknowledged, not cleared) for the subject: ``raise_alarm`` would do
        nothing."""
        return (kind, subject) in self._open and (kind, subject) not in self._cleared

    def _insert(self, kind: AlarmKind, subject: str, message: str, detail: dict[str, Any] | None,
                audited: bool) -> int:
        with self.store.transaction() as conn:
            body = {"kind": str(kind), "subject": subject, "message": message, "detail": detail or {}}
            inserted = conn.execute(
                alarms.insert().values(
                    raised_at=self.clock(), kind=kind, subject=subject, message=message, detail=detail or {}
                )
            ).inserted_primary_key
            assert inserted is not None  # None only when no row was inserted; a single-row insert has one
            alarm_id = inserted[0]
            if not audited:
                self.store.append_audit(conn, AuditKind.ALARM, {**body, "alarm_id": alarm_id})
        return int(alarm_id)

    def get(self, alarm_id: int) -> Alarm:
        with self.store.reading() as conn:
            row = conn.execute(sa.select(alarms).where(alarms.c.id == alarm_id)).first()
        if row is None:
            raise KeyError(alarm_id)
        return Alarm.model_validate(row._asdict())

    def list(self, *, open_only: bool = False, limit: int = 100, offset: int = 0) -> tuple[list[Alarm], int]:
        where = [alarms.c.acknowledged_at.is_(None)] if open_only else []
        with self.store.reading() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(alarms).where(*where)).scalar_one()
            rows = conn.execute(
                sa.select(alarms).where(*where).order_by(alarms.c.id.desc()).limit(limit).offset(offset)
            ).all()
        return [Alarm.model_validate(r._asdict()) for r in rows], total

    def subjects(self, kind: AlarmKind) -> set[str]:
        """Every subject an alarm of ``kind`` was ever raised for, acknowledged or not (what is raised only once
        for good, such as an order overdue, is not raised again after an acknowledgement or a restart)."""
        with self.store.reading() as conn:
            return set(conn.execute(sa.select(alarms.c.subject).where(alarms.c.kind == str(kind))).scalars())

    def _lasts(self, key: tuple[str, str]) -> bool:
        """Is this an acknowledged lasting condition asked for again without a lapse? (Under the lock.)"""
        asked = self._acknowledged_lasting.get(key)
        if asked is None:
            return False
        now = self.clock()
        if now - asked > LAPSE_S:  # it ended meanwhile: this is a new alarm
            del self._acknowledged_lasting[key]
            return False
        self._acknowledged_lasting[key] = now
        return True

    def acknowledge(self, alarm_id: int, by: str) -> Alarm:
        """Acknowledged by ``by`` (again: as it was, unchanged); KeyError if there is no such alarm."""
        with self._lock:
            with self.store.transaction() as conn:
                done = conn.execute(
                    alarms.update()
                    .where(alarms.c.id == alarm_id, alarms.c.acknowledged_at.is_(None))
                    .values(acknowledged_at=self.clock(), acknowledged_by=by)
                ).rowcount
            alarm = self.get(alarm_id)  # (KeyError: none such)
            key = (alarm.kind, alarm.subject)
            if done and self._open.get(key) == alarm.id:  # (an older one, cleared, leaves the newer one open)
                del self._open[key]
                self._cleared.pop(key, None)
                if alarm.kind in LASTING_KINDS:
                    self._acknowledged_lasting[key] = self.clock()
        if done:
            self._publish(alarm)
        return alarm

"""The hash-chained audit log: paged records, a JSON-lines export either customs side can verify offline
(``xborder audit verify``), and the check done here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from fleet.api.deps import MAX_ID, AuditReader, StoreDep
from fleet.store import AuditKind, AuditRecord, Store, verify_chain

router = APIRouter(tags=["audit"])

EXPORT_BATCH = 1000


class AuditRecordPublic(BaseModel):
    seq: int
    recorded_at: str
    kind: str
    body: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    records: list[AuditRecordPublic]
    head_seq: int
    next_after: int | None  # pass as ``after`` for the next page; None at the head


class AuditVerification(BaseModel):
    ok: bool
    records: int
    head_seq: int
    head_hash: str
    problems: list[str]


@router.get("/audit", response_model=AuditPage)
def audit_page(store: StoreDep, _: AuditReader,
               after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               kind: Annotated[list[AuditKind] | None, Query(max_length=len(AuditKind))] = None) -> AuditPage:
    """Records with ``seq`` > ``after``, oldest first; only those of the ``kind``s given (repeat it for several:
    ``kind=decision&kind=crossing``), if any."""
    kinds = kind or []
    records = [AuditRecordPublic(**vars(r)) for r in store.audit_records(after, limit, kinds)]
    head_seq, _head = store.audit_head
    last = records[-1].seq if records else after
    # a page of some kinds that is not full has read every record of them up to the head
    more = last < head_seq and (len(records) == limit or not kinds)
    return AuditPage(records=records, head_seq=head_seq, next_after=last if more else None)


@router.get("/audit/export", response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}}, "description": "one record per line"}})
def audit_export(store: StoreDep, _: AuditReader) -> StreamingResponse:
    """The whole log, one JSON record per line, in the form ``xborder audit verify`` checks."""
    return StreamingResponse((r.to_json() + "\n" for r in _all(store)), media_type="application/x-ndjson",
                             headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'})


@router.get("/audit/verify", response_model=AuditVerification)
def audit_verify(store: StoreDep, _: AuditReader) -> AuditVerification:
    """Check the stored chain from the first record: every hash, every link, no gap."""
    head_seq, head_hash = store.audit_head
    count = 0

    def lines() -> Iterator[str]:
        nonlocal count
        for record in _all(store):
            count += 1
            yield record.to_json()

    problems = verify_chain(lines())
    return AuditVerification(ok=not problems, records=count, head_seq=head_seq, head_hash=head_hash,
                             problems=problems)


def _all(store: Store) -> Iterator[AuditRecord]:
    """Every record, read in batches so a long log is never held in memory at once."""
    after = 0
    while True:
        batch = list(store.audit_records(after, EXPORT_BATCH))
        yield from batch
        if len(batch) < EXPORT_BATCH:
            return
        after = batch[-1].seq

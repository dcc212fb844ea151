"""The institution registry (administrators register credentials; auditors read, never the secrets)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Path
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from gateway.security.models import Institution, InstitutionKey
from gateway.security.schemas import InstitutionIn, InstitutionOut, KeyIn, KeyOut
from gateway.security.sealing import fingerprint, validate_key
from shared.db import utcnow
from shared.errors import Conflict, NotFound
from shared.service import RuntimeDep

router = APIRouter(prefix="/api/v1/institutions", tags=["institutions"])
CODE = Path(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9]+$")


@router.put("/{fixmedins_code}", response_model=InstitutionOut)
async def register(body: InstitutionIn, runtime: RuntimeDep, fixmedins_code: str = CODE) -> InstitutionOut:
    """Register an institution or replace its credentials (a new secret takes effect at once)."""
    try:
        async with runtime.db.transaction() as session:
            found = await session.scalar(
                select(Institution).where(col(Institution.fixmedins_code) == fixmedins_code)
            )
            entry = found or Institution(
                fixmedins_code=fixmedins_code, fixmedins_name="", paasid="", secret=""
            )
            entry.fixmedins_name = body.fixmedins_name
            entry.paasid = body.paasid
            entry.secret = body.secret.get_secret_value()
            entry.rate_limit_per_minute = body.rate_limit_per_minute
            entry.active = body.active
            entry.envelope_crypto = body.envelope_crypto
            entry.updated_at = utcnow()
            session.add(entry)
            await session.flush()
            out = InstitutionOut.model_validate(entry)
    except IntegrityError as exc:
        raise Conflict(f"paasid {body.paasid} 已登记给另一机构", code="PAASID_TAKEN") from exc
    return out


@router.get("", response_model=list[InstitutionOut])
async def list_institutions(runtime: RuntimeDep) -> list[InstitutionOut]:
    """The institutions registered to send HIS messages, with their paasid (never a secret)."""
    async with runtime.db.session() as session:
        rows = (await session.scalars(select(Institution).order_by(col(Institution.fixmedins_code)))).all()
    return [InstitutionOut.model_validate(r) for r in rows]


@router.get("/{fixmedins_code}", response_model=InstitutionOut)
async def get_institution(runtime: RuntimeDep, fixmedins_code: str = CODE) -> InstitutionOut:
    """One registered institution (never its secret). Refused: 404 NOT_FOUND."""
    async with runtime.db.session() as session:
        found = await session.scalar(
            select(Institution).where(col(Institution.fixmedins_code) == fixmedins_code)
        )
    if found is None:
        raise NotFound(f"机构 {fixmedins_code} 未登记")
    return InstitutionOut.model_validate(found)


def _key_out(key: InstitutionKey) -> KeyOut:
    assert key.id is not None
    return KeyOut(
        id=key.id,
        kind=key.kind,
        fingerprint=fingerprint(key.key),
        valid_from=key.valid_from,
        valid_until=key.valid_until,
    )


@router.post("/{fixmedins_code}/keys", response_model=KeyOut, status_code=201)
async def add_key(body: KeyIn, runtime: RuntimeDep, fixmedins_code: str = CODE) -> KeyOut:
    """Hold a new key for the institution. With ``retire_others_after_s`` it is a rotation: the kind's
    other keys valid now end that many seconds later, and until then the old and the new key both work."""
    now = utcnow()
    async with runtime.db.transaction() as session:
        found = await session.scalar(
            select(Institution).where(col(Institution.fixmedins_code) == fixmedins_code)
        )
        if found is None:
            raise NotFound(f"机构 {fixmedins_code} 未登记")
        if body.retire_others_after_s is not None:
            ends = now + timedelta(seconds=body.retire_others_after_s)
            others = await session.scalars(
                select(InstitutionKey).where(
                    col(InstitutionKey.fixmedins_code) == fixmedins_code,
                    col(InstitutionKey.kind) == body.kind,
                )
            )
            for other in others:
                if other.valid_until is None or other.valid_until > ends:
                    other.valid_until = ends
                    session.add(other)
        key = InstitutionKey(
            fixmedins_code=fixmedins_code,
            kind=body.kind,
            key=validate_key(body.kind, body.key.get_secret_value()),
            valid_from=body.valid_from or now,
        )
        session.add(key)
        await session.flush()
        out = _key_out(key)
    return out


@router.get("/{fixmedins_code}/keys", response_model=list[KeyOut])
async def list_keys(runtime: RuntimeDep, fixmedins_code: str = CODE) -> list[KeyOut]:
    async with runtime.db.session() as session:
        rows = (
            await session.scalars(
                select(InstitutionKey)
                .where(col(InstitutionKey.fixmedins_code) == fixmedins_code)
                .order_by(col(InstitutionKey.id))
            )
        ).all()
    return [_key_out(k) for k in rows]

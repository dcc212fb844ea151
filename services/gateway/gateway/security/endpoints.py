"""The institution registry (administrators register credentials; auditors read, never the secrets)."""

from __future__ import annotations

from fastapi import APIRouter, Path
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from gateway.security.models import Institution
from gateway.security.schemas import InstitutionIn, InstitutionOut
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

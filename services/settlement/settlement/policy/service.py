from __future__ import annotations

from datetime import date

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement import reference
from settlement.policy.document import PolicyDocument
from settlement.policy.models import BenefitPolicy
from settlement.policy.schemas import PolicyCreate
from settlement.versions import next_version, publish_change
from shared.errors import Conflict, DomainError


async def create(session: AsyncSession, data: PolicyCreate) -> BenefitPolicy:
    overlapping = await session.scalar(
        select(BenefitPolicy).where(
            BenefitPolicy.admdvs == data.admdvs,
            BenefitPolicy.insutype == data.insutype,
            or_(
                col(BenefitPolicy.effective_to).is_(None),
                col(BenefitPolicy.effective_to) >= data.effective_from,
            ),
            *(
                [col(BenefitPolicy.effective_from) <= data.effective_to]
                if data.effective_to is not None
                else []
            ),
        )
    )
    if overlapping is not None:
        raise Conflict(
            f"与已有政策 {overlapping.id}（{overlapping.name}）的有效期重叠", code="POLICY_OVERLAP"
        )
    # A policy is a change of the chronic disease list (1309) whether or not it names diseases: the list
    # of its period is what its document says (docs/interface.md, "13xx catalogue downloads").
    ver = await next_version(session)
    policy = BenefitPolicy(
        **data.model_dump(exclude={"document"}),
        document=data.document.model_dump(mode="json"),
        list_ver=ver,
    )
    session.add(policy)
    await session.flush()
    chronic = data.document.chronic
    await publish_change(session, ver, "opsp", list(chronic.diseases) if chronic is not None else [])
    return policy


async def list_all(session: AsyncSession) -> list[BenefitPolicy]:
    return list(
        await session.scalars(
            select(BenefitPolicy).order_by(col(BenefitPolicy.admdvs), col(BenefitPolicy.effective_from))
        )
    )


async def in_force(session: AsyncSession, admdvs: str, insutype: str, on: date) -> BenefitPolicy:
    return (await in_force_with_document(session, admdvs, insutype, on))[0]


async def in_force_with_document(
    session: AsyncSession, admdvs: str, insutype: str, on: date
) -> tuple[BenefitPolicy, PolicyDocument]:
    """The policy in force (their periods never overlap, ``create``) and its parsed document; from the
    reference cache (every settlement asks)."""

    async def load() -> list[tuple[BenefitPolicy, PolicyDocument]]:
        return [(p, document_of(p)) for p in await session.scalars(select(BenefitPolicy))]

    for policy, document in await reference.cached(session, "policies", load):
        if (
            (policy.admdvs, policy.insutype) == (admdvs, insutype)
            and policy.effective_from <= on
            and (policy.effective_to is None or policy.effective_to >= on)
        ):
            return policy, document
    raise DomainError(
        f"参保地 {admdvs} 险种 {insutype} 在 {on} 无有效的待遇政策", code="NO_POLICY", status_code=422
    )


def document_of(policy: BenefitPolicy) -> PolicyDocument:
    return PolicyDocument.model_validate(policy.document)

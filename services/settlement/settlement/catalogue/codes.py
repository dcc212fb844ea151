"""National code lists other than the medical insurance list: diagnoses (dise, ICD-10 医保版, 1307),
procedures (oprn, ICD-9-CM-3 医保版, 1308), tumour morphology (tumr, ICD-O-3 形态学, 1313), TCM diseases
(tcmdise, 中医病证分类与代码 病名, 1314), TCM syndromes (tcmsymp, its 证候, 1315), and the diseases paid by
disease (bydise, 按病种结算, 1310) and treated by day surgery (daysrg, 日间手术, 1311), each with its
qualifying operation; versioned like catalogue items. See docs/domain.md,
"Diagnosis and procedure codes"."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from settlement import reference
from settlement.catalogue.models import NationalCode
from settlement.catalogue.schemas import ImportError_, ImportResult
from settlement.versions import next_version, publish_change
from shared.db import utcnow
from shared.errors import Conflict, DomainError

KINDS = {
    "dise": "疾病诊断",
    "oprn": "手术操作",
    "tumr": "肿瘤形态学",
    "tcmdise": "中医疾病",
    "tcmsymp": "中医证候",
    "bydise": "按病种结算病种",
    "daysrg": "日间手术治疗病种",
}
#: The lists whose entries may name a qualifying operation (限定手术操作).
WITH_OPERATION = ("bydise", "daysrg")
_CODE = r"^[A-Za-z0-9.+\-/×*]+$"


class NationalCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=30, pattern=_CODE)
    name: str = Field(min_length=1, max_length=300)
    #: The qualifying operation (bydise and daysrg only): its ICD-9-CM-3 医保版 code and name.
    oprn_code: str | None = Field(default=None, min_length=1, max_length=30, pattern=_CODE)
    oprn_name: str | None = Field(default=None, min_length=1, max_length=300)
    effective_from: date = date(2000, 1, 1)

    @model_validator(mode="after")
    def _operation_named_with_its_code(self) -> NationalCodeIn:
        if self.oprn_name is not None and self.oprn_code is None:
            raise ValueError("限定手术操作名称须与其编码一同填写")
        return self


async def create(
    session: AsyncSession, kind: str, data: NationalCodeIn, ver: int | None = None
) -> NationalCode:
    """Add a code, or a new version of it from ``effective_from`` (the current one ends the day before);
    the same version again is a no-op."""
    if kind not in WITH_OPERATION and data.oprn_code is not None:
        raise DomainError(
            f"{KINDS[kind]}目录不含限定手术操作（编码 {data.code}）", code="BAD_FILE", status_code=422
        )
    versions = list(
        await session.scalars(
            select(NationalCode)
            .where(NationalCode.kind == kind, NationalCode.code == data.code)
            .order_by(col(NationalCode.effective_from))
            .with_for_update()
        )
    )
    for version in versions:
        if version.effective_from == data.effective_from:
            if (version.name, version.oprn_code, version.oprn_name) == (
                data.name,
                data.oprn_code,
                data.oprn_name,
            ):
                return version
            raise Conflict(
                f"{KINDS[kind]}编码 {data.code} 自 {data.effective_from} 起的版本已存在且内容不同",
                code="CATALOGUE_VERSION_EXISTS",
            )
    if versions and data.effective_from <= versions[-1].effective_from:
        raise Conflict(
            f"{KINDS[kind]}编码 {data.code} 的新版本须晚于现行版本的生效日 {versions[-1].effective_from}",
            code="CATALOGUE_VERSION_ORDER",
        )
    if ver is None:
        ver = await next_version(session)
        await publish_change(session, ver, kind, [data.code])
    now = utcnow()
    if versions:
        versions[-1].effective_to = data.effective_from - timedelta(days=1)
        versions[-1].list_ver, versions[-1].updated_at = ver, now
    entry = NationalCode(kind=kind, **data.model_dump(), list_ver=ver, updated_at=now)
    session.add(entry)
    await session.flush()
    return entry


async def import_csv(session: AsyncSession, kind: str, text: str) -> ImportResult:
    """A code file (columns ``code,name`` and optionally ``effective_from``; for bydise and daysrg also
    ``oprn_code``, ``oprn_name``), all or nothing, under one catalogue version."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in ("code", "name") if c not in (reader.fieldnames or [])]
    if missing:
        raise DomainError(f"编码文件缺少列: {', '.join(missing)}", code="BAD_FILE", status_code=422)
    entries: list[tuple[int, NationalCodeIn]] = []
    errors: list[ImportError_] = []
    for number, row in enumerate(reader, start=2):
        values = {k: (v or "").strip() for k, v in row.items() if k}
        try:
            entries.append(
                (
                    number,
                    NationalCodeIn(
                        code=values.get("code", ""),
                        name=values.get("name", ""),
                        oprn_code=values.get("oprn_code") or None,
                        oprn_name=values.get("oprn_name") or None,
                        effective_from=values.get("effective_from") or date(2000, 1, 1),
                    ),
                )
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            message = f"{where}: {first.get('msg', '')}"
            errors.append(ImportError_(line=number, med_list_codg=values.get("code", ""), message=message))
    imported = unchanged = 0
    changed: list[str] = []
    if not errors:
        ver = await next_version(session)
        for number, entry in entries:
            try:
                async with session.begin_nested():
                    made = await create(session, kind, entry, ver)
                    if made.list_ver == ver:
                        imported += 1
                        changed.append(entry.code)
                    else:
                        unchanged += 1
            except DomainError as exc:
                errors.append(ImportError_(line=number, med_list_codg=entry.code, message=exc.message))
    if errors:
        raise DomainError(
            f"编码文件有 {len(errors)} 行错误，未导入任何条目",
            code="IMPORT_REFUSED",
            status_code=422,
            details=[e.model_dump() for e in errors],
        )
    if changed:
        await publish_change(session, ver, kind, changed)
    return ImportResult(imported=imported, unchanged=unchanged, errors=[])


async def in_force(session: AsyncSession, kind: str, code: str, on: date) -> bool:
    """Whether ``code`` is on the list on ``on`` (read through the reference cache)."""

    Key = tuple[str, str, str]
    Periods = list[tuple[date, date | None]]

    async def load(missing: list[Key]) -> dict[Key, Periods]:
        found: dict[Key, Periods] = {key: [] for key in missing}
        for _, k, c in missing:
            rows = await session.scalars(
                select(NationalCode).where(NationalCode.kind == k, NationalCode.code == c)
            )
            found[("national_code", k, c)] = [(r.effective_from, r.effective_to) for r in rows]
        return found

    periods = (await reference.cached_many(session, [("national_code", kind, code)], load))[
        ("national_code", kind, code)
    ]
    return any(start <= on and (end is None or end >= on) for start, end in periods)

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Column, Integer, Table, UniqueConstraint
from sqlmodel import Field

from settlement.db import Base, ReferenceData
from shared.db import AwareDateTime, BigIntPK, ExactDecimal, utcnow


class CatalogueItem(ReferenceData, Base, table=True):
    """One version of an entry of the medical insurance list (医保目录): drug, treatment item or material."""

    __tablename__ = "catalogue_items"
    __table_args__ = (UniqueConstraint("med_list_codg", "effective_from", name="uq_catalogue_version"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    med_list_codg: str = Field(max_length=50, index=True)
    #: Each version of an entry applies from ``effective_from`` to ``effective_to`` (open when None); a
    #: change is a new version, and the one before ends the day before it starts.
    effective_from: date = Field(default=date(2000, 1, 1))
    effective_to: date | None = None
    name: str = Field(max_length=200)
    #: med_chrgitm_type 医疗收费项目类别 (09 西药费, 11 中成药费, ...).
    med_chrgitm_type: str = Field(max_length=6)
    #: chrgitm_lv 收费项目等级: 1 甲类, 2 乙类, 3 丙类 (self-paid).
    chrgitm_lv: str = Field(max_length=3)
    #: 乙类 self-pay-first share (先行自付比例), 0 for 甲/丙.
    selfpay_prop: Decimal = Field(default=Decimal(0), sa_type=ExactDecimal(5, 4))
    #: Unit price cap (限价, yuan per unit); above it the excess is self-paid (超限价). None = no cap.
    pric_uplmt: Decimal | None = Field(default=None, sa_type=ExactDecimal(16, 6), nullable=True)
    #: Unit price caps that differ by hospital level ("1", "2", "3"), overriding ``pric_uplmt`` there.
    pric_uplmt_by_level: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: Unit price caps set by a treating region for care at its institutions (就医地限价: out-of-area care
    #: follows the treating region's caps; docs/domain.md, "Out-of-area care"), by admdvs, overriding the
    #: caps above there.
    pric_uplmt_by_admdvs: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: 限制使用: paid only with the hospital's approval (hosp_appr_flag 1).
    restricted: bool = False
    #: Marks shown on the entry's lines (engine ``ListFlags``): 基本药物, 医保谈判药品, 儿童用药,
    #: 目录特项 (特检特治 / special drugs), 直报.
    essential_drug: bool = False
    negotiated_drug: bool = False
    child_medicine: bool = False
    special_item: bool = False
    direct_reimbursement: bool = False
    #: A drug whose every package dispensed must be named by its traceability code (追溯码): a pharmacy
    #: purchase (2102) or outpatient fee line (2204) of it without one is refused, and so is an inventory
    #: sale (3505) (docs/domain.md, "Inventory").
    trace_required: bool = False
    #: The national list the entry is published in when it is not the one its ``med_chrgitm_type`` names
    #: (``settlement.catalogue.schemas.LIST_KINDS``: prep 医疗机构制剂 1303, ethnic 民族药 1304, granule
    #: 中药配方颗粒 1320, service2 医疗服务项目(新) 1321); None for the lists of 1301, 1302, 1305 and 1306.
    list_kind: str | None = Field(default=None, max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
    #: The catalogue version (``catalogue_list_version``) of the last change to this row: its creation, or
    #: its end date set when a newer version came. The 13xx downloads answer the rows changed after the
    #: version an institution holds (docs/interface.md, "13xx catalogue downloads").
    list_ver: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, index=True, default=0))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class NationalCode(ReferenceData, Base, table=True):
    """One version of an entry of a national code list other than the medical insurance list: diagnoses
    (``kind`` dise: 1307, ICD-10 医保版), procedures (oprn: 1308, ICD-9-CM-3 医保版) and the others of
    ``settlement.catalogue.codes.KINDS``, versioned and downloaded like catalogue items (docs/domain.md,
    "Diagnosis and procedure codes")."""

    __tablename__ = "national_codes"
    __table_args__ = (UniqueConstraint("kind", "code", "effective_from", name="uq_national_code_version"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    kind: str = Field(max_length=10)
    code: str = Field(max_length=30, index=True)
    name: str = Field(max_length=300)
    #: The qualifying operation (限定手术操作, ICD-9-CM-3 医保版) of a by-disease (bydise, 1310) or
    #: day-surgery (daysrg, 1311) entry; None for the other lists and for an entry treated without one.
    oprn_code: str | None = Field(default=None, max_length=30)
    oprn_name: str | None = Field(default=None, max_length=300)
    effective_from: date = Field(default=date(2000, 1, 1))
    effective_to: date | None = None
    list_ver: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, index=True, default=0))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


#: One row (id 1): the newest catalogue version. Every change to a catalogue item or a national code takes
#: the next number in its transaction; the row lock held until commit orders the versions as they commit.
catalogue_list_version = Table(
    "catalogue_list_version",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("ver", BigInteger, nullable=False),
)


class CatalogueMapping(Base, table=True):
    """目录对照 (3301): an institution's own item code (``medins_list_codg``, the national interface's
    ``fixmedins_hilist_id``) mapped to a national list code from ``begndate`` until ``enddate`` or until
    revoked (3302) on ``revoked_on`` (docs/domain.md, "Catalogue mapping"). Rows are never deleted: the
    list of them is the audit of what applied when."""

    __tablename__ = "catalogue_mappings"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    fixmedins_code: str = Field(max_length=30, index=True)
    medins_list_codg: str = Field(max_length=50)
    med_list_codg: str = Field(max_length=50)
    #: 目录类别 as the institution sent it (101 西药, 201 医疗服务...), kept as sent.
    list_type: str = Field(max_length=30)
    name: str = Field(max_length=200)
    begndate: date
    #: The last day it applies (None: open).
    enddate: date | None = None
    #: Revoked (3302) from this day on: it applies to care before it only.
    revoked_on: date | None = None
    created_msgid: str | None = Field(default=None, max_length=30)
    revoked_msgid: str | None = Field(default=None, max_length=30)
    #: The catalogue version (``catalogue_list_version``) of the mapping's last change: its upload, its end
    #: date set by a later upload, or its revocation. 1317 answers an institution the mappings changed
    #: after the version it holds (docs/interface.md, "13xx catalogue downloads").
    list_ver: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, index=True, default=0))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))

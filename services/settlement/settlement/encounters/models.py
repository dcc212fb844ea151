from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Column, Text, UniqueConstraint, text
from sqlmodel import Field

from settlement.db import Base
from shared.db import AwareDateTime, BigIntPK, ExactDecimal, timestamp_field


class Encounter(Base, table=True):
    """A visit (门诊, 2201) or an admission (住院, 2401) whose fee lines are uploaded before settling."""

    __tablename__ = "encounters"
    __table_args__ = (UniqueConstraint("fixmedins_code", "ipt_otp_no", name="uq_encounter_hospital_no"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    mdtrt_id: str = Field(max_length=30, unique=True, index=True)
    #: outpatient or inpatient.
    setting: str = Field(max_length=12)
    psn_no: str = Field(max_length=30, index=True)
    insutype: str = Field(max_length=6)
    insuplc_admdvs: str = Field(max_length=6)
    fixmedins_code: str = Field(max_length=30, index=True)
    mdtrtarea_admvs: str = Field(max_length=6)
    #: The hospital's own visit/admission number (ipt_otp_no), unique per institution.
    ipt_otp_no: str = Field(max_length=30)
    med_type: str = Field(max_length=6)
    mdtrt_cert_type: str = Field(max_length=3)
    mdtrt_cert_no: str = Field(max_length=50)
    begntime: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    endtime: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
    dise_codg: str | None = Field(default=None, max_length=30)
    dise_name: str | None = Field(default=None, max_length=300)
    #: 生育: 1 顺产 (normal), 2 剖宫产 (caesarean).
    matn_type: str | None = Field(default=None, max_length=6)
    #: open, discharged (inpatient), cancelled, settled (inpatient, final settlement done).
    status: str = Field(default="open", max_length=12)
    #: Who recorded it: the operator (envelope ``opter`` / ``opter_name``) of the call that sent it; ""
    #: for rows recorded before it was kept (5201, 5202, 5204 ``opter_id`` / ``opter_name``).
    opter_id: str = Field(default="", max_length=30, sa_column_kwargs={"server_default": ""})
    opter_name: str = Field(default="", max_length=50, sa_column_kwargs={"server_default": ""})
    #: What the HIS sent of the visit beyond what settling uses (2201 doctor and department, 2401 / 2403
    #: contact, departments, bed, 病情, 2402 discharge and maternity fields), national names to text, kept as
    #: sent and answered by 5201 (docs/interface.md, "Queries").
    details: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default=text("'{}'"))
    )
    created_at: datetime = timestamp_field()


class FeeLineRecord(Base, table=True):
    """An uploaded fee line (2204/2301) of an encounter, waiting to be settled or settled by ``setl_id``."""

    __tablename__ = "fee_lines"
    __table_args__ = (
        UniqueConstraint("mdtrt_id", "feedetl_sn", name="uq_fee_line"),
        # Settling marks the lines in place (heap-only updates: ``setl_id`` has no index, pages keep room).
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    mdtrt_id: str = Field(max_length=30, index=True, foreign_key="encounters.mdtrt_id")
    feedetl_sn: str = Field(max_length=30)
    #: Outpatient charge batch (chrg_bchno); "" for inpatient lines.
    chrg_bchno: str = Field(default="", max_length=30)
    med_list_codg: str = Field(max_length=50)
    medins_list_codg: str = Field(max_length=50)
    cnt: Decimal = Field(sa_type=ExactDecimal(16, 4))
    pric: Decimal = Field(sa_type=ExactDecimal(16, 6))
    amount_fen: int
    hosp_appr_flag: str = Field(default="0", max_length=1)
    fee_ocur_time: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    #: Not indexed: found by the stay (``mdtrt_id``), so that marking the lines touches no index.
    setl_id: str | None = Field(default=None, max_length=30)
    #: Who recorded it: the operator (envelope ``opter`` / ``opter_name``) of the call that sent it; ""
    #: for rows recorded before it was kept (5201, 5202, 5204 ``opter_id`` / ``opter_name``).
    opter_id: str = Field(default="", max_length=30, sa_column_kwargs={"server_default": ""})
    opter_name: str = Field(default="", max_length=50, sa_column_kwargs={"server_default": ""})
    #: What the HIS sent with the line beyond what settling uses (prescription or order number, dosage,
    #: departments and doctors, flags), national names to text, kept as sent and answered by 5204.
    details: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default=text("'{}'"))
    )
    created_at: datetime = timestamp_field()


class EncounterMessage(Base, table=True):
    """The answer a state-changing encounter call (2201-2205, 2301/2302, 2401-2405) gave under a msgid, so
    that a repeat of the msgid after a lost answer is answered with it instead of acting again (a second
    2204 would be refused FEE_LINE_EXISTS, a second 2205 would withdraw nothing). Written in the same
    transaction as the effect. One 2402 makes two calls under its msgid (the maternity fields, then the
    discharge): the operation tells them apart."""

    __tablename__ = "encounter_messages"
    __table_args__ = (UniqueConstraint("fixmedins_code", "msgid", "operation", name="uq_encounter_message"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    fixmedins_code: str = Field(max_length=30)
    msgid: str = Field(max_length=30)
    #: open, cancel, diagnosis, fees, fees_cancel, discharge, undo_discharge.
    operation: str = Field(max_length=20)
    #: The request it answered: the same msgid with another request is refused, not answered.
    request_sha256: str = Field(max_length=64)
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = timestamp_field()


class EncounterDiagnosis(Base, table=True):
    """One diagnosis row (``diseinfo``) of a visit or a stay as the HIS sent it: the admission's or the
    visit's (2401, 2403, 2203; ``inout_diag_type`` 1) or the discharge's (2402; 2). A later upload of the
    same kind replaces the earlier rows; 5202 answers them (docs/domain.md, "Diagnoses of a visit")."""

    __tablename__ = "encounter_diagnoses"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    mdtrt_id: str = Field(max_length=30, index=True, foreign_key="encounters.mdtrt_id")
    #: 出入院诊断类别: 1 入院诊断 (an outpatient visit's diagnoses too), 2 出院诊断.
    inout_diag_type: str = Field(max_length=3)
    #: 诊断类别: 1 西医诊断, 2 中医主病诊断, 3 中医主证诊断.
    diag_type: str = Field(max_length=3)
    diag_srt_no: int
    diag_code: str = Field(max_length=30)
    diag_name: str = Field(max_length=300)
    maindiag_flag: str = Field(max_length=3)
    adm_cond: str | None = Field(default=None, max_length=500)
    diag_dept: str | None = Field(default=None, max_length=100)
    dise_dor_no: str | None = Field(default=None, max_length=30)
    dise_dor_name: str | None = Field(default=None, max_length=50)
    diag_time: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
    vali_flag: str = Field(default="1", max_length=3)
    #: Who recorded it: the operator (envelope ``opter`` / ``opter_name``) of the call that sent it; ""
    #: for rows recorded before it was kept (5201, 5202, 5204 ``opter_id`` / ``opter_name``).
    opter_id: str = Field(default="", max_length=30, sa_column_kwargs={"server_default": ""})
    opter_name: str = Field(default="", max_length=50, sa_column_kwargs={"server_default": ""})
    created_at: datetime = timestamp_field()

"""The settlement service's filings API (version 1, docs/interface.md "Filings"): the bodies the gateway
(2501-2507, 5301/5302, 2001) and an office clerk send, and the answers, imported by both sides (settlement's
endpoints declare them, the gateway's ``Downstream`` builds and reads them). Domain names; the wire's are
the gateway's (``gateway.nhsa.filings``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ChronicFilingCreate(BaseModel):
    """2503 门慢门特病种备案: the person, the disease, the validity dates."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    insutype: str = Field(min_length=1, max_length=6)
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")
    fixmedins_code: str = Field(min_length=1, max_length=30)
    opsp_dise_code: str = Field(min_length=1, max_length=30)
    opsp_dise_name: str = Field(min_length=1, max_length=300)
    begndate: date
    enddate: date | None = None
    memo: str | None = Field(default=None, max_length=500)


class DesignatedFilingCreate(BaseModel):
    """2505 人员定点备案: the facility a registered chronic patient is treated at, from ``begndate``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    #: None: the scheme the person is covered by on ``begndate``.
    insutype: str | None = Field(default=None, min_length=1, max_length=6)
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")
    fixmedins_code: str = Field(min_length=1, max_length=30)
    designated_fixmedins_code: str = Field(min_length=1, max_length=30)
    fix_srt_no: str | None = Field(default=None, max_length=3)
    biz_appy_type: str | None = Field(default=None, max_length=3)
    begndate: date
    enddate: date | None = None
    memo: str | None = Field(default=None, max_length=500)


#: 异地就医备案类别 (docs/domain.md, "Filings"): 01 异地安置退休, 02 异地长期居住, 03 常驻异地工作 (the
#: long-term residents elsewhere, policy kind ``resident``), 04 异地转诊 (``referred``), 05 异地急诊抢救 and
#: 06 其他临时外出就医 (``temporary``). Absent on a 2501: 04, the referral 转院备案 files.
DclaType = Literal["01", "02", "03", "04", "05", "06"]
REFERRED_DCLA_TYPE: DclaType = "04"


class ReferralFilingCreate(BaseModel):
    """2501 转院备案 (2501A: with the visit transferred from): care in ``mdtrtarea_admdvs`` (at
    ``reflin_medins_no`` if named) from ``begndate`` is filed, and gets the policy's filed ratio."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    insutype: str | None = Field(default=None, min_length=1, max_length=6)
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")
    fixmedins_code: str = Field(min_length=1, max_length=30)
    mdtrtarea_admdvs: str = Field(pattern=r"^\d{6}$")
    reflin_medins_no: str | None = Field(default=None, max_length=30)
    reflin_medins_name: str | None = Field(default=None, max_length=200)
    #: The kind of out-of-area filing (异地就医备案类别); None: 04 异地转诊.
    dcla_type: DclaType | None = None
    refl_type: str | None = Field(default=None, max_length=6)
    refl_date: date | None = None
    refl_rea: str | None = Field(default=None, max_length=300)
    refl_opnn: str | None = Field(default=None, max_length=300)
    hosp_agre_refl_flag: str | None = Field(default=None, max_length=3)
    refl_old_mdtrt_id: str | None = Field(default=None, max_length=30)
    diag_code: str | None = Field(default=None, max_length=30)
    diag_name: str | None = Field(default=None, max_length=300)
    begndate: date
    enddate: date | None = None
    memo: str | None = Field(default=None, max_length=500)


Flag = Literal["0", "1"]


class InjuryFilingCreate(BaseModel):
    """2507 意外伤害备案: the injury, its cause, and the person's declaration whether a third party is liable
    (``thrd_pty_resp_flag``) and whether it is a work injury (``wrk_inj_flag``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    insutype: str | None = Field(default=None, min_length=1, max_length=6)
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")
    fixmedins_code: str = Field(min_length=1, max_length=30)
    mdtrtarea_admdvs: str | None = Field(default=None, pattern=r"^\d{6}$")
    trum_time: datetime
    trum_site: str | None = Field(default=None, max_length=200)
    trum_rea: str = Field(min_length=1, max_length=300)
    thrd_pty_resp_flag: Flag
    wrk_inj_flag: Flag = "0"
    begndate: date
    enddate: date | None = None
    memo: str | None = Field(default=None, max_length=500)


FilingKind = Literal["chronic", "designated", "referral", "injury"]


class FilingRevoke(BaseModel):
    """2504 / 2506: the filing by its 待遇申报明细流水号, for the person named, of the kind the code
    revokes."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    psn_no: str = Field(min_length=1, max_length=30)
    kind: FilingKind | None = None
    fixmedins_code: str = Field(min_length=1, max_length=30)
    #: The day from which the filing no longer applies: today (Beijing time) or later, never before the
    #: filing's first day; defaults to today (its first day, for a filing not begun yet).
    revoked_on: date | None = None
    memo: str | None = Field(default=None, max_length=500)


class FilingOut(BaseModel):
    trt_dcla_detl_sn: str
    kind: str
    psn_no: str
    insutype: str
    fixmedins_code: str
    opsp_dise_code: str | None
    opsp_dise_name: str | None
    designated_fixmedins_code: str | None
    designated_fixmedins_name: str | None
    fix_srt_no: str | None
    mdtrtarea_admdvs: str | None = None
    reflin_medins_no: str | None = None
    reflin_medins_name: str | None = None
    #: referral: the kind of out-of-area filing (异地就医备案类别, ``DclaType``).
    dcla_type: str | None = None
    refl_type: str | None = None
    refl_date: date | None = None
    refl_rea: str | None = None
    refl_opnn: str | None = None
    hosp_agre_refl_flag: str | None = None
    refl_old_mdtrt_id: str | None = None
    diag_code: str | None = None
    diag_name: str | None = None
    trum_time: datetime | None = None
    trum_site: str | None = None
    trum_rea: str | None = None
    thrd_pty_resp_flag: str | None = None
    wrk_inj_flag: str | None = None
    #: injury: "1" the pooled fund may pay (no liable third party, no work injury declared), else "0".
    chk_pay_flag: str | None = None
    begndate: date
    enddate: date | None
    status: str
    revoked_on: date | None
    memo: str | None

    @classmethod
    def of(cls, filing: object) -> FilingOut:
        """The answer for a stored filing (settlement's ORM row, read by attribute)."""
        out = cls.model_validate(filing, from_attributes=True)
        if out.kind == "injury":
            payable = out.thrd_pty_resp_flag == "0" and out.wrk_inj_flag != "1"
            out.chk_pay_flag = "1" if payable else "0"
        return out


class FilingList(BaseModel):
    filings: list[FilingOut]


class EntitlementRow(BaseModel):
    """2001 人员待遇享受检查, one row per fund: whether the person may draw on it today for the care asked,
    and if not, why (``trt_chk_rslt``)."""

    fund_pay_type: str
    trt_chk_type: str
    trt_enjymnt_flag: Flag
    begndate: date | None
    enddate: date | None
    trt_chk_rslt: str | None
    #: The 异地就医备案类别 of the referral / out-of-area filing covering the care (the kind whose filed
    #: ratio a settlement applies); None when no such filing covers it.
    dcla_type: str | None = None


class Entitlement(BaseModel):
    psn_no: str
    on: date
    rows: list[EntitlementRow]

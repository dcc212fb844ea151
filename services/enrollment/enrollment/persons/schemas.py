from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.idcard import InvalidIdNumber, parse_id_number

ADMDVS_PATTERN = r"^\d{6}$"
#: Subsidised identity categories (人员身份类别) accepted for the spine; issue 3 makes this a managed table.
IDENTITY_TYPES = {
    "2101": "特困供养人员",
    "2102": "最低生活保障对象",
    "2103": "低收入家庭60周岁以上老年人",
    "2104": "重度残疾人",
    "2199": "其他政府认定人员",
}


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certno: str = Field(description="18-character resident ID number (GB 11643)")
    psn_name: str = Field(min_length=1, max_length=50)
    naty: str = Field(default="01", pattern=r"^\d{2}$", description="ethnicity code, 01 = Han")

    @field_validator("certno")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        try:
            return parse_id_number(value).value
        except InvalidIdNumber as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("psn_name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("姓名不能为空")
        return value


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    psn_no: str
    certno: str
    psn_cert_type: str
    psn_name: str
    gend: str
    brdy: date
    naty: str


class EnrollmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    psn_no: str = Field(min_length=1, max_length=30)
    year: int = Field(ge=2000, le=2100)
    insuplc_admdvs: str = Field(pattern=ADMDVS_PATTERN)
    insutype: str = Field(default="390", pattern=r"^(390|391|380)$")
    contribution_fen: int = Field(ge=0, le=10_000_000)
    receipt_no: str = Field(min_length=1, max_length=40)


class EnrollmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    psn_no: str
    year: int
    insutype: str
    psn_type: str
    insuplc_admdvs: str
    status: str
    coverage_begin: date
    coverage_end: date
    contribution_fen: int
    receipt_no: str | None


class IdentityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    psn_idet_type: str
    begin_date: date
    end_date: date | None = None

    @field_validator("psn_idet_type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in IDENTITY_TYPES:
            raise ValueError(f"未知的人员身份类别 {value}; 可选: {', '.join(sorted(IDENTITY_TYPES))}")
        return value


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    psn_idet_type: str
    begin_date: date
    end_date: date | None


class PersonCoverage(BaseModel):
    """Everything 1101 needs about a person, in domain names (the gateway maps them to the wire)."""

    person: PersonOut
    age: int
    enrollments: list[EnrollmentOut]
    identities: list[IdentityOut]

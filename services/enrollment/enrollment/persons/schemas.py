from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.idcard import InvalidIdNumber, parse_id_number

ADMDVS_PATTERN = r"^\d{6}$"
#: Subsidised identity categories (人员身份类别) whose personal contribution medical assistance pays.
IDENTITY_TYPES = {
    "2101": "特困供养人员(五保)",
    "2102": "最低生活保障对象(低保)",
    "2103": "低收入家庭60周岁以上老年人",
    "2104": "重度残疾人",
    "2199": "其他政府认定人员",
}


def valid_certno(value: str) -> str:
    """Shape, birth date and check digit. Whether the birth date lies in the future is judged by the
    service against the office's date."""
    try:
        return parse_id_number(value, today=date.max).value
    except InvalidIdNumber as exc:
        raise ValueError(str(exc)) from exc


def valid_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("姓名不能为空")
    return value


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certno: str = Field(description="18-character resident ID number (GB 11643)")
    psn_name: str = Field(min_length=1, max_length=50)
    naty: str = Field(default="01", pattern=r"^\d{2}$", description="ethnicity code, 01 = Han")
    #: Pooling region of residence; defaults to the ID number's address code.
    admdvs: str | None = Field(default=None, pattern=ADMDVS_PATTERN)

    _certno = field_validator("certno")(valid_certno)
    _name = field_validator("psn_name")(valid_name)


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

    @model_validator(mode="after")
    def _period(self) -> IdentityCreate:
        if self.end_date is not None and self.end_date < self.begin_date:
            raise ValueError("身份有效期结束日期早于开始日期")
        return self


class EmployeeEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certno: str
    insured_since: date

    _certno = field_validator("certno")(valid_certno)


class EmployeeImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[EmployeeEntry] = Field(min_length=1, max_length=100_000)


class EmployeeImportResult(BaseModel):
    imported: int
    terminated_enrollments: int

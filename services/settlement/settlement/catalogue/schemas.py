from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Which 医疗收费项目类别 each kind of item is (01-07 and 12-14 are services: 床位 诊察 检查 化验 治疗 手术
#: 护理, 一般诊疗 挂号 其他; 08 卫生材料; 09 西药 and 11 中成药; 10 中药饮片).
SERVICE_TYPES = ("01", "02", "03", "04", "05", "06", "07", "12", "13", "14")
DRUG_TYPES = ("09", "11")

ListKind = Literal["prep", "ethnic", "granule", "service2"]
#: The national lists an item may be published in other than the one its 医疗收费项目类别 names, with the
#: classes of charge an item of each may have: 医疗机构制剂 (1303: a hospital's own preparations, charged
#: as 西药 or 中成药), 民族药 (1304: 藏药, 蒙药, 维药... charged as 中成药 or 西药), 中药配方颗粒 (1320:
#: charged as 中药饮片 or 中成药, as the region decides) and the new 医疗服务项目 list (1321: the items of
#: the 医疗服务价格项目立项指南, service classes). An item of none of them (``list_kind`` empty) is in
#: 1301, 1302, 1305 or 1306 by its class.
LIST_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "prep": ("医疗机构制剂", DRUG_TYPES),
    "ethnic": ("民族药", DRUG_TYPES),
    "granule": ("中药配方颗粒", ("10", "11")),
    "service2": ("医疗服务项目（新）", SERVICE_TYPES),
}


class CatalogueItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    med_list_codg: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9.\-_]+$")
    name: str = Field(min_length=1, max_length=200)
    med_chrgitm_type: str = Field(pattern=r"^\d{2}$")
    chrgitm_lv: str = Field(pattern=r"^(1|2|3)$", description="1 甲类, 2 乙类, 3 丙类")
    selfpay_prop: Decimal = Field(default=Decimal(0), ge=0, le=1, max_digits=5, decimal_places=4)
    pric_uplmt: Decimal | None = Field(default=None, gt=0, max_digits=16, decimal_places=6)
    pric_uplmt_by_level: dict[str, Decimal] = Field(default_factory=dict)
    #: Caps a treating region sets for care at its institutions (就医地限价), by its admdvs.
    pric_uplmt_by_admdvs: dict[str, Decimal] = Field(default_factory=dict)
    restricted: bool = False
    essential_drug: bool = Field(default=False, description="基本药物 (bas_medn_flag)")
    negotiated_drug: bool = Field(default=False, description="医保谈判药品 (hi_nego_drug_flag)")
    child_medicine: bool = Field(default=False, description="儿童用药 (chld_medc_flag)")
    special_item: bool = Field(default=False, description="目录特项: 特检特治/特殊药品 (list_sp_item_flag)")
    direct_reimbursement: bool = Field(default=False, description="直报 (drt_reim_flag)")
    trace_required: bool = Field(
        default=False, description="须采集药品追溯码: each package dispensed names its drug_trac_codg"
    )
    list_kind: ListKind | None = Field(
        default=None,
        description="prep 医疗机构制剂, ethnic 民族药, granule 中药配方颗粒, service2 医疗服务项目（新）",
    )
    effective_from: date = date(2000, 1, 1)

    @model_validator(mode="after")
    def _class_rules(self) -> CatalogueItemCreate:
        if self.chrgitm_lv != "2" and self.selfpay_prop != 0:
            raise ValueError("只有乙类项目有先行自付比例")
        if self.list_kind is not None and self.med_chrgitm_type not in LIST_KINDS[self.list_kind][1]:
            label, types = LIST_KINDS[self.list_kind]
            raise ValueError(
                f"{label}目录的医疗收费项目类别须为 {'/'.join(types)}，不能为 {self.med_chrgitm_type}"
            )
        for level, cap in self.pric_uplmt_by_level.items():
            if level not in ("1", "2", "3") or cap <= 0:
                raise ValueError(f"分级限价的医院等级须为 1/2/3 且限价为正数: {level}={cap}")
        for admdvs, cap in self.pric_uplmt_by_admdvs.items():
            if not re.fullmatch(r"\d{6}", admdvs) or cap <= 0:
                raise ValueError(f"就医地限价的区划须为6位数字且限价为正数: {admdvs}={cap}")
        return self


class CatalogueItemOut(CatalogueItemCreate):
    model_config = ConfigDict(from_attributes=True)

    effective_to: date | None = None


class ImportError_(BaseModel):
    line: int
    med_list_codg: str
    message: str


class ImportResult(BaseModel):
    """All or nothing: when ``errors`` is not empty, nothing was imported."""

    imported: int
    unchanged: int
    errors: list[ImportError_]

"""The code tables the gateway reads the wire with (docs/interface.md, "Code tables used"): each field the
gateway checks against a table is checked by that table's ``check`` (``coded``), and 1901 字典表查询
answers the same tables (``gateway.nhsa.dictionary``), so what a HIS downloads is exactly what the gateway
accepts. A code is added here, once, for both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from gateway.protocol.funds import FUND_NAMES


@dataclass(frozen=True)
class CodeTable:
    #: The field (1901's ``type``), e.g. ``med_type``.
    type: str
    name: str
    #: code -> 名称, in the order 1901 lists them.
    values: dict[str, str]
    #: False: a table the gateway names its answers with, not one it checks input against.
    checked: bool = True
    #: What a code outside the table is told, if not the general text.
    refusal: str | None = None

    def check(self, value: str) -> str:
        if value not in self.values:
            raise ValueError(
                self.refusal or f"{self.name}代码 {value[:10]} 不在本平台字典中（见【1901】{self.type}）"
            )
        return value


def coded(table: CodeTable) -> Callable[[str], str]:
    return table.check


INSUTYPE = CodeTable(
    "insutype",
    "险种类型",
    {"390": "城乡居民基本医疗保险", "391": "城镇居民基本医疗保险", "380": "新型农村合作医疗"},
    refusal="本平台只办理城乡居民医保 (390/391/380)",
)
MDTRT_CERT_TYPE = CodeTable(
    "mdtrt_cert_type",
    "就诊凭证类型",
    {"01": "医保电子凭证", "02": "居民身份证", "03": "社会保障卡"},
    refusal="格式不正确（01 医保电子凭证 / 02 居民身份证 / 03 社会保障卡）",
)
#: The national base codes and the demo region's 门诊慢特病 sub-codes.
MED_TYPE = CodeTable(
    "med_type",
    "医疗类别",
    {
        "11": "普通门诊",
        "12": "门诊挂号",
        "13": "急诊",
        "14": "门诊慢特病",
        "140104": "门诊慢病",
        "140201": "门诊特病",
        "15": "特药",
        "16": "中医特色门诊",
        "19": "意外伤害门诊",
        "21": "普通住院",
        "22": "外伤住院",
        "23": "转外诊治住院",
        "24": "急诊转住院",
        "25": "异地住院",
        "26": "单病种住院",
        "27": "自主就医",
        "28": "日间手术",
        "29": "起付线治疗",
        "41": "定点药店购药",
        "51": "生育门诊",
        "52": "生育住院",
        "53": "计划生育手术费",
    },
)
MATN_TYPE = CodeTable(
    "matn_type", "生育类别", {"1": "顺产", "2": "剖宫产"}, refusal="生育类别只支持 1 顺产 / 2 剖宫产"
)
OPTER_TYPE = CodeTable(
    "opter_type",
    "经办人类别",
    {"1": "经办人", "2": "自助终端", "3": "移动终端"},
    refusal="格式不正确（1 经办人 / 2 自助终端 / 3 移动终端）",
)
HOSP_APPR_FLAG = CodeTable(
    "hosp_appr_flag", "医院审批标志", {"0": "无须审批", "1": "审批通过", "2": "审批不通过"}
)
PSN_SETLWAY = CodeTable("psn_setlway", "个人结算方式", {"01": "按项目结算", "02": "按定额结算"})
CLR_TYPE = CodeTable("clr_type", "清算类别", {"11": "门诊", "21": "住院", "41": "药店购药"})
#: What the gateway answers with (1101, settlements), not read from a HIS.
PSN_TYPE = CodeTable(
    "psn_type",
    "人员类别",
    {
        "1401": "新生儿",
        "1402": "学龄前儿童",
        "1403": "中小学生",
        "1404": "大学生",
        "1501": "普通居民（成年）",
        "1601": "老年居民",
    },
    checked=False,
)
FUND_PAY_TYPE = CodeTable("fund_pay_type", "基金支付类型", FUND_NAMES, checked=False)
CHRGITM_LV = CodeTable("chrgitm_lv", "收费项目等级", {"1": "甲类", "2": "乙类", "3": "丙类"}, checked=False)

TABLES: dict[str, CodeTable] = {
    t.type: t
    for t in (
        INSUTYPE,
        MDTRT_CERT_TYPE,
        MED_TYPE,
        MATN_TYPE,
        OPTER_TYPE,
        HOSP_APPR_FLAG,
        PSN_SETLWAY,
        CLR_TYPE,
        PSN_TYPE,
        FUND_PAY_TYPE,
        CHRGITM_LV,
    )
}

Insutype = Annotated[str, AfterValidator(INSUTYPE.check)]
MdtrtCertType = Annotated[str, AfterValidator(MDTRT_CERT_TYPE.check)]
MedType = Annotated[str, AfterValidator(MED_TYPE.check)]
MatnType = Annotated[str, AfterValidator(MATN_TYPE.check)]
OpterType = Annotated[str, AfterValidator(OPTER_TYPE.check)]
HospApprFlag = Annotated[str, AfterValidator(HOSP_APPR_FLAG.check)]
PsnSetlway = Annotated[str, AfterValidator(PSN_SETLWAY.check)]
ClrType = Annotated[str, AfterValidator(CLR_TYPE.check)]

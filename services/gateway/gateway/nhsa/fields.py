"""The output fields the interface defines, per transaction code and node, with their types
(docs/interface.md, "Output fields"). Written from the interface as public HIS models declare it (C# and
Java models of 1101, 2102, 2204, 2207, 2304 with their 字段/类型/长度 comments), not from what the
handlers happen to build: ``missing_or_mistyped`` compares an answer against it, so a field a typed client
expects and the gateway does not give, or gives with another type, is a failing test rather than a HIS
that breaks at go-live.

Kinds: ``text`` (a string, "" when empty), ``date`` (``yyyy-MM-dd``), ``time`` (``yyyy-MM-dd HH:mm:ss``),
``amount`` (yuan, at most two decimals), ``ratio`` (at most four decimals), ``number`` (any other number:
``age``, ``cnt``, ``pric``), ``flag`` (true or false: ``firstPage``), ``filed`` (any value, echoed as the HIS
filed it). A node with a ``"*"`` key takes other keys as well (a record echoed as filed); an output given
in one of several forms (a catalogue download's page or file) is ``Either`` of them. A kind ending
in ``?`` is a date, time or number that is left out when it has no value (never sent as null: a C#
``DateTime`` or ``decimal`` cannot read null); a text with no value is ``""`` (``typed`` makes it so)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

#: A field: its kind (``"text"``, ``"date?"``...), an object of fields (a ``Node``), or a list of rows
#: or values, written as a one-element tuple of what each element is.
Field = Any
Node = dict[str, Field]


@dataclass(frozen=True)
class Maybe:
    """A node the answer has only in some cases (2601's ``setlinfo``: only when it voided a settlement)."""

    field: Field


@dataclass(frozen=True)
class Either:
    """An output given in one of several forms, each a whole ``Node`` (a catalogue download: one page
    inline, or every row in a file); an answer agrees when it agrees with one of them."""

    forms: tuple[Node, ...]


BASEINFO: Node = {
    "psn_no": "text",
    "psn_cert_type": "text",
    "certno": "text",
    "psn_name": "text",
    "gend": "text",
    "naty": "text",
    "brdy": "date",
    "age": "number",
    "exp_content": "text",
}
INSUINFO: Node = {
    "balc": "amount",
    "insutype": "text",
    "psn_type": "text",
    "psn_insu_stas": "text",
    "psn_insu_date": "date",
    "paus_insu_date": "date?",
    "cvlserv_flag": "text",
    "insuplc_admdvs": "text",
    "emp_name": "text",
}
IDETINFO: Node = {
    "psn_idet_type": "text",
    "psn_type_lv": "text",
    "memo": "text",
    "begntime": "time",
    "endtime": "time?",
}

SETLINFO: Node = {
    "mdtrt_id": "text",
    "setl_id": "text",
    "psn_no": "text",
    "psn_name": "text",
    "psn_cert_type": "text",
    "certno": "text",
    "gend": "text",
    "naty": "text",
    "brdy": "date",
    "age": "number",
    "insutype": "text",
    "psn_type": "text",
    "cvlserv_flag": "text",
    "setl_time": "time",
    "mdtrt_cert_type": "text",
    "med_type": "text",
    "medfee_sumamt": "amount",
    "fulamt_ownpay_amt": "amount",
    "overlmt_selfpay": "amount",
    "preselfpay_amt": "amount",
    "inscp_scp_amt": "amount",
    "act_pay_dedc": "amount",
    "hifp_pay": "amount",
    "pool_prop_selfpay": "ratio",
    "cvlserv_pay": "amount",
    "hifes_pay": "amount",
    "hifmi_pay": "amount",
    "hifob_pay": "amount",
    "maf_pay": "amount",
    "oth_pay": "amount",
    "fund_pay_sumamt": "amount",
    "psn_part_amt": "amount",
    "acct_pay": "amount",
    "psn_cash_pay": "amount",
    "hosp_part_amt": "amount",
    "balc": "amount",
    "acct_mulaid_pay": "amount",
    "medins_setl_id": "text",
    # Named by the national dictionary (参保地 / 就医地医保区划, 支付地点类别 pay_loc): the platform's
    # out-of-area answer (docs/interface.md, "Out-of-area care").
    "insuplc_admdvs": "text",
    "mdtrtarea_admvs": "text",
    "pay_loc": "text",
    "clr_optins": "text",
    "clr_way": "text",
    "clr_type": "text",
}
#: 2303-2305 add 伤残人员医疗保障基金支出.
INPATIENT_SETLINFO: Node = {**SETLINFO, "hifdm_pay": "amount"}
#: The pharmacy reversal (2103) and 5203 models name the personal share and the cash differently.
REVERSAL_SETLINFO: Node = {**SETLINFO, "psn_pay": "amount", "cash_payamt": "amount"}
#: 5203 also names the institution and whether the record is a refund (reversal) record.
QUERY_SETLINFO: Node = {**REVERSAL_SETLINFO, "fixmedins_code": "text", "refd_setl_flag": "text"}
SETLDETAIL: Node = {
    "fund_pay_type": "text",
    "inscp_scp_amt": "amount",
    "crt_payb_lmt_amt": "amount",
    "fund_payamt": "amount",
    "fund_pay_type_name": "text",
    "setl_proc_info": "text",
}
#: 2204/2301 ``result`` and 2101/2102 ``detlcutinfo``: one row per fee line.
LINE_RESULT: Node = {
    "feedetl_sn": "text",
    "det_item_fee_sumamt": "amount",
    "cnt": "number",
    "pric": "number",
    "pric_uplmt_amt": "number?",
    "selfpay_prop": "ratio",
    "fulamt_ownpay_amt": "amount",
    "overlmt_amt": "amount",
    "preselfpay_amt": "amount",
    "inscp_scp_amt": "amount",
    "chrgitm_lv": "text",
    "med_chrgitm_type": "text",
    "bas_medn_flag": "text",
    "hi_nego_drug_flag": "text",
    "chld_medc_flag": "text",
    "list_sp_item_flag": "text",
    "lmt_used_flag": "text",
    "drt_reim_flag": "text",
    "memo": "text",
}

CATALOGUE_PAGE: Node = {
    "ver": "text",
    "recordCounts": "number",
    "pages": "number",
    "pageNum": "number",
    "pageSize": "number",
    "firstPage": "flag",
    "lastPage": "flag",
}
#: The validity and version every catalogue row carries (1301-1319).
CATALOGUE_ROW: Node = {
    "begndate": "date",
    "enddate": "date?",
    "vali_flag": "text",
    "rid": "text",
    "updt_time": "time",
    "ver": "text",
}
#: An answer that is a file to download (9101/9102, a catalogue download's file form; docs/interface.md,
#: "Files").
FILE: Node = {
    "file_qury_no": "text",
    "filename": "text",
    "fixmedins_code": "text",
    "dld_endtime": "time",
    "file_size": "number",
    "file_sha256": "text",
}
#: The registration as the platform keeps it, answered by 2202, 2203 and 2402-2405 (the interface
#: defines no output for them; the platform's echo).
ENCOUNTER: Node = {"data": {"mdtrt_id": "text", "psn_no": "text", "ipt_otp_no": "text", "med_type": "text"}}
#: 2501-2507 待遇申报: the record's number; a revocation also its day.
FILED: Node = {"result": {"trt_dcla_detl_sn": "text"}}
REVOKED: Node = {"result": {"trt_dcla_detl_sn": "text", "revoked_on": "date"}}
#: 3101/3102 事前/事中分析: one row per rule violated, with its details.
JUDGEMENT: Node = {
    "jr_id": "text",
    "rule_id": "text",
    "rule_name": "text",
    "vola_cont": "text",
    "patn_id": "text",
    "mdtrt_id": "text",
    "vola_amt": "amount",
    "sev_deg": "text",
    "vola_evid": "text",
    "judge_result_detail_dtos": (
        {
            "jrd_id": "text",
            "patn_id": "text",
            "mdtrt_id": "text",
            "rx_id": "text",
            "vola_item_type": "text",
            "vola_amt": "amount",
        },
    ),
}
#: 3301/3302 目录对照: the mapping, and the day it was revoked (left out while it holds).
MAPPING: Node = {
    "data": {
        "fixmedins_code": "text",
        "fixmedins_hilist_id": "text",
        "fixmedins_hilist_name": "text",
        "list_type": "text",
        "med_list_codg": "text",
        "begndate": "date",
        "enddate": "date?",
        "revoked_on": "date?",
    }
}
#: 3501-3506 进销存: the batch's stock after the change, and the change.
STOCK: Node = {
    "result": {"fixmedins_bchno": "text", "med_list_codg": "text", "inv_cnt": "number", "chg_cnt": "number"}
}
#: Who recorded a row and when (经办人ID / 姓名 / 经办时间): 5201-5204's rows end with them.
RECORDED: Node = {"opter_id": "text", "opter_name": "text", "opt_time": "time"}
#: 5204/5205 费用明细查询: one row per fee line as settled (the 5204 model of the public HIS code, with the
#: person and institution the platform adds: ``psn_no``, ``fixmedins_code``, ``fixmedins_name``).
FEE_ROW: Node = {
    "feedetl_sn": "text",
    "mdtrt_id": "text",
    "setl_id": "text",
    "psn_no": "text",
    "med_type": "text",
    "fixmedins_code": "text",
    "fixmedins_name": "text",
    "rx_drord_no": "text",
    "fee_ocur_time": "time",
    "med_list_codg": "text",
    "medins_list_codg": "text",
    "medins_list_name": "text",
    "hilist_code": "text",
    "hilist_name": "text",
    "list_type": "text",
    "cnt": "number",
    "pric": "number",
    "sin_dos_dscr": "text",
    "used_frqu_dscr": "text",
    "prd_days": "number?",
    "medc_way_dscr": "text",
    "det_item_fee_sumamt": "amount",
    "pric_uplmt_amt": "number?",
    "selfpay_prop": "ratio",
    "fulamt_ownpay_amt": "amount",
    "overlmt_amt": "amount",
    "preselfpay_amt": "amount",
    "inscp_scp_amt": "amount",
    "chrgitm_lv": "text",
    "med_chrgitm_type": "text",
    "prodname": "text",
    "spec": "text",
    "dosform_name": "text",
    "bilg_dept_codg": "text",
    "bilg_dept_name": "text",
    "bilg_dr_codg": "text",
    "bilg_dr_name": "text",
    "acord_dept_codg": "text",
    "acord_dept_name": "text",
    "orders_dr_code": "text",
    "orders_dr_name": "text",
    "lmt_used_flag": "text",
    "hosp_prep_flag": "text",
    "hosp_appr_flag": "text",
    "tcmdrug_used_way": "text",
    "prodplac_type": "text",
    "bas_medn_flag": "text",
    "hi_nego_drug_flag": "text",
    "chld_medc_flag": "text",
    "etip_flag": "text",
    "etip_hosp_code": "text",
    "dscg_tkdrug_flag": "text",
    "list_sp_item_flag": "text",
    "matn_fee_flag": "text",
    "drt_reim_flag": "text",
    "memo": "text",
    **RECORDED,
}
#: 5201 就诊信息查询: one row per visit (the 5201 model of the public HIS code, with the institution the
#: platform adds: ``fixmedins_code``).
MDTRTINFO: Node = {
    "mdtrt_id": "text",
    "psn_no": "text",
    "psn_cert_type": "text",
    "certno": "text",
    "psn_name": "text",
    "gend": "text",
    "naty": "text",
    "brdy": "date?",
    "age": "number?",
    "coner_name": "text",
    "tel": "text",
    "insutype": "text",
    "psn_type": "text",
    "maf_psn_flag": "text",
    "cvlserv_flag": "text",
    "flxempe_flag": "text",
    "nwb_flag": "text",
    "insu_optins": "text",
    "emp_name": "text",
    "fixmedins_code": "text",
    "begntime": "time",
    "endtime": "time?",
    "mdtrt_cert_type": "text",
    "med_type": "text",
    "ars_year_ipt_flag": "text",
    "pre_pay_flag": "text",
    "ipt_otp_no": "text",
    "medrcdno": "text",
    "atddr_no": "text",
    "chfpdr_name": "text",
    "adm_dept_codg": "text",
    "adm_dept_name": "text",
    "adm_bed": "text",
    "dscg_maindiag_code": "text",
    "dscg_maindiag_name": "text",
    "dscg_dept_codg": "text",
    "dscg_dept_name": "text",
    "dscg_bed": "text",
    "dscg_way": "text",
    "main_cond_dscr": "text",
    "dise_codg": "text",
    "dise_name": "text",
    "oprn_oprt_code": "text",
    "oprn_oprt_name": "text",
    "otp_diag_info": "text",
    "inhosp_stas": "text",
    "die_date": "date?",
    "ipt_days": "number?",
    "fpsc_no": "text",
    "matn_type": "text",
    "birctrl_type": "text",
    "latechb_flag": "text",
    "geso_val": "number?",
    "fetts": "number?",
    "fetus_cnt": "number?",
    "pret_flag": "text",
    "birctrl_matn_date": "date?",
    "cop_flag": "text",
    **RECORDED,
    "memo": "text",
}
LIST_IDS: Node = {"setl_id": "text", "mdtrt_id": "text", "psn_no": "text"}


def catalogue(row: Node) -> Either:
    """A catalogue download (1301-1321): with ``page_num`` the page's rows and the paging, without it
    the file of every changed row (9102 fetches it), with the newest version and the count of rows."""
    page = {"data": ({**row, **CATALOGUE_ROW},), **CATALOGUE_PAGE}
    return Either((page, {**FILE, "ver": "text", "recordCounts": "number"}))


#: infno -> the output's fields (a ``Node``; a node named in a tuple is a list of rows of those fields),
#: or its forms (``Either``).
OUTPUT: dict[str, Node | Either] = {
    "1101": {"baseinfo": BASEINFO, "insuinfo": (INSUINFO,), "idetinfo": (IDETINFO,)},
    "2101": {"setlinfo": SETLINFO, "setldetail": (SETLDETAIL,), "detlcutinfo": (LINE_RESULT,)},
    "2102": {"setlinfo": SETLINFO, "setldetail": (SETLDETAIL,), "detlcutinfo": (LINE_RESULT,)},
    "2103": {"setlinfo": REVERSAL_SETLINFO, "setldetail": (SETLDETAIL,)},
    "2201": {"data": {"mdtrt_id": "text", "psn_no": "text", "ipt_otp_no": "text"}},
    "2204": {"result": (LINE_RESULT,)},
    "2206": {"setlinfo": SETLINFO, "setldetail": (SETLDETAIL,)},
    "2207": {"setlinfo": SETLINFO, "setldetail": (SETLDETAIL,)},
    "2208": {"setlinfo": SETLINFO, "setldetail": (SETLDETAIL,)},
    "2301": {"result": (LINE_RESULT,)},
    "2303": {"setlinfo": INPATIENT_SETLINFO, "setldetail": (SETLDETAIL,)},
    "2304": {"setlinfo": INPATIENT_SETLINFO, "setldetail": (SETLDETAIL,)},
    "2305": {"setlinfo": INPATIENT_SETLINFO, "setldetail": (SETLDETAIL,)},
    "2401": {"result": {"mdtrt_id": "text"}},
    "3201": {"stmtinfo": {"setl_optins": "text", "stmt_rslt": "text", "stmt_rslt_dscr": "text"}},
    "5203": {"setlinfo": QUERY_SETLINFO, "setldetail": (SETLDETAIL,)},
    "9001": {"signinoutb": {"sign_time": "time", "sign_no": "text"}},
    "9002": {"signoutoutb": {"sign_time": "time"}},
    "1201": {
        "medinsinfo": (
            {
                "fixmedins_code": "text",
                "fixmedins_name": "text",
                "uscc": "text",
                "fixmedins_type": "text",
                "hosp_lv": "text",
                "admdvs": "text",
                "vali_flag": "text",
                "begndate": "date",
                "enddate": "date?",
            },
        )
    },
    "1301": catalogue(
        {
            "med_list_codg": "text",
            "drug_genname": "text",
            "med_chrgitm_type": "text",
            "chrgitm_lv": "text",
            "lmt_used_flag": "text",
        }
    ),
    "1302": catalogue(
        {
            "med_list_codg": "text",
            "tcmherb_name": "text",
            "med_chrgitm_type": "text",
            "chrgitm_lv": "text",
            "lmt_used_flag": "text",
        }
    ),
    "1305": catalogue(
        {
            "med_list_codg": "text",
            "servitem_name": "text",
            "med_chrgitm_type": "text",
            "chrgitm_lv": "text",
            "lmt_used_flag": "text",
        }
    ),
    "1306": catalogue(
        {
            "med_list_codg": "text",
            "mcs_name": "text",
            "med_chrgitm_type": "text",
            "chrgitm_lv": "text",
            "lmt_used_flag": "text",
        }
    ),
    "1303": catalogue(
        {
            "med_list_codg": "text",
            "drug_prodname": "text",
            "med_chrgitm_type": "text",
            "chrgitm_lv": "text",
            "lmt_used_flag": "text",
        }
    ),
    "1304": catalogue(
        {
            "med_list_codg": "text",
            "drug_genname": "text",
            "med_chrgitm_type": "text",
            "chrgitm_lv": "text",
            "lmt_used_flag": "text",
        }
    ),
    "1320": catalogue(
        {
            "med_list_codg": "text",
            "drug_genname": "text",
            "med_chrgitm_type": "text",
            "chrgitm_lv": "text",
            "lmt_used_flag": "text",
        }
    ),
    "1321": catalogue(
        {
            "med_list_codg": "text",
            "servitem_name": "text",
            "med_chrgitm_type": "text",
            "chrgitm_lv": "text",
            "lmt_used_flag": "text",
        }
    ),
    "1316": catalogue(
        {
            "med_list_codg": "text",
            "hilist_code": "text",
            "list_type": "text",
            "insu_admdvs": "text",
            "memo": "text",
            "poolarea_no": "text",
            "crte_time": "time",
        }
    ),
    "1317": catalogue(
        {
            "fixmedins_code": "text",
            "medins_list_codg": "text",
            "medins_list_name": "text",
            "insu_admdvs": "text",
            "list_type": "text",
            "med_list_codg": "text",
            "crte_time": "time",
            "poolarea_no": "text",
        }
    ),
    "1307": catalogue({"dise_codg": "text", "dise_name": "text"}),
    "1308": catalogue({"oprn_oprt_code": "text", "oprn_oprt_name": "text"}),
    "1309": catalogue(
        {"opsp_dise_code": "text", "opsp_dise_name": "text", "admdvs": "text", "insutype": "text"}
    ),
    "1310": catalogue(
        {
            "bydise_setl_list_code": "text",
            "bydise_setl_dise_name": "text",
            "qua_oprn_oprt_code": "text",
            "qua_oprn_oprt_name": "text",
        }
    ),
    "1311": catalogue(
        {
            "daysrg_dise_list_code": "text",
            "daysrg_dise_name": "text",
            "qua_oprn_oprt_code": "text",
            "qua_oprn_oprt_name": "text",
        }
    ),
    "1313": catalogue({"tumr_morp_code": "text", "tumr_morp_name": "text"}),
    "1314": catalogue({"tcm_dise_code": "text", "tcm_dise_name": "text"}),
    "1315": catalogue({"tcmsymp_code": "text", "tcmsymp": "text"}),
    "1312": catalogue(
        {
            "hilist_code": "text",
            "hilist_name": "text",
            "insu_admdvs": "text",
            "med_chrgitm_type": "text",
            "chrgitm_lv": "text",
            "lmt_used_flag": "text",
            "poolarea_no": "text",
        }
    ),
    "1318": catalogue(
        {
            "hilist_code": "text",
            "hilist_lmtpric_type": "text",
            "overlmt_dspo_way": "text",
            "insu_admdvs": "text",
            "hilist_pric_uplmt_amt": "number?",
            "pric_uplmt_lv1": "number?",
            "pric_uplmt_lv2": "number?",
            "pric_uplmt_lv3": "number?",
            "poolarea_no": "text",
        }
    ),
    "1319": catalogue(
        {
            "hilist_code": "text",
            "selfpay_prop_psn_type": "text",
            "selfpay_prop_type": "text",
            "insu_admdvs": "text",
            "selfpay_prop": "ratio",
            "poolarea_no": "text",
        }
    ),
    "1901": {
        "list": (
            {
                "type": "text",
                "label": "text",
                "value": "text",
                "parent_value": "text",
                "sort": "number",
                "vali_flag": "text",
            },
        )
    },
    "2001": {
        "trtinfo": (
            {
                "psn_no": "text",
                "trt_chk_type": "text",
                "fund_pay_type": "text",
                "trt_enjymnt_flag": "text",
                # The cover's days: both left out when the person has no cover on the day asked.
                "begndate": "date?",
                "enddate": "date?",
                "trt_chk_rslt": "text",
                # The 异地就医备案类别 of the referral / out-of-area filing covering the care ("" when none).
                "dcla_type": "text",
            },
        )
    },
    "2202": ENCOUNTER,
    "2203": ENCOUNTER,
    "2203A": ENCOUNTER,
    "2205": {"data": {"mdtrt_id": "text", "chrg_bchno": "text", "cancelled": "number"}},
    "2302": {"data": {"mdtrt_id": "text", "feedetl_sn": "text", "cancelled": "number"}},
    "2402": ENCOUNTER,
    "2403": ENCOUNTER,
    "2404": ENCOUNTER,
    "2405": ENCOUNTER,
    # An out-of-area filing answers the kind it was filed as (异地就医备案类别, dcla_type 01-06).
    "2501": {"result": {"trt_dcla_detl_sn": "text", "dcla_type": "text"}},
    "2501A": {"result": {"trt_dcla_detl_sn": "text", "dcla_type": "text"}},
    "2502": REVOKED,
    "2503": FILED,
    "2504": REVOKED,
    "2505": FILED,
    "2506": REVOKED,
    "2507": {"result": {"trt_dcla_detl_sn": "text", "chk_pay_flag": "text"}},
    "2601": {
        "data": {"omsgid": "text", "oinfno": "text", "outcome": "text", "setl_id": "text"},
        # Only when the voided transaction was a settlement (the reversal's figures).
        "setlinfo": Maybe(REVERSAL_SETLINFO),
    },
    "3101": {"result": (JUDGEMENT,)},
    "3102": {"result": (JUDGEMENT,)},
    "3103": {"result": {"warn_type": "text", "warn_rslt_id": ("text",)}},
    "3202": {
        "fileinfo": {"file_qury_no": "text", "filename": "text", "dld_endtime": "time"},
        "stmtinfo": {"setl_optins": "text", "stmt_rslt": "text", "stmt_rslt_dscr": "text"},
        "result": (
            {
                "setl_id": "text",
                "mdtrt_id": "text",
                "psn_no": "text",
                "refd_setl_flag": "text",
                "medfee_sumamt": "amount",
                "fund_pay_sumamt": "amount",
                "acct_pay": "amount",
                "stmt_rslt": "text",
                "memo": "text",
            },
        ),
    },
    "3203": {"result": {"clr_appy_evt_id": "text"}},
    "3204": {"result": {"clr_appy_evt_id": "text", "status": "text"}},
    "3301": MAPPING,
    "3302": MAPPING,
    "3501": STOCK,
    "3502": STOCK,
    "3503": STOCK,
    "3504": STOCK,
    "3505": STOCK,
    "3506": STOCK,
    "3507": {
        "result": {
            "fixmedins_bchno": "text",
            "med_list_codg": "text",
            "inv_cnt": "number",
            "deleted_cnt": "number",
        }
    },
    "4101": {"setl_list_id": "text", "data": {"setl_list_id": "text"}},
    "4101A": {"setl_list_id": "text", "data": {"setl_list_id": "text"}},
    "4102": {"result": ({"setl_id": "text", "setl_list_id": "text", "stas_type": "text"},)},
    "4103": {
        "setlinfo": {
            **LIST_IDS,
            "setl_list_sn": "text",
            "fixmedins_code": "text",
            "adm_time": "time",
            "dscg_time": "time",
            "dscg_way": "text",
            "medfee_sumamt": "amount",
            "diag_code_cnt": "number",
            "oprn_oprt_code_cnt": "number",
            "stas_type": "text",
            "upload_type": "text",
            # The rest of the list's setlinfo as the institution filed it (medcasno, hi_paymtd...).
            "*": "filed",
        },
        "payinfo": ({**LIST_IDS, "fund_pay_type": "text", "fund_payamt": "amount"},),
        "diseinfo": (
            {
                **LIST_IDS,
                "diag_type": "text",
                "diag_code": "text",
                "diag_name": "text",
                "maindiag_flag": "text",
                "adm_cond_type": "text",
            },
        ),
        "oprninfo": (
            {
                **LIST_IDS,
                "oprn_oprt_code": "text",
                "oprn_oprt_name": "text",
                "main_oprn_flag": "text",
                "oprn_oprt_date": "time?",
            },
        ),
        "iteminfo": ({**LIST_IDS, "med_chrgitm_type": "text", "item_sumamt": "amount"},),
        "opspdiseinfo": ("filed",),
        "icuinfo": ("filed",),
        "bldinfo": ("filed",),
    },
    "5201": {"mdtrtinfo": (MDTRTINFO,)},
    "5202": {
        "diseinfo": (
            {
                "diag_info_id": "text",
                "mdtrt_id": "text",
                "psn_no": "text",
                "inout_diag_type": "text",
                "diag_type": "text",
                "maindiag_flag": "text",
                "diag_srt_no": "number",
                "diag_code": "text",
                "diag_name": "text",
                "adm_cond": "text",
                "diag_dept": "text",
                "dise_dor_no": "text",
                "dise_dor_name": "text",
                "diag_time": "time?",
                "vali_flag": "text",
                **RECORDED,
            },
        )
    },
    "5204": {"feedetail": (FEE_ROW,)},
    "5205": {"feedetail": (FEE_ROW,)},
    "5206": {
        "cuminfo": (
            {"insutype": "text", "year": "text", "cum_ym": "text", "cum_type_code": "text", "cum": "amount"},
        )
    },
    "5301": {
        "feedetail": (
            {
                "trt_dcla_detl_sn": "text",
                "opsp_dise_code": "text",
                "opsp_dise_name": "text",
                "begndate": "date",
                "enddate": "date?",
                "vali_flag": "text",
            },
        )
    },
    "5304": {
        "refmedin": (
            {
                "trt_dcla_detl_sn": "text",
                "psn_no": "text",
                "insutype": "text",
                "dcla_type": "text",
                "mdtrtarea_admdvs": "text",
                "reflin_medins_no": "text",
                "reflin_medins_name": "text",
                "refl_date": "date?",
                "refl_rea": "text",
                "hosp_agre_refl_flag": "text",
                "diag_code": "text",
                "diag_name": "text",
                "begndate": "date",
                "enddate": "date?",
                "vali_flag": "text",
                "memo": "text",
            },
        )
    },
    "5302": {
        "psnfixmedin": (
            {
                "trt_dcla_detl_sn": "text",
                "psn_no": "text",
                "insutype": "text",
                "fix_srt_no": "text",
                "fixmedins_code": "text",
                "fixmedins_name": "text",
                "begndate": "date",
                "enddate": "date?",
                "memo": "text",
            },
        )
    },
    "9101": FILE,
    "9102": {**FILE, "file_sufx": "text", "file_byte": "text"},
}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_PLACES = {"amount": 2, "ratio": 4}


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    return Decimal(str(value))


def _mistyped(kind: str, value: Any) -> bool:
    if kind == "filed":
        return False
    if kind == "flag":
        return not isinstance(value, bool)
    if kind == "text":
        return not isinstance(value, str)
    if kind == "date":
        return not (isinstance(value, str) and _DATE.match(value))
    if kind == "time":
        return not (isinstance(value, str) and _TIME.match(value))
    number = _number(value)
    if number is None:
        return True
    places = _PLACES.get(kind)
    return places is not None and number != number.quantize(Decimal(1).scaleb(-places))


def _prefixed(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _field(where: str, field: Field, value: Any) -> list[str]:
    if isinstance(field, tuple):
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [p for i, element in enumerate(value) for p in _field(f"{where}[{i}]", field[0], element)]
    if isinstance(field, dict):
        return _node(where, field, value)
    if _mistyped(field.rstrip("?"), value):
        return [f"{where}: {value!r} is not {field.rstrip('?')}"]
    return []


def _node(where: str, node: Node, row: Any) -> list[str]:
    if not isinstance(row, dict):
        return [f"{where}: not an object"]
    open_ = "*" in node
    problems = [f"{_prefixed(where, name)}: not defined" for name in row if name not in node and not open_]
    for name, field in node.items():
        if name == "*":
            continue
        if name not in row:
            if not (isinstance(field, Maybe) or (isinstance(field, str) and field.endswith("?"))):
                problems.append(f"{_prefixed(where, name)}: missing")
        else:
            inner = field.field if isinstance(field, Maybe) else field
            problems += _field(_prefixed(where, name), inner, row[name])
    return problems


def _form(output: Node | Either, answer: dict[str, Any]) -> Node:
    """The form of ``output`` that ``answer`` is given in: the one whose top-level keys it shares most
    (by keys, not by every problem: a long page of rows with one mistyped field each is still a page)."""
    if isinstance(output, dict):
        return output
    return min(output.forms, key=lambda form: len(set(form) ^ set(answer)))


def missing_or_mistyped(infno: str, output: dict[str, Any]) -> list[str]:
    """What in ``output`` differs from the fields defined for ``infno`` (empty when it agrees; for a code
    answered in several forms, what differs from the nearest)."""
    return _node("", _form(OUTPUT[infno], output), output)


def _typed(field: Field, value: Any) -> Any:
    if isinstance(field, Maybe):
        return _typed(field.field, value)
    if isinstance(field, tuple) and isinstance(value, list):
        return [_typed(field[0], element) for element in value]
    if isinstance(field, dict) and isinstance(value, dict):
        return typed_node(field, value)
    return value


def typed_node(node: Node, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` as the interface types it: a text field with no value (``None``) is ``""``, and a date,
    time or number that may be left out is left out rather than sent as ``null``; everything else as
    given (a required date or amount that is null stays null, for the field check to find)."""
    typed: dict[str, Any] = {}
    for name, value in row.items():
        field = node.get(name)
        if value is None and field == "text":
            typed[name] = ""
        elif value is None and isinstance(field, str) and field.endswith("?"):
            continue
        else:
            typed[name] = _typed(field, value)
    return typed


def typed(infno: str, output: dict[str, Any]) -> dict[str, Any]:
    """The answer of ``infno`` as it goes on the wire (``typed_node``); unchanged for a code with no
    field list."""
    node = OUTPUT.get(infno)
    return output if node is None else typed_node(_form(node, output), output)

"""A settlement on the wire: the settlement service's answer (``SettlementOut``: domain names, integer fen) as
``setlinfo`` / ``setldetail`` / ``detlcutinfo`` (NHSA names, two-decimal yuan; docs/interface.md).
Every transaction that answers with a settlement (2101, 2102, 2103, 2601, 5203) maps it here, so that a
settlement, its reversal and a later query of either show the same fields for the same stored amounts."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from gateway.protocol.funds import FUND_NAMES, setlinfo_fund_columns, summary_disagreements
from shared.clock import format_wire_time
from shared.contracts.v1.settlement import FeesOut, SettlementOut
from shared.money import fen_to_yuan

log = logging.getLogger(__name__)

RATIO = Decimal("0.0001")


def yuan(fen: int) -> Decimal:
    """Fen to two-decimal yuan, negative for a reversal (``-3200`` -> ``Decimal('-32.00')``)."""
    return fen_to_yuan(int(fen))


def setlinfo(s: SettlementOut) -> dict[str, Any]:
    """The settlement header. Fund columns come from the fund rows through ``funds.py`` (390100 ->
    ``hifp_pay``, 390200 -> ``hifmi_pay``, 610100 -> ``maf_pay``, anything unknown -> ``oth_pay``)."""
    problems = summary_disagreements(s)
    if problems:
        log.warning("settlement %s: fund rows disagree with its totals: %s", s.setl_id, "; ".join(problems))
    person = s.person
    fund_columns = setlinfo_fund_columns(s.funds)
    return {
        "mdtrt_id": s.mdtrt_id,
        "setl_id": s.setl_id,
        "psn_no": person.psn_no,
        "psn_name": person.psn_name,
        "psn_cert_type": "01",
        "certno": person.certno,
        "gend": person.gend,
        "naty": person.naty,
        "brdy": person.brdy.isoformat(),
        "age": person.age,
        "insutype": s.insutype,
        "psn_type": person.psn_type,
        "cvlserv_flag": "0",
        "setl_time": format_wire_time(s.setl_time),
        "mdtrt_cert_type": s.mdtrt_cert_type,
        "med_type": s.med_type,
        "medfee_sumamt": yuan(s.medfee_sumamt_fen),
        "fulamt_ownpay_amt": yuan(s.fully_self_paid_fen),
        "overlmt_selfpay": yuan(s.over_price_cap_fen),
        "preselfpay_amt": yuan(s.self_pay_first_fen),
        "inscp_scp_amt": yuan(s.policy_range_fen),
        "act_pay_dedc": yuan(s.deductible_fen),
        **{column: yuan(fen) for column, fen in fund_columns.items()},
        "pool_prop_selfpay": s.pool_ratio.quantize(RATIO),
        "fund_pay_sumamt": yuan(s.fund_paid_total_fen),
        "psn_part_amt": yuan(s.personal_burden_fen),
        "acct_pay": yuan(s.account_paid_fen),
        "psn_cash_pay": yuan(s.cash_paid_fen),
        "hosp_part_amt": yuan(0),
        "balc": yuan(0),
        "acct_mulaid_pay": yuan(0),
        "medins_setl_id": s.msgid,
        # Out-of-area care (docs/interface.md, "Out-of-area care"): the insured region whose policy paid,
        # the treating region, and pay_loc 2 (own region) or 3 (省内异地). The treating region's agency
        # clears with its institution (就医地管理), so it is the clearing agency.
        "insuplc_admdvs": s.insuplc_admdvs,
        "mdtrtarea_admvs": s.mdtrtarea_admvs or s.insuplc_admdvs,
        "pay_loc": s.pay_loc,
        "clr_optins": s.mdtrtarea_admvs or s.insuplc_admdvs,
        "clr_way": "01",
        "clr_type": s.clr_type,
    }


def with_pharmacy_reversal_names(info: dict[str, Any]) -> dict[str, Any]:
    """2103 and 5203 models name the personal share ``psn_pay`` and the cash ``cash_payamt``
    (docs/interface.md, "Settlement output"); HIS software reads one or the other, so both are given."""
    return {**info, "psn_pay": info["psn_part_amt"], "cash_payamt": info["psn_cash_pay"]}


def setldetail(s: SettlementOut) -> list[dict[str, Any]]:
    return [
        {
            "fund_pay_type": f.fund_pay_type,
            "fund_pay_type_name": FUND_NAMES.get(f.fund_pay_type, ""),
            "inscp_scp_amt": yuan(f.policy_range_fen),
            "crt_payb_lmt_amt": yuan(f.payable_limit_fen),
            "fund_payamt": yuan(f.paid_fen),
            "setl_proc_info": f.calc_trace,
        }
        for f in s.funds
    ]


#: The catalogue marks of a line (settlement ``LineOut``) and the wire flag each one is shown as.
LINE_FLAGS = {
    "bas_medn_flag": "essential_drug",
    "hi_nego_drug_flag": "negotiated_drug",
    "chld_medc_flag": "child_medicine",
    "list_sp_item_flag": "special_item",
    "lmt_used_flag": "restricted",
    "drt_reim_flag": "direct_reimbursement",
}


def detlcutinfo(s: SettlementOut | FeesOut) -> list[dict[str, Any]]:
    """Per-line classification (甲/乙/丙, self-pay share, price cap, the catalogue's marks as "1"/"0"), as
    2204 ``result`` rows. ``pric_uplmt_amt`` is left out for an item without a price cap: a number field
    a typed client reads (a C# ``decimal``) must not be null, and 0 would read as a cap of nothing."""
    rows = []
    for line in s.lines:
        row: dict[str, Any] = {
            "feedetl_sn": line.feedetl_sn,
            "det_item_fee_sumamt": yuan(line.amount_fen),
            "cnt": line.cnt,
            "pric": line.pric,
        }
        if line.price_cap is not None:
            row["pric_uplmt_amt"] = line.price_cap
        row.update(
            {
                "selfpay_prop": line.selfpay_prop.quantize(RATIO),
                "fulamt_ownpay_amt": yuan(line.fully_self_paid_fen),
                "overlmt_amt": yuan(line.over_price_cap_fen),
                "preselfpay_amt": yuan(line.self_pay_first_fen),
                "inscp_scp_amt": yuan(line.policy_range_fen),
                "chrgitm_lv": line.chrgitm_lv,
                "med_chrgitm_type": line.med_chrgitm_type,
                **{flag: "1" if getattr(line, mark) else "0" for flag, mark in LINE_FLAGS.items()},
                "memo": line.memo,
            }
        )
        rows.append(row)
    return rows

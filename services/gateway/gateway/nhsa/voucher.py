"""E-vouchers (医保电子凭证, ``mdtrt_cert_type`` 01) on 1101 and every code that carries a credential
(docs/interface.md, "E-voucher"): the token is read (not one of ours or past its expiry: refused), its
issuer asked whether it was revoked, and the person it names becomes the envelope's: a ``psn_no`` or
``certno`` the caller sent must be the token's (else ``E_VOUCHER_PERSON``), and the token's ``psn_no`` is
what goes downstream. That a token settles once is the settlement service's record (``voucher_uses``)."""

from __future__ import annotations

from typing import Any

from gateway.declaration import Call
from gateway.protocol.errors import Refusal
from shared import voucher
from shared.db import utcnow

E_VOUCHER = "01"
#: The input nodes that carry a credential (1101/2201/2206/2207/2303/2304 ``data``, 2101/2102
#: ``druginfo``, 2401 ``mdtrtinfo``).
NODES = ("data", "druginfo", "mdtrtinfo")


def carries_voucher(value: Any) -> bool:
    return isinstance(value, dict) and any(
        isinstance(value.get(n), dict) and str(value[n].get("mdtrt_cert_type", "")).strip() == E_VOUCHER
        for n in NODES
    )


async def resolve(call: Call, value: dict[str, Any]) -> dict[str, Any]:
    """The envelope's input with each e-voucher resolved to its person (see the module)."""
    out = dict(value)
    for name in NODES:
        node = out.get(name)
        if not isinstance(node, dict) or str(node.get("mdtrt_cert_type", "")).strip() != E_VOUCHER:
            continue
        token = node.get("mdtrt_cert_no")
        if not isinstance(token, str) or not token.strip():
            continue  # refused by the input model, with the field named
        try:
            issued = voucher.decode(token, utcnow())
        except voucher.VoucherError as exc:
            if exc.code == "E_VOUCHER_EXPIRED":
                raise Refusal("E_VOUCHER_EXPIRED", exc.message) from exc
            raise Refusal("E_VOUCHER", exc.message) from exc
        try:
            known = await call.downstream.voucher(issued.token)
        except Refusal as refusal:
            if refusal.code == "VOUCHER_NOT_FOUND":
                raise Refusal("E_VOUCHER", "医保电子凭证无效：签发方无此凭证记录") from refusal
            raise
        if known.status == "revoked":
            raise Refusal("E_VOUCHER_REVOKED", "医保电子凭证已被撤销")
        if known.status != "valid" or known.psn_no != issued.psn_no:
            raise Refusal("E_VOUCHER_EXPIRED", "医保电子凭证已过期，请患者刷新电子凭证二维码后重新出示")
        sent_psn_no = str(node.get("psn_no") or "").strip()
        sent_certno = str(node.get("certno") or "").strip().upper()
        if (sent_psn_no and sent_psn_no != known.psn_no) or (sent_certno and sent_certno != known.certno):
            raise Refusal(
                "E_VOUCHER_PERSON", "医保电子凭证不属于报文中的人员（人员编号、证件号码以凭证为准）"
            )
        resolved = {**node, "mdtrt_cert_no": issued.token, "psn_no": known.psn_no}
        if call.envelope.infno == "1101":
            resolved.update(certno=known.certno, psn_cert_type="01")
        out[name] = resolved
    return out

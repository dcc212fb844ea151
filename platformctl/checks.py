"""Scheduled ledger checks: the fund ledger's integrity gauges (``ledger_imbalance_fen``,
``ledger_chain_ok``, ``ledger_fund_months_of_payment``) are set by the check endpoints, so something must
call them on a schedule for Prometheus to see current values and for the alerts to mean anything.

Run beside each ledger instance (a sidecar in Kubernetes, a small container in compose): it calls that
instance, so the gauges it sets are the ones that instance exports."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from shared.clock import now_china

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FundKey:
    admdvs: str
    insutype: str

    @classmethod
    def parse(cls, text: str) -> FundKey:
        """``341524:390`` (pooling region and scheme)."""
        admdvs, sep, insutype = text.strip().partition(":")
        if not (sep and len(admdvs) == 6 and admdvs.isdigit() and len(insutype) == 3 and insutype.isdigit()):
            raise ValueError(f"expected <admdvs>:<insutype> such as 341524:390, got {text!r}")
        return cls(admdvs, insutype)


def run_ledger_checks(client: httpx.Client, ledger_url: str, funds: Sequence[FundKey]) -> list[str]:
    """One round: trial balance, hash chain, fund risk per fund. Returns the problems found (empty when
    all is well); a check that cannot run is a problem too."""
    base = ledger_url.rstrip("/")
    problems: list[str] = []
    calls: list[tuple[str, dict[str, str]]] = [("/api/v1/trial-balance", {}), ("/api/v1/chain/verify", {})]
    today = now_china().date().isoformat()
    calls += [
        ("/api/v1/statements/fund-risk", {"admdvs": f.admdvs, "insutype": f.insutype, "as_of": today})
        for f in funds
    ]
    for path, params in calls:
        try:
            response = client.get(f"{base}{path}", params=params)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            problems.append(f"{path}: {type(exc).__name__}: {exc}")
            continue
        if path.endswith("trial-balance") and body.get("imbalance_fen") != 0:
            problems.append(f"ledger out of balance by {body.get('imbalance_fen')} fen")
        if path.endswith("chain/verify") and not body.get("ok"):
            bad = body.get("first_bad_entry_id")
            problems.append(f"hash chain broken at entry {bad}: {body.get('reason')}")
    return problems


def loop(ledger_url: str, funds: Sequence[FundKey], interval_s: float, token: str | None) -> None:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(timeout=max(10.0, interval_s), headers=headers) as client:
        while True:
            started = time.monotonic()
            for problem in run_ledger_checks(client, ledger_url, funds):
                log.error("ledger check: %s", problem)
            time.sleep(max(0.0, interval_s - (time.monotonic() - started)))

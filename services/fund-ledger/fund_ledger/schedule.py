"""What the ledger does by itself, on a timer, inside the service process (settings ``LEDGER_SCHEDULE_*``,
``LEDGER_SWEEP_*``, ``LEDGER_AUTO_CLEARING_DAY``, ``LEDGER_INTEGRITY_CHECK_INTERVAL_S``):

* daily sweep (归集): after ``sweep_after`` (Beijing time) each day, yesterday's income-account balance of
  every region and scheme moves to the fiscal special account (``run_sweep``; idempotent by sweep id, so
  several replicas or a restart never sweep twice);
* monthly clearing (清算), when ``auto_clearing_day`` is set: from that day of the month, a clearing batch for
  the previous month for every institution the funds owe (``run_clearing``; batch ids derived from the
  month and the payable account, so re-running changes nothing; a month an operator already cleared by hand
  is left alone);
* integrity and risk gauges: every tick the trial balance over the kept balances (``ledger_imbalance_fen``);
  every ``integrity_check_interval_s`` the full hash-chain walk (``ledger_chain_ok``), the kept balances
  against the postings (``ledger_balance_drift_accounts``) and months of payment of every region and scheme
  (``ledger_fund_months_of_payment``); the first tick runs at start; and at the next tick after any entry is
  posted, months of payment of the regions and schemes it touched (``fund_risk`` job), so a dashboard shows
  the figure within a tick of the first data (the demo, a migration), not an hour later.

A job that fails is logged and counted (``ledger_scheduled_runs_total{outcome="failed"}``) and tried again at
the next tick; it never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time as monotonic_time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from prometheus_client import Counter, Gauge
from sqlmodel import col, select

from fund_ledger.books.chain import verify_chain
from fund_ledger.books.chart import INCOME_ACCOUNT_DEPOSIT, PAYABLE
from fund_ledger.books.endpoints import LEDGER_CHAIN_OK, LEDGER_IMBALANCE
from fund_ledger.books.journal import take_changed_scopes
from fund_ledger.books.models import Account
from fund_ledger.books.service import balance_drift, bank_balances, inter_region_balances, kept_imbalance
from fund_ledger.clearing.service import (
    CLEARING_BATCHES,
    CLEARING_FEN,
    CLEARING_PARTS,
    ClearingRequest,
    run_clearing,
    run_sweep,
)
from fund_ledger.config import LedgerSettings
from fund_ledger.statements.service import fund_risk
from shared.clock import now_china
from shared.db import Database
from shared.errors import Conflict

log = logging.getLogger(__name__)

SCHEDULED_RUNS = Counter(
    "ledger_scheduled_runs_total", "Scheduled ledger tasks (sweep, clearing, integrity)", ["task", "outcome"]
)
SCHEDULED_LAST_SUCCESS = Gauge(
    "ledger_scheduled_last_success_timestamp_seconds", "Unix time of a task's last successful run", ["task"]
)
BANK_BALANCE = Gauge(
    "ledger_bank_balance_fen",
    "Balance of the fund's bank deposit accounts (1001 income, 1002 special, 1003 expenditure), all funds",
    ["admdvs", "insutype", "code"],
)
FUND_RISK_THRESHOLD = Gauge(
    "ledger_fund_risk_threshold_months",
    "Months-of-payment levels of the fund risk warning (settings)",
    ["level"],
)
CHAIN_LAST_VERIFIED = Gauge(
    "ledger_chain_last_verified_timestamp_seconds", "Unix time of the last full hash-chain walk that verified"
)
INTER_REGION_OPEN = Gauge(
    "ledger_inter_region_open_fen",
    "Out-of-area care an insured region still owes a treating region (2105, all funds; negative: owed back)",
    ["insured_admdvs", "treating_admdvs", "insutype"],
)
BALANCE_DRIFT = Gauge(
    "ledger_balance_drift_accounts", "Accounts whose kept balance differs from their postings (must be 0)"
)


@dataclass
class TickReport:
    """What one tick did (for logs and tests)."""

    swept: list[tuple[str, str, date, int]] = field(default_factory=list)
    cleared: list[tuple[str, str]] = field(default_factory=list)
    imbalance_fen: int | None = None
    chain_ok: bool | None = None
    drift_accounts: int | None = None
    #: (insured, treating, insutype) -> open inter-region balance (out-of-area care not cleared yet).
    inter_region_open: dict[tuple[str, str, str], int] = field(default_factory=dict)
    #: Regions and schemes whose months of payment were refreshed because their books changed.
    fund_risk_scopes: int = 0
    failures: list[str] = field(default_factory=list)


def previous_month(day: date) -> tuple[date, date]:
    last = day.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def auto_clearing_batch_id(period_from: date, account: Account) -> str:
    """``auto-YYYYMM-<20 hex>``: the same month and payable account always give the same id."""
    key = "|".join(
        [
            period_from.isoformat(),
            account.admdvs,
            account.insutype,
            account.fund_pay_type,
            account.counterparty,
        ]
    )
    return f"auto-{period_from:%Y%m}-{hashlib.sha256(key.encode()).hexdigest()[:20]}"


class LedgerScheduler:
    def __init__(
        self, db: Database, settings: LedgerSettings, clock: Callable[[], datetime] = now_china
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._last_integrity: float | None = None
        FUND_RISK_THRESHOLD.labels("warning").set(float(settings.fund_risk_warning_months))
        FUND_RISK_THRESHOLD.labels("danger").set(float(settings.fund_risk_danger_months))
        # Counters exported at 0 from the start: Prometheus's increase() cannot see the first increment of
        # a series that appears with it (a job's first failure, a region's first clearing batch).
        jobs = ["imbalance", "integrity", "fund_risk"]
        jobs += ["sweep"] if settings.sweep_daily else []
        jobs += ["clearing"] if settings.auto_clearing_day is not None else []
        for job in jobs:
            for outcome in ("ok", "failed"):
                SCHEDULED_RUNS.labels(job, outcome)

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.settings.schedule_interval_s
        if interval <= 0:
            return
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # a tick never kills the loop
                log.exception("ledger scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def tick(self, *, full_integrity: bool | None = None) -> TickReport:
        report = TickReport()
        now = self.clock()
        if self.settings.sweep_daily and now.time() >= self.settings.sweep_after:
            await self._job("sweep", report, self._sweeps(now.date(), report))
        if self.settings.auto_clearing_day is not None and now.day >= self.settings.auto_clearing_day:
            await self._job("clearing", report, self._clearings(now.date(), report))
        await self._job("imbalance", report, self._imbalance(report))
        due = self._last_integrity is None or (
            monotonic_time.monotonic() - self._last_integrity >= self.settings.integrity_check_interval_s
        )
        changed = take_changed_scopes()
        if full_integrity if full_integrity is not None else due:
            self._last_integrity = monotonic_time.monotonic()
            await self._job("integrity", report, self._integrity(now.date(), report))  # every scope
        elif changed:
            await self._job("fund_risk", report, self._fund_risk(now.date(), changed, report))
        return report

    async def _fund_risk(self, today: date, scopes: set[tuple[str, str]], report: TickReport) -> None:
        """Months of payment of the regions and schemes whose books changed since the last tick."""
        async with self.db.session() as session:
            for admdvs, insutype in sorted(scopes):
                await fund_risk(
                    session,
                    admdvs,
                    insutype,
                    today,
                    warning_months=self.settings.fund_risk_warning_months,
                    danger_months=self.settings.fund_risk_danger_months,
                )
        report.fund_risk_scopes = len(scopes)

    async def _job(self, job: str, report: TickReport, work: object) -> None:
        assert asyncio.iscoroutine(work)
        try:
            await work
        except Exception as exc:
            log.exception("scheduled ledger job %s failed", job)
            SCHEDULED_RUNS.labels(job, "failed").inc()
            report.failures.append(f"{job}: {type(exc).__name__}: {exc}")
            return
        SCHEDULED_RUNS.labels(job, "ok").inc()
        SCHEDULED_LAST_SUCCESS.labels(job).set(monotonic_time.time())

    async def _scopes(self, code: str) -> list[Account]:
        async with self.db.session() as session:
            return list(
                await session.scalars(
                    select(Account)
                    .where(Account.code == code)
                    .order_by(
                        col(Account.admdvs),
                        col(Account.insutype),
                        col(Account.fund_pay_type),
                        col(Account.counterparty),
                    )
                )
            )

    async def _sweeps(self, today: date, report: TickReport) -> None:
        as_of = today - timedelta(days=1)
        regions = sorted({(a.admdvs, a.insutype) for a in await self._scopes(INCOME_ACCOUNT_DEPOSIT.code)})
        for admdvs, insutype in regions:
            async with self.db.transaction() as session:
                result = await run_sweep(session, admdvs=admdvs, insutype=insutype, as_of=as_of, today=today)
            if not result.replayed and result.amount_fen > 0:
                log.info("swept %s fen of %s/%s as of %s", result.amount_fen, admdvs, insutype, as_of)
                report.swept.append((admdvs, insutype, as_of, result.amount_fen))

    async def _clearings(self, today: date, report: TickReport) -> None:
        period_from, period_to = previous_month(today)
        for account in await self._scopes(PAYABLE.code):
            request = ClearingRequest(
                batch_id=auto_clearing_batch_id(period_from, account),
                admdvs=account.admdvs,
                insutype=account.insutype,
                fund_pay_type=account.fund_pay_type,
                fixmedins_code=account.counterparty,
                period_from=period_from,
                period_to=period_to,
            )
            try:
                async with self.db.transaction() as session:
                    batch, created = await run_clearing(
                        session, request, deposit_ratio=self.settings.quality_deposit_ratio, only_if_owed=True
                    )
            except Conflict as exc:  # cleared by hand already: the operator's batch stands
                log.info("auto clearing %s skipped: %s", request.batch_id, exc)
                continue
            if batch is not None and created:
                report.cleared.append((batch.batch_id, account.counterparty))

    async def _imbalance(self, report: TickReport) -> None:
        """Cheap, every tick: the trial balance and the bank balances over the kept account balances."""
        async with self.db.session() as session:
            report.imbalance_fen = await kept_imbalance(session)
            banks = await bank_balances(session)
            open_between_regions = await inter_region_balances(session)
        LEDGER_IMBALANCE.set(report.imbalance_fen)
        for (admdvs, insutype, code), balance in banks.items():
            BANK_BALANCE.labels(admdvs, insutype, code).set(balance)
        for (insured, treating, insutype), balance in open_between_regions.items():
            INTER_REGION_OPEN.labels(insured, treating, insutype).set(balance)
        report.inter_region_open = open_between_regions

    async def _integrity(self, today: date, report: TickReport) -> None:
        async with self.db.session() as session:
            verification = await verify_chain(session)
            drift = await balance_drift(session)
            regions = sorted({(a.admdvs, a.insutype) for a in await session.scalars(select(Account))})
            for admdvs, insutype in regions:
                CLEARING_BATCHES.labels(admdvs, insutype)
                for part in CLEARING_PARTS:
                    CLEARING_FEN.labels(admdvs, insutype, part)
                await fund_risk(
                    session,
                    admdvs,
                    insutype,
                    today,
                    warning_months=self.settings.fund_risk_warning_months,
                    danger_months=self.settings.fund_risk_danger_months,
                )
        report.chain_ok = verification.ok
        report.drift_accounts = len(drift)
        LEDGER_CHAIN_OK.set(1 if verification.ok else 0)
        if verification.ok:
            CHAIN_LAST_VERIFIED.set(monotonic_time.time())
        BALANCE_DRIFT.set(len(drift))
        if not verification.ok:
            log.error(
                "ledger hash chain broken at entry %s: %s",
                verification.first_bad_entry_id,
                verification.reason,
            )
        if drift:
            log.error("kept balances differ from the postings on %d accounts: %s", len(drift), drift[:5])

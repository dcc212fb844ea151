"""The Grafana dashboards and Prometheus rules in ``deploy/`` against the code: every metric they name is
one the four services export (read from prometheus_client's registry after importing the services), the
dashboards are provisionable, the issue's alerts exist, and ``promtool`` accepts the rules and their unit
tests (``deploy/prometheus/tests``)."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from tests.support import prometheus as prometheus_support

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "deploy" / "grafana" / "dashboards"
DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.json"))
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests" / "platform_test.yml"
DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
SERVICE_APPS = ("gateway.main", "enrollment.main", "settlement.main", "fund_ledger.main")
#: Series Prometheus makes itself for every target.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

#: The alerts issue 7 asks for, by what they watch.
REQUIRED_ALERTS = {
    "settlement error ratio": "SettlementErrorRatioHigh",
    "p99 latency": "TransactionLatencyP99High",
    "outbox backlog age": "OutboxBacklogOld",
    "consumer lag": "ConsumerLagHigh",
    "dead letters": "DeadLetters",
    # Events the broker acknowledged and lost (shared/gapwatch.py): open gap, after it closed, check failing.
    "events the broker lost": "EventGapOpen",
    "events booked from the producer's outbox": "EventsLostByBroker",
    "gap check not running": "EventGapCheckStale",
    "imbalance not 0": "LedgerImbalance",
    "broken hash chain": "LedgerHashChainBroken",
    "months of payment below the warning level": "FundMonthsOfPaymentLow",
    # What the ledger's own scheduler (fund_ledger/schedule.py) makes observable.
    "chain not verified for too long": "LedgerChainVerificationStale",
    "kept balances drifting from the postings": "LedgerBalanceDrift",
    "scheduled ledger job failing": "LedgerScheduledJobFailed",
    # Out-of-area care (issue 26): the monthly inter-region clearing found the two regions' books apart.
    "inter-region books disagree": "InterRegionBooksDisagree",
}

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": ("",),
}
_PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}


@cache
def exported_series() -> frozenset[str]:
    """Every series name the services can export: metric families registered once their modules load."""
    for module in SERVICE_APPS:
        importlib.import_module(module)
    importlib.import_module("shared.observability")
    names: set[str] = set()
    for family in REGISTRY.collect():
        for suffix in _SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
        names.update(sample.name for sample in family.samples)
    return frozenset(names)


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords, label names
    (inside ``{}`` or ``by (...)``) or durations."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals (label values)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        after = text[match.end() :].lstrip()
        if after.startswith("(") or word.lower() in _PROMQL_WORDS:
            continue
        if match.start() > 0 and (text[match.start() - 1].isdigit() or text[match.start() - 1] == "."):
            continue  # 1e-9, 0.5m...
        names.add(word)
    return names


def dashboards() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, json.loads(path.read_text(encoding="utf-8"))) for path in DASHBOARDS]


def rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in sorted(RULES_DIR.glob("*.yml"))
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
    ]


def test_metric_name_parser() -> None:
    assert metric_names(
        "histogram_quantile(0.99, sum by (le, infno) "
        '(rate(gateway_transaction_duration_seconds_bucket{infno=~"2102"}[5m])))'
    ) == {"gateway_transaction_duration_seconds_bucket"}
    assert metric_names("sum(a_total) / clamp_min(sum(b_total), 1e-9) > 0.02 or on() vector(0)") == {
        "a_total",
        "b_total",
    }


def test_the_services_export_the_business_metrics_the_issue_lists() -> None:
    exported = exported_series()
    for name in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "gateway_transaction_duration_seconds_bucket",
        "settlement_settlements_total",
        "settlement_reversals_total",
        "settlement_fund_paid_fen_total",
        "settlement_patient_cash_fen_total",
        "settlement_refusals_total",
        "outbox_backlog",
        "outbox_oldest_age_seconds",
        "consumer_lag",
        "consumer_dead_letters",
        "ledger_journal_entries_total",
        "ledger_imbalance_fen",
        "ledger_chain_ok",
        "ledger_fund_months_of_payment",
        "enrollment_enrollments_total",
        "enrollment_payments_total",
        "enrollment_payments_fen_total",
        # Out-of-area care (issue 26).
        "settlement_out_of_area_total",
        "settlement_out_of_area_fund_fen_total",
        "ledger_inter_region_open_fen",
        "ledger_inter_region_clearings_total",
    ):
        assert name in exported, f"{name} is not exported by any service"


def test_no_metric_is_labelled_by_person_or_message() -> None:
    exported_series()  # the services' modules are loaded
    forbidden = {"psn_no", "certno", "msgid", "setl_id", "mdtrt_id", "psn_name", "request_id"}
    for family in REGISTRY.collect():
        collector = REGISTRY._names_to_collectors.get(family.name)
        labels = set(getattr(collector, "_labelnames", ()))
        assert not labels & forbidden, f"{family.name} is labelled by {labels & forbidden}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_dashboard_queries_use_only_exported_metrics(path: Path) -> None:
    exported = exported_series() | SYNTHETIC
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    for panel in dashboard["panels"]:
        assert panel.get("targets"), f"{path.name}: panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            unknown = metric_names(target["expr"]) - exported
            assert not unknown, f"{path.name} / {panel['title']}: unknown metrics {sorted(unknown)}"


def test_rules_use_only_exported_metrics() -> None:
    exported = exported_series() | SYNTHETIC
    for rule in rules():
        unknown = metric_names(rule["expr"]) - exported
        assert not unknown, f"{rule.get('alert')}: unknown metrics {sorted(unknown)}"


def test_three_dashboards_provisionable_against_the_datasource() -> None:
    datasource_uid = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"][0]["uid"]
    found = dashboards()
    assert {path.stem for path, _ in found} == {"counter-operations", "fund", "pipeline"}
    assert len({d["uid"] for _, d in found}) == len(found), "dashboard uids must be unique"
    for path, dashboard in found:
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{path.name} / {panel['title']} is wider than the grid"
            for item in (panel, *panel["targets"]):
                assert item["datasource"]["uid"] == datasource_uid, f"{path.name} / {panel['title']}"


def test_counter_dashboard_shows_what_operations_asked_for() -> None:
    counter = json.loads((DASHBOARD_DIR / "counter-operations.json").read_text(encoding="utf-8"))
    exprs = " ".join(t["expr"] for p in counter["panels"] for t in p["targets"])
    assert "settlement_settlements_total" in exprs  # settlements per second by kind
    assert "histogram_quantile(0.99" in exprs  # latency percentiles
    assert 'infcode="-1"' in exprs  # refusals by reason
    assert "topk(10, sum by (fixmedins_code)" in exprs  # busiest institutions


def test_every_alert_the_issue_lists_exists_with_severity_and_summary() -> None:
    alerts = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    for watched, name in REQUIRED_ALERTS.items():
        assert name in alerts, f"no alert for {watched}"
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"page", "ticket"}, name
        assert rule["annotations"].get("summary"), name
        assert rule["annotations"].get("description"), name


def test_months_of_payment_alerts_compare_with_the_levels_the_ledger_exports() -> None:
    """No months hard-coded in the rules: they compare with ledger_fund_risk_threshold_months, which the
    ledger's scheduler sets from LEDGER_FUND_RISK_WARNING_MONTHS / _DANGER_MONTHS."""
    from fund_ledger.config import LedgerSettings
    from fund_ledger.schedule import LedgerScheduler

    from shared.db import Database

    settings = LedgerSettings()
    LedgerScheduler(Database("sqlite+aiosqlite://"), settings)  # sets the levels; connects to nothing
    exported = {
        level: REGISTRY.get_sample_value("ledger_fund_risk_threshold_months", {"level": level})
        for level in ("warning", "danger")
    }
    assert exported == {
        "warning": float(settings.fund_risk_warning_months),
        "danger": float(settings.fund_risk_danger_months),
    }
    alerts = {rule["alert"]: " ".join(rule["expr"].split()) for rule in rules() if "alert" in rule}
    for name, level in (("FundMonthsOfPaymentLow", "warning"), ("FundMonthsOfPaymentDanger", "danger")):
        assert alerts[name] == (
            "min by (admdvs, insutype) (ledger_fund_months_of_payment) < on() group_left() "
            f'max(ledger_fund_risk_threshold_months{{level="{level}"}})'
        ), name


def test_promtool_accepts_the_rules_and_their_unit_tests() -> None:
    promtool = prometheus_support.binary("promtool")
    files = [str(path) for path in sorted(RULES_DIR.glob("*.yml"))]
    checked = subprocess.run([promtool, "check", "rules", *files], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # Every alert has at least one unit test that expects it to fire.
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    untested = alerts - fired - {"ServiceErrorRatioHigh", "HttpLatencyP99High"}
    assert not untested, f"alerts with no firing unit test: {sorted(untested)}"

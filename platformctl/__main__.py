"""``python -m platformctl ...``: see ``--help``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from platformctl.services import SERVICES, ServiceSpec

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def _spec(name: str) -> ServiceSpec:
    if name not in SERVICES:
        raise typer.BadParameter(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    return SERVICES[name]


@app.command()
def migrate(
    service: Annotated[str, typer.Argument(help="gateway, enrollment, settlement, ledger or all")],
    database_url: Annotated[str | None, typer.Option(help="overrides <PREFIX>DATABASE_URL")] = None,
) -> None:
    """Bring a service's database to the newest schema (Alembic upgrade head)."""
    from shared.migrations import upgrade

    names = list(SERVICES) if service == "all" else [service]
    for name in names:
        spec = _spec(name)
        url = database_url or spec.settings().resolved_database_url()
        upgrade(spec.package, url)
        typer.echo(f"{name}: migrated ({url.split('@')[-1]})")


@app.command()
def makemigration(
    service: str,
    message: Annotated[str, typer.Option("-m", "--message")],
) -> None:
    """Autogenerate a migration for a service by comparing its models with a fresh database (developers)."""
    import tempfile

    from alembic import command

    from shared.config import sqlite_url
    from shared.migrations import alembic_config, upgrade

    spec = _spec(service)
    with tempfile.TemporaryDirectory() as tmp:
        url = sqlite_url(Path(tmp) / "scratch.db")
        upgrade(spec.package, url)
        command.revision(alembic_config(spec.package, url), message=message, autogenerate=True)


@app.command()
def run(
    data_dir: Annotated[Path, typer.Option(help="where the SQLite files live")] = Path("data"),
    host: Annotated[str, typer.Option(help="address the services listen on")] = "127.0.0.1",
    base_port: Annotated[int, typer.Option(help="gateway port; the others follow")] = 8000,
    broker_port: Annotated[int, typer.Option(help="port of the embedded Kafka-compatible broker")] = 9092,
    demo: Annotated[bool, typer.Option(help="load the demo data set")] = True,
) -> None:
    """Run the whole platform on this machine: Tansu broker, SQLite files, the four services."""
    from platformctl.stack import run_stack

    run_stack(data_dir=data_dir, host=host, base_port=base_port, broker_port=broker_port, load_demo=demo)


@app.command("demo")
def demo_command(
    enrollment_url: str = "http://127.0.0.1:8001",
    settlement_url: str = "http://127.0.0.1:8002",
    gateway_url: str = "http://127.0.0.1:8000",
) -> None:
    """Load the demo data set through the services' APIs (safe to run again)."""
    import asyncio

    from platformctl.demo import load_demo

    asyncio.run(load_demo(enrollment_url, settlement_url, gateway_url=gateway_url, echo=typer.echo))


def _auth_secret() -> str:
    import os

    from shared.auth import DEV_AUTH_SECRET

    return os.environ.get("PLATFORM_AUTH_SECRET") or os.environ.get("GATEWAY_AUTH_SECRET") or DEV_AUTH_SECRET


def _operator_headers(token: str | None, role: str, subject: str) -> dict[str, str]:
    """The bearer token given (``--token`` / ``PLATFORM_TOKEN``), else one minted for ``role`` with the auth
    secret, as the ``token`` command does."""
    from shared.auth import issue_token

    return {"Authorization": f"Bearer {token or issue_token(_auth_secret(), subject, [role], ttl_s=3600)}"}


TokenOption = Annotated[
    str | None,
    typer.Option(envvar="PLATFORM_TOKEN", help="bearer token; default: one minted with the auth secret"),
]


@app.command()
def token(
    role: Annotated[
        list[str],
        typer.Option(
            help="enrollment_clerk, fund_accountant, auditor, administrator or service (repeatable)"
        ),
    ],
    subject: Annotated[
        str, typer.Option(help="who the token is for (written to the audit log)")
    ] = "operator",
    hours: Annotated[int, typer.Option(min=1, max=24 * 31, help="valid for this many hours")] = 12,
) -> None:
    """Print a bearer token for the operator APIs, signed with the auth secret (``PLATFORM_AUTH_SECRET``,
    else ``GATEWAY_AUTH_SECRET``, else the development secret ``./run.sh`` uses)."""

    from shared.auth import issue_token

    try:
        typer.echo(issue_token(_auth_secret(), subject, role, ttl_s=hours * 3600))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@app.command("his-call")
def his_call(
    infno: Annotated[str, typer.Argument(help="transaction code, e.g. 1101 or 2102")],
    input_json: Annotated[str, typer.Argument(help="the envelope's input node as JSON")],
    gateway_url: str = "http://127.0.0.1:8000",
    institution: Annotated[
        str, typer.Option(help="fixmedins_code of the calling institution")
    ] = "P34152400001",
    paasid: Annotated[str | None, typer.Option(help="default: the demo credentials")] = None,
    secret: Annotated[str | None, typer.Option(help="default: the demo credentials")] = None,
    insuplc_admdvs: str = "341524",
    twice: Annotated[
        bool, typer.Option(help="send the identical envelope (same msgid) a second time")
    ] = False,
) -> None:
    """Call the gateway as a HIS does: sign in (9001), then send one signed envelope and print the answer."""
    import asyncio
    import json

    import httpx
    import simplejson

    from platformctl.demo import INSTITUTIONS, demo_credentials
    from platformctl.his import HisClient

    names = {i["fixmedins_code"]: i["fixmedins_name"] for i in INSTITUTIONS}
    demo_paasid, demo_secret = demo_credentials(institution)
    try:
        body = json.loads(input_json)
    except ValueError as exc:
        raise typer.BadParameter(f"input is not JSON: {exc}") from exc
    his = HisClient(
        gateway_url.rstrip("/"),
        institution,
        names.get(institution, institution),
        paasid or demo_paasid,
        secret or demo_secret,
    )

    async def call() -> None:
        async with httpx.AsyncClient() as client:
            await his.sign_in(client)
            wire = his.envelope(infno, body, insuplc_admdvs=insuplc_admdvs)
            for _ in range(2 if twice else 1):
                answer = await his.post(client, wire)
                typer.echo(simplejson.dumps(answer, use_decimal=True, ensure_ascii=False, indent=2))

    asyncio.run(call())


@app.command("supervision-scan")
def supervision_scan_command(
    day: Annotated[
        str | None, typer.Option(help="day of care, YYYY-MM-DD; default yesterday (Beijing)")
    ] = None,
    settlement_url: Annotated[
        str, typer.Option(envvar="SETTLEMENT_URL", help="the settlement service")
    ] = "http://127.0.0.1:8002",
    token: TokenOption = None,
) -> None:
    """The daily batch of fraud-signal rules (run it from cron after midnight): hits go to the review queue
    (GET /api/v1/supervision/hits on the settlement service)."""
    from datetime import date, timedelta

    from platformctl import supervision
    from shared.clock import now_china

    try:
        when = date.fromisoformat(day) if day else now_china().date() - timedelta(days=1)
        headers = _operator_headers(token, "auditor", "supervision-scan")
        checked, hits = supervision.scan(settlement_url, when, headers=headers)
    except (ValueError, supervision.CommandFailed) as exc:
        raise typer.BadParameter(str(exc)) from exc
    except httpx.HTTPError as exc:
        typer.echo(f"settlement service unreachable: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{when}: {checked} settlements checked, {hits} new hits for review")


@app.command("publicity-report")
def publicity_report_command(
    admdvs: Annotated[str, typer.Option(help="pooling region, 6 digits")],
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    out: Annotated[Path, typer.Option(help="folder for the CSV and HTML files")] = Path("reports"),
    settlement_url: Annotated[
        str, typer.Option(envvar="SETTLEMENT_URL", help="the settlement service")
    ] = "http://127.0.0.1:8002",
    token: TokenOption = None,
) -> None:
    """The monthly public report of a region (compensation list per village with masked names, enrollment
    rate, beneficiaries, inpatient actual reimbursement ratio, largest compensations, fund income, spending
    and balance): publicity-<admdvs>-<month>.csv, -summary.csv and .html with charts."""
    from platformctl import supervision

    try:
        headers = _operator_headers(token, "auditor", "publicity-report")
        written = supervision.publicity(settlement_url, admdvs, month, out, headers=headers)
    except supervision.CommandFailed as exc:
        raise typer.BadParameter(str(exc)) from exc
    except httpx.HTTPError as exc:
        typer.echo(f"settlement service unreachable: {exc}", err=True)
        raise typer.Exit(2) from exc
    for path in written.paths:
        typer.echo(str(path))


@app.command("inter-region-clearing")
def inter_region_clearing_command(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    run: Annotated[bool, typer.Option("--run", help="clear the month (else only the report)")] = False,
    insutype: Annotated[str, typer.Option(help="scheme sub-ledger: 390, 391 or 380")] = "390",
    ledger_url: Annotated[
        str, typer.Option(envvar="LEDGER_URL", help="the fund ledger service")
    ] = "http://127.0.0.1:8003",
    token: TokenOption = None,
) -> None:
    """A month's out-of-area care between the platform's regions: per insured region, treating region and
    fund, both regions' books, the settlements and reversals, and (with --run) the clearing: what each insured
    region paid each treating region and carried forward."""
    import asyncio

    from platformctl import interregion

    async def call() -> dict[str, object]:
        headers = _operator_headers(token, "fund_accountant", "inter-region-clearing")
        async with httpx.AsyncClient(base_url=ledger_url, headers=headers, timeout=60) as client:
            return await interregion.fetch(client, month, insutype, run=run)

    try:
        report = asyncio.run(call())
    except interregion.CommandFailed as exc:
        raise typer.BadParameter(str(exc)) from exc
    except httpx.HTTPError as exc:
        typer.echo(f"fund ledger unreachable: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(interregion.render(report))
    if not report["reconciled"]:
        raise typer.Exit(1)


@app.command("inter-platform-clearing")
def inter_platform_clearing_command(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    peer: Annotated[str, typer.Option(help="the peer platform's id (SETTLEMENT_INTERPLATFORM_PEERS)")],
    run: Annotated[
        bool, typer.Option("--run", help="book this platform's side (else only the report)")
    ] = False,
    settlement_url: Annotated[
        str, typer.Option(envvar="SETTLEMENT_URL", help="the settlement service")
    ] = "http://127.0.0.1:8002",
    ledger_url: Annotated[
        str, typer.Option(envvar="LEDGER_URL", help="the fund ledger service")
    ] = "http://127.0.0.1:8003",
    token: TokenOption = None,
) -> None:
    """A month's 跨省 care with a peer platform: both platforms' records compared reservation by reservation
    (matched, only here, only there, amount differences, pending), and (with --run) this platform's side of
    the clearing booked (1303 received / 2106 paid against the special account). Exit 1 when not
    reconciled."""
    import asyncio

    from platformctl import interplatform

    async def call() -> dict[str, Any]:
        reads = _operator_headers(token, "service", "inter-platform-clearing")
        books = _operator_headers(token, "fund_accountant", "inter-platform-clearing")
        async with (
            httpx.AsyncClient(base_url=settlement_url, headers=reads, timeout=60) as settlement,
            httpx.AsyncClient(base_url=ledger_url, headers=books, timeout=60) as ledger,
        ):
            return await interplatform.fetch(settlement, ledger, month, peer, run=run)

    try:
        answer = asyncio.run(call())
    except interplatform.CommandFailed as exc:
        raise typer.BadParameter(str(exc)) from exc
    except httpx.HTTPError as exc:
        typer.echo(f"service unreachable: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(interplatform.render(answer))
    if not interplatform.reconciled(answer):
        raise typer.Exit(1)


@app.command("import-roster")
def import_roster_command(
    csv_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="roster CSV (see --help)")],
    database_url: Annotated[str | None, typer.Option(help="overrides ENROLLMENT_DATABASE_URL")] = None,
    errors: Annotated[Path | None, typer.Option(help="where to write the error report (CSV)")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="households per transaction")] = 200,
) -> None:
    """Import a county roster (households, persons, identity categories) into the enrollment database.

    Columns: household_no, admdvs, address, relation, certno, psn_name, psn_idet_type, idet_begin, idet_end.
    A household with any bad row is skipped whole and reported by line; re-running a file changes nothing."""
    import asyncio
    import time

    from enrollment.roster.importer import import_roster, write_errors
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from shared.clock import now_china
    from shared.db import Database

    spec = SERVICES["enrollment"]
    url = database_url or spec.settings().resolved_database_url()
    total = max(0, sum(1 for _ in csv_file.open(encoding="utf-8-sig")) - 1)

    async def run() -> None:
        db = Database(url)
        start = time.perf_counter()
        try:
            with Progress(
                TextColumn("[bold]importing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[rate]} persons/s"),
            ) as progress:
                task = progress.add_task("roster", total=total, rate="-")

                def advance(rows: int) -> None:
                    done = progress.tasks[0].completed + rows
                    rate = done / max(time.perf_counter() - start, 1e-9)
                    progress.update(task, advance=rows, rate=f"{rate:,.0f}")

                report = await import_roster(
                    db, csv_file, now_china().date(), batch_size=batch_size, progress=advance
                )
        finally:
            await db.dispose()
        elapsed = time.perf_counter() - start
        typer.echo(
            f"{total} rows in {elapsed:.1f}s ({total / max(elapsed, 1e-9):,.0f} rows/s): "
            f"{report.households_created} households created, {report.households_unchanged} unchanged, "
            f"{report.households_refused} refused; {report.persons_created} persons and "
            f"{report.identities_added} identities added"
        )
        if report.errors:
            target = errors or csv_file.with_suffix(".errors.csv")
            write_errors(report, target)
            typer.echo(f"{len(report.errors)} errors, by line: {target}")
            raise typer.Exit(1)

    asyncio.run(run())


@app.command("migrate-legacy")
def migrate_legacy_command(
    urbmi: Annotated[
        Path | None, typer.Option(file_okay=False, help="URBMI (城镇居民医保, 391) export folder")
    ] = None,
    ncms: Annotated[
        Path | None, typer.Option(file_okay=False, help="NCMS (新农合, 380) export folder")
    ] = None,
    database_url: Annotated[str | None, typer.Option(help="overrides ENROLLMENT_DATABASE_URL")] = None,
    settlement_database_url: Annotated[
        str | None, typer.Option(help="overrides SETTLEMENT_DATABASE_URL (institutions)")
    ] = None,
    report: Annotated[Path, typer.Option(help="conflict and error report (CSV)")] = Path(
        "legacy-migration-report.csv"
    ),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="write the report, change nothing")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="persons per transaction")] = 500,
) -> None:
    """Migrate the URBMI (391) and NCMS (380) exports: persons matched by ID number, enrollment and payment
    history, identity categories, cards into the enrollment database; the designated institutions of both
    lists into the settlement registry. Layouts and rules: docs/legacy-migration.md.

    Safe to run again (changes nothing) and to run again after a crash (finishes the rest). Exit status 1
    when the report lists persons or rows left for a clerk or refused."""
    import asyncio
    import time
    from dataclasses import asdict

    from enrollment.legacy.exports import Export, ExportError, Issue, scan
    from enrollment.legacy.migrate import migrate, write_report
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from settlement.institutions.legacy import ListingFileError, admit_institutions

    from shared.clock import now_china
    from shared.db import Database

    exports = [Export(t, p) for t, p in (("391", urbmi), ("380", ncms)) if p is not None]
    if not exports:
        raise typer.BadParameter("give --urbmi, --ncms or both")
    url = database_url or SERVICES["enrollment"].settings().resolved_database_url()
    settlement_url = settlement_database_url or SERVICES["settlement"].settings().resolved_database_url()
    today = now_china().date()
    try:
        indexes = [scan(e) for e in exports]
    except ExportError as exc:
        typer.echo(f"导出文件无法使用，未作任何改动: {exc}", err=True)
        raise typer.Exit(2) from exc
    total = sum(i.persons for i in indexes)

    async def run() -> None:
        listing_files = [
            (e.insutype, e.path("institutions.csv")) for e in exports if e.has("institutions.csv")
        ]
        institutions = None
        if listing_files:
            settlement_db = Database(settlement_url)
            try:
                institutions = await admit_institutions(settlement_db, listing_files, dry_run=dry_run)
            except ListingFileError as exc:
                typer.echo(f"机构目录无法使用，未作任何改动: {exc}", err=True)
                raise typer.Exit(2) from exc
            finally:
                await settlement_db.dispose()
        db = Database(url)
        start = time.perf_counter()
        try:
            with Progress(
                TextColumn("[bold]dry run" if dry_run else "[bold]migrating"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[rate]} persons/s"),
            ) as progress:
                task = progress.add_task("legacy", total=total, rate="-")

                def advance(count: int) -> None:
                    done = progress.tasks[0].completed + count
                    rate = done / max(time.perf_counter() - start, 1e-9)
                    progress.update(task, advance=count, rate=f"{rate:,.0f}")

                result = await migrate(
                    db,
                    exports,
                    today,
                    dry_run=dry_run,
                    batch_size=batch_size,
                    progress=advance,
                    indexes=indexes,
                )
        finally:
            await db.dispose()
        elapsed = time.perf_counter() - start
        issues = list(result.issues)
        if institutions is not None:
            issues += [Issue(**asdict(i)) for i in institutions.issues]
        write_report(issues, report)
        outcomes = {o: sum(1 for i in issues if i.outcome == o) for o in ("resolved", "unresolved", "error")}
        prefix = "DRY RUN (nothing changed): " if dry_run else ""
        typer.echo(
            f"{prefix}{total} legacy person records in {elapsed:.1f}s "
            f"({total / max(elapsed, 1e-9):,.0f} persons/s): {result.persons_created} persons created, "
            f"{result.persons_linked} already registered and linked, "
            f"{result.persons_unchanged} already migrated, {result.persons_not_migrated} not migrated; "
            f"{result.enrollments} enrollment years, {result.payments} payments, "
            f"{result.identities} identities, "
            f"{result.cards} cards; events: "
            + (", ".join(f"{k} {v}" for k, v in sorted(result.events.items())) or "none")
        )
        if institutions is not None:
            typer.echo(
                f"institutions: {institutions.institutions_created} admitted, "
                f"{institutions.listings_recorded} legacy listings recorded, "
                f"{institutions.listings_unchanged} unchanged"
            )
        typer.echo(
            f"report {report}: {outcomes['resolved']} resolved by rule, {outcomes['unresolved']} left for a "
            f"clerk, {outcomes['error']} errors"
        )
        if outcomes["unresolved"] or outcomes["error"]:
            raise typer.Exit(1)

    asyncio.run(run())


@app.command("generate-legacy-exports")
def generate_legacy_exports_command(
    folder: Annotated[Path, typer.Argument(file_okay=False, help="creates <folder>/urbmi and <folder>/ncms")],
    persons: Annotated[int, typer.Option(min=1, help="distinct persons across both exports")] = 1000,
    seed: Annotated[int, typer.Option(help="same seed, same exports")] = 20261123,
) -> None:
    """Generate a synthetic pair of legacy exports (URBMI + NCMS) with overlaps and conflicts."""
    from enrollment.legacy.generator import generate_pair

    from shared.clock import now_china

    pair = generate_pair(folder, persons, seed=seed, today=now_china().date())
    typer.echo(
        f"{pair.urbmi} ({pair.records['391']} persons), {pair.ncms} ({pair.records['380']} persons): "
        f"{pair.in_both} in both, {pair.names_differ} names differ, {pair.same_day_ties} same-day ties, "
        f"{pair.invalid_ids} invalid ID numbers; {pair.expected_migrated} should migrate"
    )


@app.command("purge-files")
def purge_files_command(
    days: Annotated[
        int | None,
        typer.Option(help="also delete every exchange file made more than this many days ago"),
    ] = None,
    database_url: Annotated[str | None, typer.Option(help="overrides GATEWAY_DATABASE_URL")] = None,
) -> None:
    """Delete the gateway's exchange files (9101/9102) past their download deadline (run daily)."""
    import asyncio

    from gateway.files.service import purge

    from shared.db import Database

    url = database_url or _spec("gateway").settings().resolved_database_url()

    async def _purge() -> int:
        db = Database(url)
        try:
            return await purge(db, retention_days=days)
        finally:
            await db.dispose()

    typer.echo(f"exchange files purged: {asyncio.run(_purge())}")


@app.command("trail")
def trail_command(
    msgid: Annotated[str | None, typer.Argument(help="the NHSA message id (msgid) to follow")] = None,
    setl_id: Annotated[str | None, typer.Option(help="follow a settlement by its setl_id")] = None,
    psn_no: Annotated[str | None, typer.Option(help="follow one person's settlements")] = None,
    date_from: Annotated[
        str | None, typer.Option(help="with --psn-no: first Beijing day, YYYY-MM-DD")
    ] = None,
    date_to: Annotated[str | None, typer.Option(help="with --psn-no: last Beijing day, YYYY-MM-DD")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the trail as JSON")] = False,
    gateway_url: Annotated[str, typer.Option(envvar="GATEWAY_URL")] = "http://127.0.0.1:8000",
    settlement_url: Annotated[str, typer.Option(envvar="SETTLEMENT_URL")] = "http://127.0.0.1:8002",
    ledger_url: Annotated[str, typer.Option(envvar="LEDGER_URL")] = "http://127.0.0.1:8003",
    token: TokenOption = None,
) -> None:
    """What happened to a swipe: the gateway's answer, the settlement record and its calculation, the
    events, the ledger's entries and the reconciliation status, by msgid, --setl-id, or --psn-no with
    --date-from/--date-to. Needs an auditor's token; every read is audited."""
    import asyncio
    from datetime import date

    from platformctl import trail

    if sum(1 for given in (msgid, setl_id, psn_no) if given) != 1:
        raise typer.BadParameter("give exactly one of MSGID, --setl-id, --psn-no")
    try:
        first = date.fromisoformat(date_from) if date_from else None
        last = date.fromisoformat(date_to) if date_to else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    urls = trail.Urls(gateway_url.rstrip("/"), settlement_url.rstrip("/"), ledger_url.rstrip("/"))
    headers = _operator_headers(token, "auditor", "platformctl-trail")

    async def run() -> trail.Trail:
        async with httpx.AsyncClient(headers=headers, timeout=30) as client:
            return await trail.gather(
                client, urls, msgid=msgid, setl_id=setl_id, psn_no=psn_no, date_from=first, date_to=last
            )

    try:
        found = asyncio.run(run())
    except trail.TrailFailed as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    except httpx.HTTPError as exc:
        typer.echo(f"service unreachable: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(found.model_dump_json(indent=2) if as_json else trail.render(found))


@app.command("event-schemas")
def event_schemas_command(
    out: Annotated[Path, typer.Option(help="folder for the schema files")] = Path("docs/events"),
    check: Annotated[bool, typer.Option(help="fail if the files differ from the models")] = False,
) -> None:
    """Write the JSON Schema of every event (type and version) and of the envelope, generated from
    shared/contracts/v1/events.py, to docs/events/ (commit them); --check only compares."""
    from shared.contracts.v1 import event_schemas

    if check:
        stale = [
            name
            for name, schema in event_schemas.all_schemas().items()
            if not (out / name).exists()
            or (out / name).read_text(encoding="utf-8") != event_schemas.render(schema)
        ]
        if stale:
            typer.echo("out of date: " + ", ".join(stale), err=True)
            raise typer.Exit(1)
        typer.echo("event schemas up to date")
        return
    for path in event_schemas.write(out):
        typer.echo(str(path))


@app.command("error-codes")
def error_codes_command(
    readme: Annotated[
        Path | None,
        typer.Option(help="rewrite the table between the markers in this README instead of printing"),
    ] = None,
) -> None:
    """The error-code table (``shared.error_codes``) as Markdown, or written into the README."""
    from shared.error_codes import markdown_table, replace_table

    if readme is None:
        typer.echo(markdown_table(), nl=False)
        return
    readme.write_text(replace_table(readme.read_text(encoding="utf-8")), encoding="utf-8")
    typer.echo(f"{readme}: error-code table written")


if __name__ == "__main__":
    app()

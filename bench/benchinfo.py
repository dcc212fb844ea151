"""What every benchmark reports about where and when it ran."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def machine_info() -> dict[str, Any]:
    memory_kb: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "mem_total_kb": memory_kb,
        "mem_total_gib": round(memory_kb / 1024**2, 1) if memory_kb else None,
    }


def git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def write_result(benchmark: str, started: datetime, **fields: Any) -> Path:
    """``bench/results/<benchmark>-<UTC start>.json``: the benchmark's name, when, at which commit and on
    which machine it ran, then ``fields``. Returns the path."""
    out = ROOT / "bench" / "results" / f"{benchmark}-{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": benchmark,
        "date": started.isoformat(timespec="seconds"),
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "machine": machine_info(),
        **fields,
    }
    out.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return out

"""Dependencies shared by the enrollment routes."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Request

from shared.clock import now_china


async def today(request: Request) -> date:
    """The office's date (Beijing time). ``ENROLLMENT_FIXED_TODAY`` pins it for training and tests."""
    fixed: date | None = request.app.state.runtime.settings.fixed_today
    return fixed or now_china().date()


TodayDep = Annotated[date, Depends(today)]

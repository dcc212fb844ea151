from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.transactions import EnvelopeProcessor

router = APIRouter(tags=["nhsa"])
JSON_UTF8 = "application/json; charset=utf-8"
#: The national interface's single entry point.
HIS_PATH = "/fsi/api/rsfComIfsService/callService"


@router.post(HIS_PATH)
async def call_service(request: Request) -> Response:
    """The national interface's single entry point: one envelope in, one envelope out. The HTTP status is
    200 whenever an envelope was produced; success or refusal is in ``infcode``. The institution signs
    each request with the region's scheme (``x-tif-paasid``, ``x-tif-timestamp``, ``x-tif-nonce``,
    ``x-tif-signature``) and carries its 9001 ``sign_no``."""
    processor: EnvelopeProcessor = request.app.state.runtime.processor
    raw = await _read_limited(request, processor.max_body_bytes)
    headers = {name.lower(): value for name, value in request.headers.items()}
    return Response(await processor.process(raw, headers), media_type=JSON_UTF8)


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return b"x" * (limit + 1)  # the processor refuses it by size without reading the rest
        chunks.append(chunk)
    return b"".join(chunks)

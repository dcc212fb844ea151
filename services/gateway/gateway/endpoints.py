from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.transactions import EnvelopeProcessor

router = APIRouter(tags=["nhsa"])
JSON_UTF8 = "application/json; charset=utf-8"
OCTET_STREAM = "application/octet-stream"
#: The national interface's single entry point.
HIS_PATH = "/fsi/api/rsfComIfsService/callService"
#: Every path under it answers with a national envelope (docs/interface.md, "Path forms").
HIS_PREFIX = "/fsi/"


@router.post(HIS_PATH)
async def call_service(request: Request) -> Response:
    """The national interface's single entry point: one envelope in, one envelope out. The HTTP status is
    200 whenever an envelope was produced; success or refusal is in ``infcode``. The institution signs
    each request with the region's scheme (``x-tif-paasid``, ``x-tif-timestamp``, ``x-tif-nonce``,
    ``x-tif-signature``) and carries its 9001 ``sign_no``."""
    return await _answer(request, None)


@router.post(HIS_PATH + "/{infno}")
async def call_service_by_number(infno: str, request: Request) -> Response:
    """The same entry point with the transaction number appended, as clients that build the address as
    base + infno post it (``…/callService/1101``); the number must be the envelope's ``infno``."""
    return await _answer(request, infno)


@router.post("/fsi/api/rsfComIfsService/{infno}")
async def call_by_number(infno: str, request: Request) -> Response:
    """The base address without ``callService`` plus the transaction number (``…/rsfComIfsService/1101``)."""
    return await _answer(request, infno)


async def unknown_path(rest: str, request: Request) -> Response:
    """Any other address under ``/fsi/``: a national envelope refusing it ``[E_PATH]``, never FastAPI's
    default 404 body."""
    processor: EnvelopeProcessor = request.app.state.runtime.processor
    return Response(processor.refuse_path(request.url.path), media_type=JSON_UTF8)


# One route per method, each with its own operation id: a route with several methods gives every method
# the same id, which OpenAPI forbids (FastAPI warns "Duplicate Operation ID").
for _method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
    router.add_api_route(
        HIS_PREFIX + "{rest:path}",
        unknown_path,
        methods=[_method],
        name=f"unknown_path_{_method.lower()}",
        operation_id=f"unknown_path_{_method.lower()}",
    )


async def _answer(request: Request, path_infno: str | None) -> Response:
    processor: EnvelopeProcessor = request.app.state.runtime.processor
    raw = await _read_limited(request, processor.max_body_bytes)
    headers = {name.lower(): value for name, value in request.headers.items()}
    reply = await processor.reply(raw, headers, path_infno=path_infno)
    if reply.file is not None and not wants_json(headers.get("accept", "")):
        # 9102 as the national platform answers it: the zip itself, which deployed HIS code writes to a
        # .zip file and unpacks (docs/interface.md, "9101 / 9102 files").
        return Response(
            reply.file,
            media_type=OCTET_STREAM,
            headers={"Content-Disposition": f'attachment; filename="{reply.file_qury_no}.zip"'},
        )
    return Response(reply.text, media_type=JSON_UTF8)


def wants_json(accept: str) -> bool:
    """A client that asks for JSON (``Accept: application/json``) gets a 9102 as an envelope with the zip
    in ``output.file_byte`` (base64); any other, as the national platform answers, the zip's bytes."""
    return any(part.split(";")[0].strip().lower() == "application/json" for part in accept.split(","))


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return b"x" * (limit + 1)  # the processor refuses it by size without reading the rest
        chunks.append(chunk)
    return b"".join(chunks)

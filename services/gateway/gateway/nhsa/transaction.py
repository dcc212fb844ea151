"""What one transaction code is, declared once by its family module (``person.py``, ``pharmacy.py``...) and
collected by ``gateway.registry``: its wire input, what answers it, and the properties the pipeline and the
2601 rules read (whether it changes state, settles, may be voided, which code undoes it, whether a repeated
msgid is answered with the first answer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.downstream import Downstream, downstream_transaction
from gateway.files.service import FileStore
from gateway.nhsa.envelope import Answer, RequestEnvelope
from gateway.nhsa.errors import Refusal, describe

if TYPE_CHECKING:
    from gateway.security.service import HisSecurity
    from shared.db import Database

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Call:
    """One envelope being answered, with what a handler may use to answer it."""

    envelope: RequestEnvelope
    downstream: Downstream
    db: Database
    security: HisSecurity
    #: The exchange files (9101/9102, and the codes that answer with a file).
    files: FileStore = field(default_factory=FileStore)


#: A handler answers with its ``output``, or with an ``Answer`` when it has a ``warn_msg`` as well. It gets
#: the envelope's ``input`` already read into the transaction's input model.
Handler = Callable[[Call, Any], Awaitable[dict[str, Any] | Answer]]
#: Run around the handler by the pipeline (2601 checks and marks the gateway's own message log).
Hook = Callable[[Call, Any], Awaitable[None]]
AfterHook = Callable[[Call, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Transaction:
    infno: str
    #: The family module that declares it, e.g. ``inpatient``.
    family: str
    #: 交易名称, for people reading the registry (and the error catalogue).
    label: str
    #: The envelope's ``input``, validated before the handler runs (``E_INPUT`` if it does not fit).
    input: type[BaseModel]
    handler: Handler
    #: A repeat after a lost answer could act twice: a lost answer is "outcome unknown", never "try again".
    changes_state: bool = False
    #: Makes a settlement (money moves); 2601 can undo it by msgid.
    settles: bool = False
    #: Money moves (a settlement, its reversal, a 冲正): a lost answer tells the cashier not to charge
    #: again, and names 2601.
    moves_money: bool = False
    #: 2601 may void (reverse) it by its msgid.
    voidable: bool = False
    #: The code that undoes it (2102 -> 2103, 2204 -> 2205, 2401 -> 2404...), if any.
    reversed_by: str | None = None
    #: A repeated msgid is answered with the first answer, also when that answer was lost on its way back
    #: (the gateway's message log, and the settlement service's msgid memory behind it).
    replayed: bool = False
    #: False: answered by the gateway itself (9001/9002), no downstream slot taken.
    downstream: bool = True
    before: Hook | None = None
    after: AfterHook | None = None

    async def run(self, call: Call, data: Any) -> dict[str, Any] | Answer:
        """The handler, with the downstream calls it makes knowing which transaction they are for (how a
        lost answer is put to the cashier: ``moves_money``)."""
        token = downstream_transaction.set(self)
        try:
            return await self.handler(call, data)
        finally:
            downstream_transaction.reset(token)


def parse(model: type[Model], value: Any, where: str = "input") -> Model:
    """The one place a wire input becomes a model; what does not fit is refused ``E_INPUT`` with the
    fields named (never a 500, nothing sent downstream)."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise Refusal("E_INPUT", describe(exc, where)) from exc

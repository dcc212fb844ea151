"""Refusals at the gateway become ``infcode=-1`` with an ``err_msg`` a HIS operator can read: Chinese text
with a stable code in brackets, e.g. ``[E_INPUT] input.druginfo.psn_no: 必填``."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class Refusal(Exception):
    """The transaction was refused and nothing was done."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def err_msg(self) -> str:
        return f"[{self.code}] {self.message}"


class OutcomeUnknown(Refusal):
    """A downstream call may or may not have taken effect. Never stored as a final answer."""


#: Refusals that say "nothing was done, send the same envelope again later": the same msgid may succeed
#: then, so none of them is stored in the message log as the msgid's answer (``EnvelopeProcessor``).
TRANSIENT_CODES = frozenset(
    {
        "E_UNAVAILABLE",  # the service behind the gateway could not be reached, or failed a read
        "E_TIMEOUT",  # a read-only call went unanswered (a state-changing one is "outcome unknown")
        "E_RATE_LIMITED",  # the institution is over its rate at this gateway process
        "E_BUSY",  # the gateway has as many calls in flight downstream as it may (``gateway.capacity``)
        "RETRY_LATER",  # settlement's 409: the transaction lost a lock or serialization race, rolled back
    }
)


_MESSAGES = {
    "missing": "必填",
    "string_type": "必须是字符串",
    "string_too_short": "不能为空",
    "string_too_long": "长度超过{max_length}",
    "string_pattern_mismatch": "格式不正确",
    "literal_error": "取值不在允许范围内 ({expected})",
    "list_type": "必须是数组",
    "too_short": "至少需要{min_length}条",
    "too_long": "最多允许{max_length}条",
    "dict_type": "必须是对象",
    "model_type": "必须是对象",
    "int_parsing": "必须是整数",
    "int_type": "必须是整数",
    "int_from_float": "必须是整数",
    "decimal_parsing": "必须是数字",
    "decimal_type": "必须是数字",
    "decimal_max_places": "小数位数不能超过{decimal_places}位",
    "decimal_max_digits": "数字位数过多",
    "greater_than": "必须大于{gt}",
    "greater_than_equal": "不能小于{ge}",
    "less_than_equal": "不能大于{le}",
    "extra_forbidden": "不允许的字段",
}


def _loc(loc: tuple[Any, ...], prefix: str) -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "报文"


def describe(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for error in exc.errors()[:8]:
        template = _MESSAGES.get(error["type"])
        ctx = error.get("ctx") or {}
        if template is None:
            message = str(error.get("msg", "无效"))
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
        else:
            try:
                message = template.format(**ctx)
            except (KeyError, IndexError):
                message = template
        parts.append(f"{_loc(tuple(error['loc']), prefix)}: {message}")
    return "; ".join(parts)

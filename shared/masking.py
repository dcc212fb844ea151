"""Personal data never reaches a log line in clear: ID numbers, card numbers and names are masked.

ID numbers (18 characters, GB 11643) are recognised anywhere in a message; card numbers, chip serials and
names only where they are named (``card_no=...``, ``"psn_name": "..."``, ``mdtrt_cert_no`` ...), because a
free-standing name or card number cannot be told apart from other text. What is kept is enough to tell
two records apart when reading a log with the counter staff (region prefix and last characters).
"""

from __future__ import annotations

import logging
import re
from typing import Any

_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_NUMBER_KEYS = r"certno|mdtrt_cert_no|card_no|card_sn|cert_no|idcard|id_number|psn_cert_no"
_NAME_KEYS = r"psn_name|name|opter_name|patient_name|insured_name"
#: key=value (query strings, "key: value") and "key": "value" (JSON, reprs).
_KEYED_NUMBER = re.compile(
    rf"""(?P<key>["']?\b(?:{_NUMBER_KEYS})\b["']?\s*[:=]\s*["']?)(?P<value>[^"'&\s,;}}\]]+)""", re.IGNORECASE
)
_KEYED_NAME = re.compile(
    rf"""(?P<key>["']?\b(?:{_NAME_KEYS})\b["']?\s*[:=]\s*["']?)(?P<value>[^"'&\s,;}}\]]+)""", re.IGNORECASE
)


def mask_number(value: str) -> str:
    if len(value) <= 4:
        return "*" * len(value)
    keep = 4 if len(value) >= 10 else 2
    return value[:2] + "*" * (len(value) - 2 - keep) + value[-keep:]


def mask_name(value: str) -> str:
    return value[:1] + "*" * max(1, len(value) - 1)


def mask(text: str) -> str:
    text = _KEYED_NUMBER.sub(lambda m: m.group("key") + mask_number(m.group("value")), text)
    text = _KEYED_NAME.sub(lambda m: m.group("key") + mask_name(m.group("value")), text)
    return _ID_NUMBER.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)


_NUMBER_FIELD = re.compile(rf"^(?:{_NUMBER_KEYS})$", re.IGNORECASE)
_NAME_FIELD = re.compile(rf"^(?:{_NAME_KEYS})$", re.IGNORECASE)
#: Birth dates: the year is kept (ages are read from it), month and day are not.
_BIRTH_FIELD = re.compile(r"^(?:brdy|birthday|birth_date)$", re.IGNORECASE)


def mask_fields(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with names, ID and card numbers and birth dates
    masked by field name, and any ID number in other text masked where it stands: what an operator view
    (the transaction trail) shows of a person."""
    if isinstance(value, dict):
        masked: dict[Any, Any] = {}
        for key, item in value.items():
            name = str(key)
            if isinstance(item, str) and item:
                if _NUMBER_FIELD.match(name):
                    item = mask_number(item)
                elif _NAME_FIELD.match(name):
                    item = mask_name(item)
                elif _BIRTH_FIELD.match(name):
                    item = item[:4] + "-**-**"
                else:
                    item = mask(item)
            else:
                item = mask_fields(item)
            masked[key] = item
        return masked
    if isinstance(value, list):
        return [mask_fields(item) for item in value]
    if isinstance(value, str):
        return mask(value)
    return value


class MaskingFilter(logging.Filter):
    """Renders the message once, masks it, and stores the result so that every handler prints it masked
    (the arguments are dropped: they are in the message already)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            # Its formatter unpacks the arguments (client, method, path, version, status): mask in place.
            record.args = tuple(mask(a) if isinstance(a, str) else a for a in record.args)
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        masked = mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return True


def install_log_masking() -> None:
    """Adds the filter to every handler of the root logger (a filter on a logger does not see records
    propagated from child loggers; a handler filter sees them all). Idempotent."""
    handlers = [h for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error") for h in _handlers(name)]
    for handler in handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())


def _handlers(name: str) -> list[logging.Handler]:
    return list(logging.getLogger(name or None).handlers)

"""Chinese text for pydantic's validation errors, by error type: what a caller reads never carries
pydantic's English ``msg`` (docs/interface.md, "Envelope": every refusal text in Chinese)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: By pydantic error type; ``{name}`` fields come from the error's ``ctx``.
MESSAGES: dict[str, str] = {
    "missing": "必填",
    "string_type": "必须是字符串",
    "string_too_short": "不能为空",
    "string_too_long": "长度超过{max_length}",
    "string_pattern_mismatch": "格式不正确",
    "literal_error": "取值不在允许范围内 ({expected})",
    "enum": "取值不在允许范围内 ({expected})",
    "list_type": "必须是数组",
    "too_short": "至少需要{min_length}条",
    "too_long": "最多允许{max_length}条",
    "dict_type": "必须是对象",
    "model_type": "必须是对象",
    "model_attributes_type": "必须是对象",
    "int_parsing": "必须是整数",
    "int_type": "必须是整数",
    "int_from_float": "必须是整数",
    "int_parsing_size": "整数超出范围",
    "float_parsing": "必须是数字",
    "float_type": "必须是数字",
    "finite_number": "必须是有限数字",
    "decimal_parsing": "必须是数字",
    "decimal_type": "必须是数字",
    "decimal_max_places": "小数位数不能超过{decimal_places}位",
    "decimal_max_digits": "数字位数过多",
    "decimal_whole_digits": "整数位数过多",
    "greater_than": "必须大于{gt}",
    "greater_than_equal": "不能小于{ge}",
    "less_than": "必须小于{lt}",
    "less_than_equal": "不能大于{le}",
    "multiple_of": "必须是{multiple_of}的倍数",
    "bool_type": "必须是布尔值",
    "bool_parsing": "必须是布尔值",
    "date_type": "必须是日期",
    "date_parsing": "日期格式不正确",
    "date_from_datetime_parsing": "日期格式不正确",
    "date_from_datetime_inexact": "日期不能带时间",
    "datetime_type": "必须是日期时间",
    "datetime_parsing": "日期时间格式不正确",
    "datetime_from_date_parsing": "日期时间格式不正确",
    "time_parsing": "时间格式不正确",
    "uuid_parsing": "格式不正确",
    "uuid_type": "格式不正确",
    "json_invalid": "不是合法的 JSON",
    "json_type": "必须是 JSON 文本",
    "extra_forbidden": "不允许的字段",
    "frozen_field": "不允许修改",
    "union_tag_invalid": "类型标记不正确",
    "union_tag_not_found": "缺少类型标记",
}

_CJK = re.compile(r"[\u3400-\u9fff]")
_VALUE_ERROR_PREFIXES = ("Value error, ", "Assertion failed, ")


def message(error: Mapping[str, Any]) -> str:
    """The Chinese text for one pydantic error (``ValidationError.errors()`` item). A ``value_error``
    raised by our own validators is already Chinese and kept; any other text (a library's English) is
    replaced by a generic one, never shown."""
    template = MESSAGES.get(str(error.get("type", "")))
    if template is not None:
        try:
            return template.format(**(error.get("ctx") or {}))
        except (KeyError, IndexError, ValueError):
            return template.split("{")[0].strip() or "取值无效"
    text = str(error.get("msg", ""))
    for prefix in _VALUE_ERROR_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text if _CJK.search(text) else "取值无效"

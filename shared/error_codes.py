"""Every error code the platform answers with, in one enumeration: the HTTP status a service answers it
with, the Chinese text a HIS cashier or an office clerk reads (``err_msg`` at the gateway, ``error.message``
elsewhere) and who raises it.

At the gateway every refusal is an envelope with HTTP status 200 and ``infcode -1``; its ``err_msg`` reads
``[CODE] text``. A refusal from a service behind the gateway keeps its code there: settlement's
``FULL_SELF_ADVANCE`` (403) reaches the HIS as ``infcode -1, err_msg "[FULL_SELF_ADVANCE] …"``. So a code
raised both by the gateway and by a service lists both statuses, the service's first. ``…`` in a text
stands for what the raise site fills in (an id, a date, an amount).

The raise sites still spell their codes as literals; ``tests/test_error_codes.py`` reads them all
(``tests/support/error_scan.py``) and fails when one is missing here, or when a code here is raised by
nobody, with another status, or by another service. The README's table is generated from this module:
``python -m platformctl error-codes``.
"""

from __future__ import annotations

from enum import StrEnum

GATEWAY = ("gateway",)
ALL = ("shared",)  # shared/: any of the four services
ENROLLMENT = ("enrollment",)
SETTLEMENT = ("settlement",)
LEDGER = ("fund-ledger",)
#: The gateway answers every envelope with HTTP 200; the refusal is ``infcode -1``.
ENVELOPE_STATUS = 200


class ErrorCode(StrEnum):
    """``ErrorCode.E_SIGNATURE == "E_SIGNATURE"``; ``.statuses``, ``.err_msg``, ``.raised_by``."""

    statuses: tuple[int, ...]
    err_msg: str
    raised_by: tuple[str, ...]

    def __new__(
        cls, code: str, statuses: tuple[int, ...], err_msg: str, raised_by: tuple[str, ...]
    ) -> ErrorCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.statuses = statuses
        member.err_msg = err_msg
        member.raised_by = raised_by
        return member

    # --- the gateway: the envelope, the signature, sign-in, msgid, 2601, checks before a call goes downstream
    CARD_NOT_ACTIVE = (
        "CARD_NOT_ACTIVE",
        (422, 409, 200),
        "该社保卡已挂失、注销或换卡，不能使用",
        ("gateway", "enrollment", "settlement"),
    )
    ENCOUNTER_CANCELLED = (
        "ENCOUNTER_CANCELLED",
        (200,),
        "院内就诊流水号 … 的就诊 … 已撤销，请使用新的院内流水号",
        GATEWAY,
    )
    CLEARING_NOT_RECONCILED = (
        "CLEARING_NOT_RECONCILED",
        (200,),
        "… 尚未做明细对账(3202)或最近一次有 … 条不符，不能申请清算",
        GATEWAY,
    )
    E_BUSY = "E_BUSY", (200,), "医保服务繁忙，交易未执行，请稍后用原报文重试", GATEWAY
    E_CAINFO = (
        "E_CAINFO",
        (200,),
        "数字签名校验失败：cainfo 不是本机构登记的 SM2 密钥对报文的 SM3withSM2 签名",
        GATEWAY,
    )
    E_CRYPTO = (
        "E_CRYPTO",
        (200,),
        "报文加密或签名方式与本机构登记的不一致，或 input 无法用本机构的 SM4 密钥解密",
        GATEWAY,
    )
    E_ENVELOPE = "E_ENVELOPE", (200,), "报文公共输入不正确: <字段>: <原因>", GATEWAY
    E_VOUCHER = (
        "E_VOUCHER",
        (422, 200),
        "医保电子凭证无效：不是本平台签发的凭证或已被篡改",
        ("gateway", "settlement"),
    )
    E_VOUCHER_EXPIRED = (
        "E_VOUCHER_EXPIRED",
        (422, 200),
        "医保电子凭证已过期，请患者刷新电子凭证二维码后重新出示",
        ("gateway", "settlement"),
    )
    E_VOUCHER_PERSON = (
        "E_VOUCHER_PERSON",
        (422, 200),
        "医保电子凭证不属于报文中的人员（人员编号、证件号码以凭证为准）",
        ("gateway", "settlement"),
    )
    E_VOUCHER_REVOKED = (
        "E_VOUCHER_REVOKED",
        (422, 200),
        "医保电子凭证已被撤销",
        ("gateway", "settlement"),
    )
    E_VOUCHER_USED = (
        "E_VOUCHER_USED",
        (422,),
        "医保电子凭证已使用过，请患者刷新电子凭证二维码后重新出示",
        SETTLEMENT,
    )
    E_FILE_CORRUPT = (
        "E_FILE_CORRUPT",
        (200,),
        "文件不是有效的 zip 压缩包、不是只含一个文本文件、校验失败或编码无法识别",
        GATEWAY,
    )
    E_FILE_ROWS = "E_FILE_ROWS", (200,), "明细文件第 … 行…（字段不足、结算ID或金额无效、重复）", GATEWAY
    E_FILE_TOTALS = "E_FILE_TOTALS", (200,), "明细文件与传入的合计不符：…", GATEWAY
    E_FILE_TOO_LARGE = "E_FILE_TOO_LARGE", (200,), "文件超过上传上限 … 字节（或解压后超过 … 字节）", GATEWAY
    E_INFNO = "E_INFNO", (200,), "不支持的交易编号: …", GATEWAY
    E_PATH = "E_PATH", (200,), "交易地址 … 不存在，或地址中的交易编号与报文 infno 不一致", GATEWAY
    E_INPUT = "E_INPUT", (200,), "<字段>: <原因>（交易输入 input 不正确）", GATEWAY
    E_INSTITUTION = "E_INSTITUTION", (200,), "报文 fixmedins_code … 与签名接入方 … 不一致", GATEWAY
    E_INTERNAL = (
        "E_INTERNAL",
        (200,),
        "医保网关内部错误，交易结果未知：请用原报文ID重发本交易查询结果",
        GATEWAY,
    )
    E_JSON = "E_JSON", (200,), "报文不是合法的 UTF-8 JSON 对象", GATEWAY
    E_MSGID_FORM = (
        "E_MSGID_FORM",
        (200,),
        "msgid: 格式应为 定点医药机构编号(…)+yyyyMMddHHmmss+4位顺序号",
        GATEWAY,
    )
    E_MSGID_REUSED = "E_MSGID_REUSED", (200,), "报文ID … 已被另一笔不同内容的交易使用", GATEWAY
    E_NONCE_REUSED = (
        "E_NONCE_REUSED",
        (200,),
        "请求随机数 x-tif-nonce 已使用过（疑似重放），请重新签名",
        GATEWAY,
    )
    E_NOT_INSURED = "E_NOT_INSURED", (200,), "该人员在 … 年度无参保信息", GATEWAY
    E_NOT_YOUR_MESSAGE = "E_NOT_YOUR_MESSAGE", (200,), "原报文 … 不是本机构发送的", GATEWAY
    E_OINFNO = "E_OINFNO", (200,), "不支持冲正交易 …，目前可冲正的交易: …", GATEWAY
    E_OUTCOME_UNKNOWN = (
        "E_OUTCOME_UNKNOWN",
        (200,),
        "医保服务响应超时（或通讯异常），交易结果未知：请勿重复收费，请用原报文ID重发本交易查询结果，或使用2601冲正",
        GATEWAY,
    )
    E_RATE_LIMITED = "E_RATE_LIMITED", (200,), "请求过于频繁，已超过本机构的调用频率限制，请稍后重试", GATEWAY
    E_REFUSED = "E_REFUSED", (200,), "交易被拒绝（下游服务未给出错误编码时）", GATEWAY
    E_SIGNATURE = (
        "E_SIGNATURE",
        (200,),
        "签名校验失败：缺少签名请求头、x-tif-signature 不正确或接入方未登记",
        GATEWAY,
    )
    E_SIGN_IN = (
        "E_SIGN_IN",
        (200,),
        "未签到，或签到流水号无效、已签退、已过期、不属于该经办人：请重新签到【9001】",
        GATEWAY,
    )
    E_SIGN_NO = "E_SIGN_NO", (200,), "签退【9002】的签到流水号不存在或不属于本机构、本经办人", GATEWAY
    E_TIMEOUT = "E_TIMEOUT", (200,), "医保服务响应超时，请重试", GATEWAY
    E_TIMESTAMP = "E_TIMESTAMP", (200,), "请求时间戳超出允许范围（±…秒），请校准系统时间后重新签名", GATEWAY
    E_TOO_LARGE = "E_TOO_LARGE", (200,), "报文过大，超过 … 字节", GATEWAY
    E_UNAVAILABLE = "E_UNAVAILABLE", (200,), "医保服务暂不可用，交易未执行，请稍后重试", GATEWAY
    E_VOIDED = "E_VOIDED", (200,), "原交易已冲正", GATEWAY
    FILE_NOT_FOUND = "FILE_NOT_FOUND", (200,), "文件查询号 … 不存在或已过下载截止时间", GATEWAY
    IPT_OTP_NO_MISMATCH = "IPT_OTP_NO_MISMATCH", (200,), "院内就诊流水号 … 与就诊ID … 登记的 … 不符", GATEWAY
    MDTRT_MISMATCH = "MDTRT_MISMATCH", (200,), "就诊ID … 与结算 … 不符", GATEWAY
    NOT_FOUND = "NOT_FOUND", (404,), "资源不存在（如: 机构 … 未登记）", ("gateway", "shared")
    NOT_YOUR_ENCOUNTER = (
        "NOT_YOUR_ENCOUNTER",
        (403, 200),
        "只能操作本机构的就诊记录",
        ("gateway", "settlement"),
    )
    NOT_YOUR_FILE = "NOT_YOUR_FILE", (200,), "只能下载本机构的文件（fixmedins_code 与报文不一致）", GATEWAY
    NOT_YOUR_SETTLEMENT = (
        "NOT_YOUR_SETTLEMENT",
        (403, 200),
        "只能查询或撤销本机构的结算",
        ("gateway", "settlement"),
    )
    PAASID_TAKEN = "PAASID_TAKEN", (409,), "paasid … 已登记给另一机构", GATEWAY
    PSN_MISMATCH = "PSN_MISMATCH", (422, 200), "人员编号与原结算不符", ("gateway", "settlement")
    SETTING_MISMATCH = (
        "SETTING_MISMATCH",
        (422, 200),
        "就诊ID … 是…就诊，不能按…办理",
        ("gateway", "settlement"),
    )
    WRONG_REVERSAL = "WRONG_REVERSAL", (200,), "结算 … 是…，不能用 … 撤销，请用 …", GATEWAY

    # --- every service (shared/): authentication, the error handlers, the outbox feed
    BAD_POSITION = (
        "BAD_POSITION",
        (422,),
        "位置必须是非负的发件箱编号 (a position is a non-negative outbox id)",
        ALL,
    )
    BAD_TOKEN_SUBJECT = (
        "BAD_TOKEN_SUBJECT",
        (403,),
        "令牌主体不能用于记录经办人 (token subject must be 1-… characters)",
        ALL,
    )
    CONFLICT = "CONFLICT", (409,), "与现有数据冲突", ALL
    FORBIDDEN = "FORBIDDEN", (403,), "无权执行此操作 (role … may not … here; needs one of …)", ALL
    HTTP_ERROR = "HTTP_ERROR", (), "请求无法处理（框架给出的其他 HTTP 状态）", ALL
    INTERNAL_ERROR = "INTERNAL_ERROR", (500,), "服务内部错误 (internal error)", ALL
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED", (405,), "不支持的请求方法 (Method Not Allowed)", ALL
    OPERATOR_MISMATCH = (
        "OPERATOR_MISMATCH",
        (403,),
        "经办人 … 与登录身份 … 不符；经办人取自访问令牌"
        " (operator must be the bearer token's subject, or be left out)",
        ALL,
    )
    OUT_OF_RANGE = "OUT_OF_RANGE", (422,), "参数超出允许范围 (value out of range)", ALL
    PAYLOAD_TOO_LARGE = (
        "PAYLOAD_TOO_LARGE",
        (413,),
        "请求体过大（或导入文件解压后过大）",
        ("settlement", "shared"),
    )
    TOO_MANY_POSITIONS = (
        "TOO_MANY_POSITIONS",
        (422,),
        "一次最多查询 … 个位置 (at most … positions per request)",
        ALL,
    )
    UNAUTHENTICATED = "UNAUTHENTICATED", (401,), "未认证：缺少、无效或已过期的访问令牌", ALL
    UNPROCESSABLE = "UNPROCESSABLE", (422,), "请求无法处理", ALL
    VALIDATION_ERROR = "VALIDATION_ERROR", (422,), "请求参数校验失败: …", ALL

    # --- enrollment
    ADMDVS_MISMATCH = (
        "ADMDVS_MISMATCH",
        (422,),
        "路径与请求体中的统筹区编码不一致",
        ("enrollment", "settlement"),
    )
    ALREADY_ENROLLED = "ALREADY_ENROLLED", (409,), "… 年度已登记参保", ENROLLMENT
    ALREADY_TERMINATED = "ALREADY_TERMINATED", (409,), "该参保登记已于 … 终止", ENROLLMENT
    BAD_LOOKUP = "BAD_LOOKUP", (422,), "请提供身份证号 certno 或社保卡号 card_no 之一", ENROLLMENT
    BATCH_REFUSED = "BATCH_REFUSED", (422,), "批量登记未执行：… 名成员被拒绝（逐人列出原因）", ENROLLMENT
    CARD_EXISTS = "CARD_EXISTS", (409,), "社保卡号 … 已存在", ENROLLMENT
    CARD_NOT_FOUND = "CARD_NOT_FOUND", (404,), "未查询到该社保卡", ENROLLMENT
    CARD_REPLACED = "CARD_REPLACED", (409,), "该社保卡已换卡为 …", ENROLLMENT
    CARD_SN_MISMATCH = "CARD_SN_MISMATCH", (422,), "社保卡识别码与卡号不符", ENROLLMENT
    EMPLOYEE_INSURED = (
        "EMPLOYEE_INSURED",
        (409,),
        "…（…）自 … 起参加职工基本医疗保险，不能同时参加城乡居民医保",
        ENROLLMENT,
    )
    ENROLLMENT_NOT_FOUND = "ENROLLMENT_NOT_FOUND", (404,), "参保登记不存在: …", ENROLLMENT
    FUTURE_DATE = "FUTURE_DATE", (422,), "缴费日期不能晚于今天", ENROLLMENT
    HOUSEHOLD_DIFFERS = "HOUSEHOLD_DIFFERS", (400,), "户号 … 已存在且成员与本文件不同", ENROLLMENT
    HOUSEHOLD_EXISTS = "HOUSEHOLD_EXISTS", (409,), "户号 … 已存在", ENROLLMENT
    HOUSEHOLD_NOT_FOUND = "HOUSEHOLD_NOT_FOUND", (404,), "户号不存在: …", ENROLLMENT
    IDENTITY_NOT_FOUND = "IDENTITY_NOT_FOUND", (404,), "该人员没有有效的身份类别 …", ENROLLMENT
    IDENTITY_OVERLAP = "IDENTITY_OVERLAP", (409,), "该人员已有有效期重叠的同类身份", ENROLLMENT
    INVALID_DATE = "INVALID_DATE", (422,), "终止日期 … 晚于该年度待遇期结束日 …", ENROLLMENT
    INVALID_ID_NUMBER = "INVALID_ID_NUMBER", (422,), "身份证号不正确: …（GB 11643 校验位）", ENROLLMENT
    INVALID_PERIOD = "INVALID_PERIOD", (422,), "身份结束日期早于开始日期", ENROLLMENT
    INVALID_YEAR = "INVALID_YEAR", (422,), "原制度参保记录不能是未来年度", ENROLLMENT
    IN_OTHER_HOUSEHOLD = "IN_OTHER_HOUSEHOLD", (409,), "已登记在户 …", ENROLLMENT
    IN_OTHER_SCHOOL = "IN_OTHER_SCHOOL", (409,), "… 年度已在学校 … 登记", ENROLLMENT
    NAME_MISMATCH = "NAME_MISMATCH", (422,), "姓名与已登记的 … 不一致", ENROLLMENT
    NOTHING_TO_TERMINATE = "NOTHING_TO_TERMINATE", (422,), "该人员在 … 及以后没有可终止的参保登记", ENROLLMENT
    NOT_PENDING = "NOT_PENDING", (409,), "该参保登记状态为 …，不能再缴费", ENROLLMENT
    NO_STANDARD = "NO_STANDARD", (422,), "统筹区 … 未设置 … 年度…缴费标准…", ENROLLMENT
    OUTSIDE_COLLECTION_PERIOD = "OUTSIDE_COLLECTION_PERIOD", (422,), "… 年度已结束，不能参保", ENROLLMENT
    OVERPAYMENT = "OVERPAYMENT", (422,), "缴费金额 … 元超过尚欠金额 … 元", ENROLLMENT
    PERSON_EXISTS = "PERSON_EXISTS", (409,), "该身份证号已登记", ENROLLMENT
    VOUCHER_NOT_FOUND = "VOUCHER_NOT_FOUND", (404,), "医保电子凭证不存在：不是本平台签发的凭证", ENROLLMENT
    VOUCHER_REVOKED = "VOUCHER_REVOKED", (409,), "医保电子凭证已撤销", ENROLLMENT
    PERSON_NOT_FOUND = "PERSON_NOT_FOUND", (404,), "人员不存在: …", ("enrollment", "settlement")
    RECEIPT_EXISTS = "RECEIPT_EXISTS", (409,), "收据号 … 已用于该参保登记", ENROLLMENT
    REGION_EXISTS = "REGION_EXISTS", (409,), "统筹区已存在: …", ENROLLMENT
    REGION_NOT_FOUND = "REGION_NOT_FOUND", (404,), "统筹区 … 未配置参保规则", ENROLLMENT
    SCHOOL_EXISTS = "SCHOOL_EXISTS", (409,), "学校代码已存在: …", ENROLLMENT
    SCHOOL_NOT_FOUND = "SCHOOL_NOT_FOUND", (404,), "学校不存在: …", ENROLLMENT
    STANDARD_EXISTS = "STANDARD_EXISTS", (409,), "… 年度 … 档次 … 的缴费标准已存在", ENROLLMENT
    TARGET_NOT_FOUND = "TARGET_NOT_FOUND", (404,), "统筹区 … 未录入 … 年度应参保人数", ENROLLMENT
    UNDERPAYMENT = "UNDERPAYMENT", (422,), "缴费金额 … 元与应缴金额 … 元不符", ENROLLMENT

    # --- settlement
    ADMVS_MISMATCH = "ADMVS_MISMATCH", (422,), "就医地区划 … 与机构所在区划 … 不符", SETTLEMENT
    ALREADY_REVERSED = "ALREADY_REVERSED", (409,), "该结算已于 … 撤销，不能重复撤销", SETTLEMENT
    BAD_FILE = "BAD_FILE", (422,), "目录文件缺少列: …", SETTLEMENT
    BAD_PERIOD = "BAD_PERIOD", (422,), "对账期间最长 … 天", ("settlement", "fund-ledger")
    BAD_RULE_PARAMS = "BAD_RULE_PARAMS", (422,), "规则参数不正确: …", SETTLEMENT
    BAD_TRAIL_QUERY = "BAD_TRAIL_QUERY", (422,), "须且仅须给出 msgid、setl_id、psn_no 之一", SETTLEMENT
    CATALOGUE_ITEM_EXISTS = "CATALOGUE_ITEM_EXISTS", (409,), "目录编码已存在: …", SETTLEMENT
    CATALOGUE_ITEM_NOT_FOUND = "CATALOGUE_ITEM_NOT_FOUND", (404,), "目录编码不存在或不在有效期: …", SETTLEMENT
    CATALOGUE_VER_UNKNOWN = (
        "CATALOGUE_VER_UNKNOWN",
        (422,),
        "目录版本号 … 不存在：最新版本为 …",
        SETTLEMENT,
    )
    CATALOGUE_VERSION_EXISTS = (
        "CATALOGUE_VERSION_EXISTS",
        (409,),
        "目录编码 … 自 … 起的版本已存在且内容不同",
        SETTLEMENT,
    )
    CATALOGUE_VERSION_ORDER = (
        "CATALOGUE_VERSION_ORDER",
        (409,),
        "目录编码 … 的新版本须晚于现行版本的生效日 …",
        SETTLEMENT,
    )
    CERT_MISMATCH = "CERT_MISMATCH", (422,), "就诊凭证号与人员身份证号不符", SETTLEMENT
    CHRONIC_NOT_DESIGNATED = (
        "CHRONIC_NOT_DESIGNATED",
        (422,),
        "机构 … 不是该门慢门特患者在 … 有效的定点机构（门诊特定疾病实行定点就医，须先办理人员定点备案）",
        SETTLEMENT,
    )
    CHRONIC_NOT_FILED = (
        "CHRONIC_NOT_FILED",
        (422,),
        "人员在 … 没有病种 … 的有效门慢门特备案，不能享受门诊慢特病待遇（须经认定备案）",
        SETTLEMENT,
    )
    CLAIM_ALREADY_DECIDED = "CLAIM_ALREADY_DECIDED", (409,), "零星报销申请 … 已…", SETTLEMENT
    CLAIM_NOT_APPROVED = "CLAIM_NOT_APPROVED", (409,), "零星报销申请 … 状态为…，不能支付", SETTLEMENT
    CLAIM_NOT_FOUND = "CLAIM_NOT_FOUND", (404,), "零星报销申请不存在: …", SETTLEMENT
    ENCOUNTER_NOT_FOUND = "ENCOUNTER_NOT_FOUND", (404,), "就诊记录不存在: …", SETTLEMENT
    ENCOUNTER_STATE = "ENCOUNTER_STATE", (409,), "就诊记录状态为…，不能进行此操作", SETTLEMENT
    FEE_LINE_EXISTS = "FEE_LINE_EXISTS", (409,), "费用明细流水号已上传", SETTLEMENT
    FEE_LINE_SETTLED = "FEE_LINE_SETTLED", (409,), "费用明细不存在或已结算: …", SETTLEMENT
    FILTER_NOT_SUPPORTED = "FILTER_NOT_SUPPORTED", (422,), "… 目录不支持按条件查询", SETTLEMENT
    FOUR_EYES = (
        "FOUR_EYES",
        (403,),
        "审批人（或支付经办人）不能与录入人相同（双人复核）: … 录入了零星报销申请 …",
        SETTLEMENT,
    )
    EXCLUDED_THIRD_PARTY = (
        "EXCLUDED_THIRD_PARTY",
        (422,),
        "意外伤害备案 … 申报有第三方责任：应当由第三人负担的医疗费用，基本医疗保险基金不予支付",
        SETTLEMENT,
    )
    EXCLUDED_WORK_INJURY = (
        "EXCLUDED_WORK_INJURY",
        (422,),
        "意外伤害备案 … 申报为工伤：应当从工伤保险基金中支付的医疗费用，基本医疗保险基金不予支付",
        SETTLEMENT,
    )
    FILING_BACKDATED = "FILING_BACKDATED", (422,), "撤销日期 … 早于今天：备案不能追溯撤销", SETTLEMENT
    FEEDBACK_REASON = "FEEDBACK_REASON", (422,), "违规 … 选择继续执行医嘱时须填写处理原因", SETTLEMENT
    FILING_DATES = "FILING_DATES", (422,), "备案结束日期 … 早于开始日期 …", SETTLEMENT
    FILING_DISEASE = "FILING_DISEASE", (422,), "病种 … 不是参保地政策的门慢门特病种", SETTLEMENT
    FILING_FACILITY = "FILING_FACILITY", (422,), "定点医药机构 … 不存在或协议未生效", SETTLEMENT
    FILING_NOT_CHRONIC = (
        "FILING_NOT_CHRONIC",
        (422,),
        "人员 … 在 … 没有有效的门慢门特病种备案，不能办理定点备案",
        SETTLEMENT,
    )
    FILING_NOT_FOUND = "FILING_NOT_FOUND", (404,), "备案 … 不存在", SETTLEMENT
    FILING_PSN_MISMATCH = "FILING_PSN_MISMATCH", (422,), "备案 … 不属于人员 …", SETTLEMENT
    FILING_REVOKED = "FILING_REVOKED", (409,), "备案 … 已撤销", SETTLEMENT
    FULL_SELF_ADVANCE = (
        "FULL_SELF_ADVANCE",
        (403,),
        "该参保人自 … 起实行全额垫付(…)，原因: …。本次医保基金不予直接结算，请按全额自费收费；"
        "参保人可持票据到医保经办机构申请零星报销",
        SETTLEMENT,
    )
    FEE_BEFORE_ADMISSION = (
        "FEE_BEFORE_ADMISSION",
        (422,),
        "费用明细 … 发生于 …，早于入院/就诊日期 …（政策允许入院前 … 日内的检查费用）",
        SETTLEMENT,
    )
    FEE_NOT_COVERED = (
        "FEE_NOT_COVERED",
        (422,),
        "费用发生日期 … 不在参保待遇享受期内，不能结算：…",
        SETTLEMENT,
    )
    INJURY_NOT_FILED = (
        "INJURY_NOT_FILED",
        (422,),
        "人员在 … 没有有效的意外伤害备案（须声明无第三方责任），外伤住院不能结算",
        SETTLEMENT,
    )
    FUTURE_TIME = "FUTURE_TIME", (422,), "就诊时间晚于当前时间", SETTLEMENT
    HAS_SETTLEMENTS = "HAS_SETTLEMENTS", (409,), "该就诊已有结算，须先撤销结算", SETTLEMENT
    HIT_ALREADY_REVIEWED = "HIT_ALREADY_REVIEWED", (409,), "疑点 … 已由 … 审核为 …", SETTLEMENT
    HIT_NOT_FOUND = "HIT_NOT_FOUND", (404,), "疑点不存在: …", SETTLEMENT
    HIT_SUBJECT_MISMATCH = "HIT_SUBJECT_MISMATCH", (422,), "处理决定的对象与疑点对象不符", SETTLEMENT
    MAPPING_DATES = "MAPPING_DATES", (422,), "结束日期早于开始日期", SETTLEMENT
    MAPPING_EXISTS = (
        "MAPPING_EXISTS",
        (409,),
        "院内编码 … 自 … 起已有对照，请先撤销【3302】",
        SETTLEMENT,
    )
    MAPPING_NOT_FOUND = (
        "MAPPING_NOT_FOUND",
        (404,),
        "院内编码 … 没有对照到 … 的在用目录对照",
        SETTLEMENT,
    )
    MAPPING_TARGET_UNKNOWN = (
        "MAPPING_TARGET_UNKNOWN",
        (422,),
        "医疗目录编码 … 在 … 不在医保目录中，不能对照",
        SETTLEMENT,
    )
    UNMAPPED_ITEM = (
        "UNMAPPED_ITEM",
        (422,),
        "第 … 行（费用明细 …）院内编码 … 在 … 没有在用的目录对照，请先上传目录对照【3301】或填写医疗目录编码",
        SETTLEMENT,
    )
    PAGE_OUT_OF_RANGE = (
        "PAGE_OUT_OF_RANGE",
        (422,),
        "页码 … 超出范围：共 … 页（每页 … 条，共 … 条）",
        SETTLEMENT,
    )
    DISE_CODE_UNKNOWN = (
        "DISE_CODE_UNKNOWN",
        (422,),
        "（diseinfo 第 … 行）诊断编码 … 不在 … 有效的疾病与诊断目录中（请按【1307】下载的编码填写）",
        SETTLEMENT,
    )
    OPRN_CODE_UNKNOWN = (
        "OPRN_CODE_UNKNOWN",
        (422,),
        "手术操作编码 … 不在 … 有效的手术操作目录中（请按【1308】下载的编码填写）",
        SETTLEMENT,
    )
    IMPORT_REFUSED = "IMPORT_REFUSED", (422,), "目录文件有 … 行错误，未导入任何条目", SETTLEMENT
    INSTITUTION_EXISTS = "INSTITUTION_EXISTS", (409,), "定点医药机构已存在: …", SETTLEMENT
    INSTITUTION_NOT_ACTIVE = (
        "INSTITUTION_NOT_ACTIVE",
        (403,),
        "定点医药机构协议状态为 …，不能结算",
        SETTLEMENT,
    )
    INSTITUTION_NOT_FOUND = "INSTITUTION_NOT_FOUND", (404,), "定点医药机构不存在: …", SETTLEMENT
    INSTITUTION_SUSPENDED = (
        "INSTITUTION_SUSPENDED",
        (403,),
        "定点医药机构自 … 起暂停医保结算(…)，原因: …",
        SETTLEMENT,
    )
    INV_BATCH_DRUG = "INV_BATCH_DRUG", (409,), "批次 … 是药品 …，不是 …", SETTLEMENT
    INV_BATCH_NOT_FOUND = "INV_BATCH_NOT_FOUND", (404,), "批次 … 不存在", SETTLEMENT
    INV_CHANGE_TYPE = "INV_CHANGE_TYPE", (422,), "库存变更须填写库存变更类型 inv_chg_type", SETTLEMENT
    INV_STOCK_SHORT = "INV_STOCK_SHORT", (409,), "批次 … 库存 …，不足 …", SETTLEMENT
    INV_TRACE_CODE = "INV_TRACE_CODE", (409, 422), "追溯码 … 状态为…，不能办理此业务", SETTLEMENT
    INVALID_TIME = "INVALID_TIME", (422,), "出院时间早于入院时间", SETTLEMENT
    INVOICE_ALREADY_CLAIMED = "INVOICE_ALREADY_CLAIMED", (409,), "票据号 … 已申请过零星报销", SETTLEMENT
    IPT_OTP_NO_USED = "IPT_OTP_NO_USED", (409,), "院内就诊流水号 … 已存在", SETTLEMENT
    LINE_AMOUNT_MISMATCH = "LINE_AMOUNT_MISMATCH", (422,), "票据明细 … 金额 … 与数量×单价 不符", SETTLEMENT
    MED_TYPE_MISMATCH = "MED_TYPE_MISMATCH", (422,), "医疗类别 … 不是住院类别", SETTLEMENT
    MSGID_REUSED = "MSGID_REUSED", (409,), "报文ID … 已用于另一笔交易", SETTLEMENT
    MSGID_VOIDED = "MSGID_VOIDED", (409,), "报文ID … 已被冲正(2601)作废，不能再结算", SETTLEMENT
    NOT_A_HOSPITAL = "NOT_A_HOSPITAL", (422,), "门诊和住院结算只适用于定点医疗机构", SETTLEMENT
    NOT_A_PHARMACY = "NOT_A_PHARMACY", (422,), "药店结算只适用于定点零售药店", SETTLEMENT
    NOT_A_SETTLEMENT = "NOT_A_SETTLEMENT", (409,), "报文ID … 不是一笔结算交易，不能冲正", SETTLEMENT
    NOT_COVERED = "NOT_COVERED", (404, 422), "无该人员的参保信息: …", SETTLEMENT
    E_IDENTITY_PENDING = (
        "E_IDENTITY_PENDING",
        (409,),
        "人员 … 的身份信息尚未同步到结算服务，请稍后重试",
        SETTLEMENT,
    )
    NOT_DISCHARGED = (
        "NOT_DISCHARGED",
        (409,),
        "住院结算须先办理出院(2402)，或按中途结算(mid_setl_flag=1)",
        SETTLEMENT,
    )
    NOT_ELIGIBLE = "NOT_ELIGIBLE", (422,), "不符合待遇享受条件: …", SETTLEMENT
    PEER_OUTCOME_UNKNOWN = (
        "PEER_OUTCOME_UNKNOWN",
        (503,),
        "参保地平台 … 未应答，跨平台交易结果未知（网关答 E_OUTCOME_UNKNOWN：用原报文ID重发或2601冲正）",
        SETTLEMENT,
    )
    PEER_REFUSED = "PEER_REFUSED", (422,), "参保地平台 …: 拒绝（参保地平台未给出错误编码时）", SETTLEMENT
    NO_PEER_FOR_REGION = (
        "NO_PEER_FOR_REGION",
        (404,),
        "参保地区划 … 不属于任何对端平台（网关随即在本平台查询该人员）",
        SETTLEMENT,
    )
    RESERVATION_NOT_FOUND = "RESERVATION_NOT_FOUND", (404,), "跨平台预留 … 不存在", SETTLEMENT
    PEER_NOT_FOUND = "PEER_NOT_FOUND", (404,), "对端平台 … 未配置", SETTLEMENT
    RESERVATION_EXPIRED = "RESERVATION_EXPIRED", (409,), "跨平台预留 … 已超时释放，不能确认", SETTLEMENT
    RESERVATION_RELEASED = "RESERVATION_RELEASED", (409,), "跨平台预留 … 已释放，不能确认", SETTLEMENT
    RESERVATION_VOIDED = "RESERVATION_VOIDED", (409,), "报文ID … 已冲正，不能预留", SETTLEMENT
    RESERVATION_CONFIRMED = (
        "RESERVATION_CONFIRMED",
        (409,),
        "跨平台预留 … 已确认，不能冲正：请撤销结算",
        SETTLEMENT,
    )
    TOO_MANY_LINES = "TOO_MANY_LINES", (422,), "跨省异地就医一次结算最多 … 条费用明细", SETTLEMENT
    PLATFORM_MISMATCH = (
        "PLATFORM_MISMATCH",
        (403,),
        "访问令牌属于 …，不能代表平台 … 调用",
        SETTLEMENT,
    )
    NOT_INPATIENT = "NOT_INPATIENT", (422,), "门诊就诊无需办理出院", SETTLEMENT
    NOT_ON_SELF_ADVANCE = (
        "NOT_ON_SELF_ADVANCE",
        (422,),
        "该参保人就诊日不在全额垫付期内，不能按全额垫付报销",
        SETTLEMENT,
    )
    NOT_YOUR_MESSAGE = "NOT_YOUR_MESSAGE", (403,), "只能冲正本机构发送的报文", SETTLEMENT
    NO_CHRG_BCHNO = "NO_CHRG_BCHNO", (422,), "门诊结算须指定收费批次号 chrg_bchno", SETTLEMENT
    NO_DISEASE = "NO_DISEASE", (422,), "门诊慢特病结算须有病种编码(2203 上传)", SETTLEMENT
    NO_FEE_LINES = "NO_FEE_LINES", (422,), "没有待结算的费用明细", SETTLEMENT
    NO_MATN_TYPE = (
        "NO_MATN_TYPE",
        (422,),
        "生育住院结算须有分娩方式 matn_type (1 顺产 / 2 剖宫产)",
        SETTLEMENT,
    )
    NO_POLICY = "NO_POLICY", (422,), "参保地 … 险种 … 在 … 无有效的待遇政策", SETTLEMENT
    POLICY_OVERLAP = "POLICY_OVERLAP", (409,), "与已有政策 …（…）的有效期重叠", SETTLEMENT
    REFERRAL_NOT_FILED = (
        "REFERRAL_NOT_FILED",
        (422,),
        "人员在 … 没有转往就医地 … 或机构 … 的有效转院备案，转外诊治住院不能结算",
        SETTLEMENT,
    )
    RULE_NOT_FOUND = "RULE_NOT_FOUND", (404,), "监管规则不存在: …", SETTLEMENT
    SANCTION_NOT_FOUND = "SANCTION_NOT_FOUND", (404,), "处理决定不存在: …", SETTLEMENT
    SETL_LIST_AMOUNTS = "SETL_LIST_AMOUNTS", (422,), "结算清单金额与结算不符: …", SETTLEMENT
    SETL_LIST_CODE = (
        "SETL_LIST_CODE",
        (422,),
        "结算清单编码不在出院日 … 有效的疾病与诊断(1307)或手术操作(1308)目录中: diseinfo 第 … 行诊断编码 …",
        SETTLEMENT,
    )
    SETL_LIST_DIAGNOSIS = (
        "SETL_LIST_DIAGNOSIS",
        (422,),
        "结算清单须有且仅有一个主诊断（现有 … 个）",
        SETTLEMENT,
    )
    SETL_LIST_EXISTS = "SETL_LIST_EXISTS", (409,), "结算 … 的结算清单已上传 (清单流水号 …)", SETTLEMENT
    SETL_LIST_NOT_FOUND = "SETL_LIST_NOT_FOUND", (404,), "结算 … 没有本机构上传的结算清单", SETTLEMENT
    SETL_LIST_NOT_INPATIENT = (
        "SETL_LIST_NOT_INPATIENT",
        (422,),
        "结算 … 不是住院结算，不需上传结算清单",
        SETTLEMENT,
    )
    SETL_LIST_REVERSED = "SETL_LIST_REVERSED", (409,), "结算 … 已撤销，不能上传结算清单", SETTLEMENT
    SETTLEMENT_NOT_FOUND = "SETTLEMENT_NOT_FOUND", (404,), "结算记录不存在: …", SETTLEMENT
    TRACE_CODE_NOT_HELD = "TRACE_CODE_NOT_HELD", (422,), "追溯码不在本机构库存中: …", SETTLEMENT
    TRACE_CODE_REQUIRED = (
        "TRACE_CODE_REQUIRED",
        (422,),
        "须上传药品追溯码 drug_trac_codg: 第 … 行（费用明细 …）药品 …",
        SETTLEMENT,
    )
    SWITCHOVER_EXISTS = "SWITCHOVER_EXISTS", (409,), "统筹区 … 已定于 … 并轨，不能改为 …", SETTLEMENT
    SWITCHOVER_NOT_YEAR_START = (
        "SWITCHOVER_NOT_YEAR_START",
        (422,),
        "并轨日期必须为年度首日（1月1日），以免同一年度内混用两种待遇政策: …",
        SETTLEMENT,
    )
    TOTAL_MISMATCH = "TOTAL_MISMATCH", (422,), "票据总额 … 与明细合计 … 不符", SETTLEMENT

    # --- fund ledger
    BAD_AMOUNT = "BAD_AMOUNT", (422,), "到账金额必须大于零", LEDGER
    BATCH_ID_REUSED = "BATCH_ID_REUSED", (409,), "清算批次号已用于另一清算: …", LEDGER
    CLEARING_APPLICATION_NOT_FOUND = (
        "CLEARING_APPLICATION_NOT_FOUND",
        (404,),
        "清算申请不存在: …",
        LEDGER,
    )
    CLEARING_APPLIED = "CLEARING_APPLIED", (409,), "该期间已有清算申请 …，不能重复申请", LEDGER
    CLEARING_NOT_REVOCABLE = (
        "CLEARING_NOT_REVOCABLE",
        (409,),
        "清算申请 … 已清算（或已撤销），不能撤销",
        LEDGER,
    )
    BATCH_NOT_FOUND = "BATCH_NOT_FOUND", (404,), "清算批次不存在: …", LEDGER
    CITY_IS_A_COUNTY = "CITY_IS_A_COUNTY", (422,), "… 本身已并入市级统筹，不能作为市级统筹区", LEDGER
    ENTRY_NOT_FOUND = "ENTRY_NOT_FOUND", (404,), "记账凭证不存在: …", LEDGER
    INSUFFICIENT_FUNDS = (
        "INSUFFICIENT_FUNDS",
        (409,),
        "银行存款科目不得透支: … (…/…/…) 余额 … 分, 本次支出 … 分",
        LEDGER,
    )
    MERGER_ID_REUSED = "MERGER_ID_REUSED", (409,), "并轨批次号已用于另一次并轨: …", LEDGER
    MORE_THAN_RECEIVABLE = (
        "MORE_THAN_RECEIVABLE",
        (422,),
        "到账金额 … 分超过应收 … 级财政补助余额 … 分",
        LEDGER,
    )
    NOTHING_TO_MERGE = "NOTHING_TO_MERGE", (422,), "统筹区 … 险种 … 分账已无余额，无需并轨", LEDGER
    NOTHING_TO_OPEN = "NOTHING_TO_OPEN", (422,), "期初余额全部为零，无需登记", LEDGER
    NOT_A_LEGACY_SCHEME = (
        "NOT_A_LEGACY_SCHEME",
        (422,),
        "只能将原城镇居民医保(391)或新农合(380)基金并入 390: …",
        LEDGER,
    )
    NOT_CITY_POOLED = "NOT_CITY_POOLED", (404,), "… 未实行市级统筹", LEDGER
    OPENING_EXISTS = (
        "OPENING_EXISTS",
        (409,),
        "统筹区 … 险种 … 已登记期初余额 (记账凭证 …); 更正请做更正分录",
        LEDGER,
    )
    OPENING_IN_FUTURE = "OPENING_IN_FUTURE", (422,), "期初日期不能晚于今天: …", LEDGER
    PERIOD_ALREADY_CLEARED = (
        "PERIOD_ALREADY_CLEARED",
        (409,),
        "该机构此期间已清算 (批次 …), 清算期间不得重叠",
        LEDGER,
    )
    PLAN_ID_REUSED = "PLAN_ID_REUSED", (409,), "用款计划号已用于另一笔拨付: …", LEDGER
    POOLING_EXISTS = "POOLING_EXISTS", (409,), "… 已于 … 并入 … 市级统筹", LEDGER
    RECEIPT_ID_REUSED = "RECEIPT_ID_REUSED", (409,), "到账凭证 … 已登记为另一笔到账 (记账凭证 …)", LEDGER
    RECEIPT_IN_FUTURE = "RECEIPT_IN_FUTURE", (422,), "到账日期不能晚于今天: …", LEDGER
    SAME_REGION = "SAME_REGION", (422,), "县级统筹区与市级统筹区不能相同", LEDGER
    SETTLEMENT_UNAVAILABLE = (
        "SETTLEMENT_UNAVAILABLE",
        (502,),
        "结算服务不可用或应答格式错误，对账未完成",
        LEDGER,
    )
    SUB_LEDGER_VIOLATION = (
        "SUB_LEDGER_VIOLATION",
        (422,),
        "记账凭证跨险种分账 (…): 各险种基金分账核算, 不得调剂使用",
        LEDGER,
    )
    SWEEP_IN_FUTURE = "SWEEP_IN_FUTURE", (422,), "归集日期不能晚于今天: …", LEDGER
    UNBALANCED_ENTRY = "UNBALANCED_ENTRY", (422,), "记账凭证借贷不平衡或科目不存在: …", LEDGER
    UNKNOWN_SCHEME = "UNKNOWN_SCHEME", (422,), "未知险种分账: …", LEDGER
    UNKNOWN_SUBSIDY_LEVEL = "UNKNOWN_SUBSIDY_LEVEL", (422,), "未知财政补助级次: …", LEDGER


def status_text(code: ErrorCode) -> str:
    """The status column of the README's table."""
    if not code.statuses:
        return "the framework's"
    return " / ".join("200 (infcode -1)" if s == ENVELOPE_STATUS else str(s) for s in code.statuses)


def raised_by_text(code: ErrorCode) -> str:
    return ", ".join("every service" if who == "shared" else who for who in code.raised_by)


def markdown_table() -> str:
    """The README's error-code table, one row per code in declaration order."""
    rows = ["| code | HTTP | err_msg (Chinese text the caller reads) | raised by |", "|---|---|---|---|"]
    for code in ErrorCode:
        text = code.err_msg.replace("|", "\\|")
        rows.append(f"| `{code.value}` | {status_text(code)} | {text} | {raised_by_text(code)} |")
    return "\n".join(rows) + "\n"


TABLE_BEGIN = "<!-- error-codes: begin (python -m platformctl error-codes --readme README.md) -->"
TABLE_END = "<!-- error-codes: end -->"


def replace_table(readme: str) -> str:
    """``readme`` with the text between the table markers replaced by ``markdown_table()``."""
    head, found, rest = readme.partition(TABLE_BEGIN)
    _, found_end, tail = rest.partition(TABLE_END)
    if not (found and found_end):
        raise ValueError("the README has no error-code table markers")
    return f"{head}{TABLE_BEGIN}\n{markdown_table()}{TABLE_END}{tail}"


def table_in(readme: str) -> str:
    """The table the README holds between the markers ('' if none)."""
    _, _, rest = readme.partition(TABLE_BEGIN)
    return rest.partition(TABLE_END)[0].removeprefix("\n")

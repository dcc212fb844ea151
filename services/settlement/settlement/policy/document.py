"""A benefit policy as data: every parameter the engine uses, validated on upload with messages an
administrator can act on. Amounts are integer fen, ratios exact decimals in [0, 1]."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Ratio = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)]
Fen = Annotated[int, Field(ge=0, le=100_000_000_00)]
LEVELS = ("1", "2", "3")


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Doc):
    """A ratio applying to the part of an amount up to ``upto_fen`` (None: everything above)."""

    upto_fen: Fen | None
    ratio: Ratio


def _check_bands(bands: list[Band], what: str) -> list[Band]:
    if not bands:
        raise ValueError(f"{what}: 至少需要一个分段")
    limits = [b.upto_fen for b in bands]
    if limits[-1] is not None:
        raise ValueError(f"{what}: 最后一个分段的上限必须为空（不封顶）")
    finite = [x for x in limits[:-1] if x is not None]
    if len(finite) != len(limits) - 1 or finite != sorted(set(finite)) or (finite and finite[0] <= 0):
        raise ValueError(f"{what}: 分段上限必须为正且严格递增")
    return bands


class OutpatientPooling(_Doc):
    """门诊统筹 (pharmacy purchases included): yearly deductible, ratio, yearly cap."""

    deductible_fen: Fen
    ratio: Ratio
    annual_cap_fen: Fen


class Inpatient(_Doc):
    """住院: deductible per admission by hospital level, lower for later admissions in the year; pooled
    fund ratio by level, optionally in bands of the amount above the deductible."""

    deductible_by_level: dict[str, Fen]
    #: Multiplier of the deductible for the 1st, 2nd, ... admission of the year; the last repeats.
    admission_deductible_factors: list[Ratio] = Field(default_factory=lambda: [Decimal(1)], min_length=1)
    ratio_by_level: dict[str, Ratio]
    bands_by_level: dict[str, list[Band]] = Field(default_factory=dict)
    #: Fee lines dated up to this many days before admission are the stay's (入院前检查); 0: none.
    pre_admission_days: int = Field(default=0, ge=0, le=30)

    @field_validator("deductible_by_level", "ratio_by_level")
    @classmethod
    def _all_levels(cls, value: dict[str, object]) -> dict[str, object]:
        missing = [lv for lv in LEVELS if lv not in value]
        extra = [lv for lv in value if lv not in LEVELS]
        if missing or extra:
            raise ValueError(f"医院等级必须且只能为 1/2/3（缺少 {missing}，多余 {extra}）")
        return value

    @field_validator("bands_by_level")
    @classmethod
    def _bands(cls, value: dict[str, list[Band]]) -> dict[str, list[Band]]:
        for level, bands in value.items():
            if level not in LEVELS:
                raise ValueError(f"未知的医院等级 {level}")
            _check_bands(bands, f"{level}级医院分段比例")
        return value


class ChronicOutpatient(_Doc):
    """门诊慢性病 (Jinzhai): yearly cost up to the threshold earns a fixed sum (never more than the cost);
    the part above the threshold is paid at a ratio; all within a yearly cap."""

    diseases: list[str] = Field(min_length=1)
    #: The diseases' names (门慢门特病种名称) as the 1309 list shows them, by code; a code without one is
    #: listed without a name.
    names: dict[str, str] = Field(default_factory=dict)
    threshold_fen: Fen
    fixed_fen: Fen
    ratio_above: Ratio
    annual_cap_fen: Fen

    @model_validator(mode="after")
    def _fixed_within_threshold(self) -> ChronicOutpatient:
        if self.fixed_fen > self.threshold_fen:
            raise ValueError("慢性病定额补助不能高于门槛金额")
        unknown = sorted(set(self.names) - set(self.diseases))
        if unknown:
            raise ValueError(f"病种名称所列编码不在病种范围内: {', '.join(unknown)}")
        return self


class Maternity(_Doc):
    """住院分娩定额补助 by delivery type."""

    normal_fen: Fen
    caesarean_fen: Fen


#: Kinds of care whose policy-range personal burden may count toward catastrophic insurance.
CatastrophicKind = Literal["inpatient", "maternity", "chronic"]
_ALL_MAJOR_KINDS: tuple[CatastrophicKind, ...] = ("inpatient", "maternity", "chronic")


class Catastrophic(_Doc):
    """大病保险 (390200): on the yearly policy-range personal burden above the threshold, in bands, of the
    kinds of care the policy names (``kinds``). Yutian (000) speaks of 住院 costs only: 政策范围内大病保险
    住院医疗费用支付比例保持在50%以上; a document stored before ``kinds`` existed keeps the three kinds it
    was computed on then."""

    threshold_fen: Fen
    bands: list[Band]
    annual_cap_fen: Fen
    kinds: list[CatastrophicKind] = Field(default_factory=lambda: list(_ALL_MAJOR_KINDS), min_length=1)

    _bands = field_validator("bands")(lambda v: _check_bands(v, "大病保险分段比例"))


class Assistance(_Doc):
    """医疗救助 (610100) for one identity category: on what remains of the policy-range personal burden."""

    deductible_fen: Fen
    ratio: Ratio
    annual_cap_fen: Fen


class FilingRules(_Doc):
    """What filings (备案) the policy requires before the pooled fund pays, and the ratio filed out-of-area
    care gets (docs/domain.md, "Filings")."""

    #: 门慢门特 care only for a registered patient (Jinzhai 002: 中心认定、乡镇公示、专家复查; Tianjin
    #: art. 20: 经门诊特定疾病鉴定机构鉴定).
    chronic_requires_registration: bool = True
    #: ... and only at the facility filed for the patient (Tianjin art. 20: 门诊特定疾病实行定点就医).
    chronic_requires_designated_facility: bool = False
    #: med_type 22 (外伤住院) only with an injury filing declaring no liable third party (Jinzhai 002:
    #: 无第三责任人的人身意外伤害治疗费用纳入住院费补偿范围).
    injury_requires_filing: bool = True
    #: med_type 23 (转外诊治住院) only with a referral filing for the region or institution.
    referral_requires_filing: bool = True
    #: Percentage points the pooled-fund ratio drops for filed out-of-area or referral care (0: the local
    #: ratio; Jinzhai 002: 电话备案并给予定点待遇).
    filed_out_of_area_reduction: Ratio = Decimal(0)
    #: The drop by the kind of the out-of-area filing (异地就医备案类别, docs/domain.md "Filings"); None: the
    #: ``filed_out_of_area_reduction`` above, so a policy that names none keeps one filed ratio.
    #: Resident elsewhere (01-03 异地安置退休 / 异地长期居住 / 常驻异地工作), referred (04 异地转诊),
    #: temporary (05 异地急诊抢救, 06 其他临时外出就医).
    resident_out_of_area_reduction: Ratio | None = None
    referred_out_of_area_reduction: Ratio | None = None
    temporary_out_of_area_reduction: Ratio | None = None

    def filed_reduction(self, policy_kind: str | None) -> Decimal:
        """The points filed care of this policy kind (``resident``, ``referred``, ``temporary``) loses."""
        by_kind = {
            "resident": self.resident_out_of_area_reduction,
            "referred": self.referred_out_of_area_reduction,
            "temporary": self.temporary_out_of_area_reduction,
        }.get(policy_kind or "")
        return self.filed_out_of_area_reduction if by_kind is None else by_kind


class PolicyDocument(_Doc):
    outpatient: OutpatientPooling
    inpatient: Inpatient
    #: Yearly ceiling of the pooled fund (最高支付限额) over inpatient, chronic and maternity payments.
    pooled_annual_ceiling_fen: Fen
    chronic: ChronicOutpatient | None = None
    maternity: Maternity | None = None
    catastrophic: Catastrophic | None = None
    assistance: dict[str, Assistance] = Field(default_factory=dict)
    #: Percentage points the pooled-fund ratio drops for out-of-area care without a filing (未备案异地就医).
    unfiled_out_of_area_reduction: Ratio = Decimal(0)
    #: What filings the policy requires (None: a document stored before filings existed, computed then
    #: without them; it keeps that).
    filings: FilingRules | None = None

    @model_validator(mode="after")
    def _filed_not_worse(self) -> PolicyDocument:
        filed = self.filings.filed_out_of_area_reduction if self.filings is not None else Decimal(0)
        if filed > self.unfiled_out_of_area_reduction:
            raise ValueError("已备案异地就医的比例降幅不能大于未备案的降幅")
        return self

    @field_validator("assistance")
    @classmethod
    def _identity_codes(cls, value: dict[str, Assistance]) -> dict[str, Assistance]:
        for code in value:
            if not code.isdigit() or len(code) != 4:
                raise ValueError(f"人员身份类别编码应为4位数字: {code}")
        return value


def jinzhai_yutian_demo() -> PolicyDocument:
    """A demo policy from the numbers in docs/domain.md, by source document (shared/seeds):
    - Jinzhai (002): inpatient deductible 300 yuan (住院医药费用起付线为300元; level 2), yearly ceiling 18,000
      (每人每年最高补偿额为1.8万元), ratios within 20-60 % by level (level 2 and 3), chronic outpatient 100
      fixed under 500 then 25 % up to 5,000 a year, delivery 200 normal / 300 caesarean;
    - Yutian (000): inpatient about 75 % (住院医疗费用支付比例保持在75%左右; level 1), catastrophic insurance
      at least 50 % on 住院 costs (大病保险住院医疗费用支付比例保持在50%以上: its first band, and only stays
      and deliveries count toward it);
    - illustrative, no source: levels 1/3 deductibles, the half deductible from the second admission, the
      level-3 bands, the catastrophic threshold, second band and cap, outpatient pooling, assistance, the
      out-of-area reduction and the 3 days of pre-admission tests;
    - filings: chronic care for registered patients only (Jinzhai 002: 中心认定、乡镇公示、专家复查), filed
      out-of-area care at the local ratio (Jinzhai 002: 电话备案并给予定点待遇), injury stays only without a
      liable third party (Jinzhai 002: 无第三责任人的人身意外伤害; Tianjin art. 18), referral stays only
      when filed (illustrative); no designated facility for chronic care (Jinzhai names none; Tianjin
      art. 20's 定点就医 is ``chronic_requires_designated_facility``)."""
    return PolicyDocument(
        outpatient=OutpatientPooling(deductible_fen=20_00, ratio=Decimal("0.5"), annual_cap_fen=300_00),
        inpatient=Inpatient(
            deductible_by_level={"1": 200_00, "2": 300_00, "3": 500_00},
            admission_deductible_factors=[Decimal(1), Decimal("0.5")],
            ratio_by_level={"1": Decimal("0.75"), "2": Decimal("0.6"), "3": Decimal("0.5")},
            pre_admission_days=3,  # illustrative: no source document sets it
            bands_by_level={
                "3": [
                    Band(upto_fen=10_000_00, ratio=Decimal("0.4")),
                    Band(upto_fen=None, ratio=Decimal("0.6")),
                ]
            },
        ),
        pooled_annual_ceiling_fen=18_000_00,
        chronic=ChronicOutpatient(
            diseases=["I10", "E11", "J44", "I25", "N18"],
            # The ICD-10 categories' names (疾病分类与代码 GB/T 14396, 医保版 2.0).
            names={
                "I10": "特发性（原发性）高血压",
                "E11": "2型糖尿病",
                "J44": "其他慢性阻塞性肺病",
                "I25": "慢性缺血性心脏病",
                "N18": "慢性肾脏病",
            },
            threshold_fen=500_00,
            fixed_fen=100_00,
            ratio_above=Decimal("0.25"),
            annual_cap_fen=5_000_00,
        ),
        maternity=Maternity(normal_fen=200_00, caesarean_fen=300_00),
        catastrophic=Catastrophic(
            threshold_fen=10_000_00,
            bands=[Band(upto_fen=50_000_00, ratio=Decimal("0.5")), Band(upto_fen=None, ratio=Decimal("0.6"))],
            annual_cap_fen=200_000_00,
            # Yutian: 大病保险住院医疗费用 - stays (delivery included), not chronic outpatient care.
            kinds=["inpatient", "maternity"],
        ),
        assistance={
            "2101": Assistance(deductible_fen=0, ratio=Decimal("0.7"), annual_cap_fen=30_000_00),
            "2102": Assistance(deductible_fen=0, ratio=Decimal("0.7"), annual_cap_fen=30_000_00),
            "2103": Assistance(deductible_fen=500_00, ratio=Decimal("0.5"), annual_cap_fen=10_000_00),
            "2104": Assistance(deductible_fen=500_00, ratio=Decimal("0.5"), annual_cap_fen=10_000_00),
        },
        unfiled_out_of_area_reduction=Decimal("0.1"),
        filings=FilingRules(
            chronic_requires_registration=True,
            chronic_requires_designated_facility=False,
            injury_requires_filing=True,
            referral_requires_filing=True,
            filed_out_of_area_reduction=Decimal(0),
        ),
    )


def jinzhai_legacy_demo(insutype: str) -> PolicyDocument:
    """Demo policies of the two legacy schemes before the merger (docs/domain.md): URBMI (391, Jinzhai urban
    residents: deductible 300 yuan at every level, 20-60 % by level, ceiling 18,000, chronic 100 fixed) and
    NCMS (380, Jinzhai 2006: deductible 200 yuan at a level-2 hospital, chronic 150 fixed). Outpatient
    pooling, level-1/3 figures and NCMS ratios are illustrative."""
    base = jinzhai_yutian_demo()
    if insutype == "391":
        return base.model_copy(
            update={
                "outpatient": OutpatientPooling(
                    deductible_fen=30_00, ratio=Decimal("0.4"), annual_cap_fen=200_00
                ),
                "inpatient": Inpatient(
                    deductible_by_level={"1": 300_00, "2": 300_00, "3": 300_00},
                    ratio_by_level={"1": Decimal("0.6"), "2": Decimal("0.4"), "3": Decimal("0.2")},
                ),
            }
        )
    if insutype == "380":
        assert base.chronic is not None
        return base.model_copy(
            update={
                "outpatient": OutpatientPooling(
                    deductible_fen=0, ratio=Decimal("0.3"), annual_cap_fen=100_00
                ),
                "inpatient": Inpatient(
                    deductible_by_level={"1": 100_00, "2": 200_00, "3": 400_00},
                    ratio_by_level={"1": Decimal("0.7"), "2": Decimal("0.55"), "3": Decimal("0.4")},
                ),
                "chronic": base.chronic.model_copy(update={"fixed_fen": 150_00}),
            }
        )
    raise ValueError(f"no legacy demo policy for insutype {insutype}")

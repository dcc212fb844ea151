"""13xx catalogue downloads (docs/interface.md, "13xx catalogue downloads"): the rows of a national list
changed after the catalogue version (``ver``) the institution holds, from the settlement service's
catalogue. With ``page_num`` the answer is one page inline (``data``); without it, every changed row is
written to a file the institution fetches with 9102 (``file_qury_no``, file name ``plc`` as the national
interface has it). Either way the answer names the newest version (``ver``), which the institution sends
next time.

Field names of the rows as the HIS code of the interface reads them: ``hilist_code`` / ``hilist_name`` for
1312, ``hilist_lmtpric_type`` / ``hilist_pric_uplmt_amt`` for 1318, ``selfpay_prop_psn_type`` /
``selfpay_prop_type`` / ``selfpay_prop`` for 1319, ``med_list_codg`` with ``drug_genname`` (1301),
``tcmherb_name`` (1302), ``servitem_name`` (1305), ``mcs_name`` (1306), and ``dise_codg`` / ``dise_name``
(1307), ``oprn_oprt_code`` / ``oprn_oprt_name`` (1308), ``tcm_dise_code`` / ``tcm_dise_name`` (1314) and
``tcmsymp_code`` / ``tcmsymp`` (1315), the codes the encounter transactions carry, and
``tumr_morp_code`` / ``tumr_morp_name`` (1313, ICD-O-3 形态学); ``opsp_dise_code`` / ``opsp_dise_name``
with ``admdvs`` and ``insutype`` for 1309 (the benefit policies' chronic and special diseases, the
codes 2503 files and a 14xxxx visit names); ``bydise_setl_list_code`` / ``bydise_setl_dise_name`` (1310)
and ``daysrg_dise_list_code`` / ``daysrg_dise_name`` (1311) with ``qua_oprn_oprt_code`` /
``qua_oprn_oprt_name``, as the HIS code of the interface stores them. The lists kept apart from their
class: ``drug_prodname`` (1303 医疗机构制剂), ``drug_genname`` (1304 民族药, 1320 中药配方颗粒),
``servitem_name`` (1321 医疗服务项目（新）). 1316 matches each medical list code to its insurance list code
(``med_list_codg`` / ``hilist_code`` / ``list_type``); 1317 lists the calling institution's own mappings
(``fixmedins_code``, ``medins_list_codg``, ``medins_list_name``, ``med_list_codg``; ``vali_flag`` 0 once
revoked)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from gateway.declaration import Call, Transaction
from gateway.nhsa.encounter import WIRE_TIME_FORMS
from gateway.nhsa.files import fileinfo
from gateway.protocol.errors import Refusal
from shared.clock import format_wire_time, parse_client_time
from shared.contracts.v1.catalogue import CatalogueRow

#: Largest inline page (``page_size``); a whole list goes as a file.
MAX_INLINE_PAGE = 1000
#: Rows asked of the settlement service at a time when writing a file.
FILE_BATCH = 5000
#: The region the lists are kept for (参保机构医保区划 / 统筹区 of the rows).
REGION = "341524"


class CatalogueQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    #: 版本号: the newest version the institution already holds; "0" or empty for the whole list.
    ver: str = Field(default="0", pattern=r"^\d{0,18}$")
    page_num: int | None = Field(default=None, ge=1, le=1_000_000)
    page_size: int = Field(default=MAX_INLINE_PAGE, ge=1, le=MAX_INLINE_PAGE)
    #: 1317 only: the institution whose mappings are asked for; it must be the caller's (empty: the caller).
    fixmedins_code: str = Field(default="", max_length=30)


def _client_time(value: Any) -> datetime | None:
    """A date or time as HIS clients send it (``parse_client_time``); empty or the .NET unset value: not
    sent."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(WIRE_TIME_FORMS)
    if not value.strip():
        return None
    try:
        return parse_client_time(value)
    except ValueError as exc:
        raise ValueError(WIRE_TIME_FORMS) from exc


ClientTime = Annotated[datetime | None, BeforeValidator(_client_time)]
Filter = Annotated[str, Field(max_length=50)]


class MatchQuery(CatalogueQuery):
    """1312 / 1316 / 1317: a download narrowed as a query (every filter empty: the whole list, as
    1301-1315). ``query_date`` (查询时间点) and ``insu_admdvs`` are read and not applied: the rows are this
    platform's one region's, each with its own dates; nor are the marks this platform does not keep
    (``wubi``, ``pinyin``, ``med_use_flag``, ``matn_used_flag``, ``hilist_use_type``, ``lmt_cpnd_type``)."""

    #: 1316 医疗目录编码 / 医保目录编码, one code on this platform; 1317 the national code mapped to; 1312 the
    #: item's code (``hilist_code``).
    med_list_codg: Filter = ""
    hilist_code: Filter = ""
    #: 1317 the institution's own code; 1316 as deployed HIS code names its medical list code.
    medins_list_codg: Filter = ""
    #: 1317: a part of the institution's own name of the item; 1312: a part of the item's name.
    medins_list_name: str = Field(default="", max_length=200)
    hilist_name: str = Field(default="", max_length=200)
    list_type: str = Field(default="", max_length=30)
    #: 1312: 医疗收费项目类别, 收费项目等级, 限制使用标志.
    med_chrgitm_type: str = Field(default="", max_length=6)
    chrgitm_lv: str = Field(default="", max_length=3)
    lmt_used_flag: Literal["", "0", "1"] = ""
    vali_flag: Literal["", "0", "1"] = ""
    #: Rows changed at or after this time.
    updt_time: ClientTime = None
    #: Rows beginning on or after this day.
    begndate: ClientTime = None
    query_date: ClientTime = None
    insu_admdvs: str = Field(default="", max_length=6)

    def narrow(self, infno: str) -> dict[str, str]:
        """The settlement service's filters (``settlement.catalogue.downloads.RowFilter``)."""
        flag = {"1": "true", "0": "false"}
        if infno == "1312":
            found = {
                "code": self.hilist_code,
                "name_contains": self.hilist_name,
                "med_chrgitm_type": self.med_chrgitm_type,
                "chrgitm_lv": self.chrgitm_lv,
                "restricted": flag.get(self.lmt_used_flag, ""),
            }
        elif infno == "1317":
            found = {
                "code": self.med_list_codg,
                "medins_list_codg": self.medins_list_codg,
                "name_contains": self.medins_list_name,
            }
        else:
            codes = {x for x in (self.med_list_codg, self.hilist_code, self.medins_list_codg) if x}
            if len(codes) > 1:
                raise Refusal(
                    "E_INPUT",
                    f"医疗目录编码与医保目录编码不一致（{'、'.join(sorted(codes))}）：本平台两者为同一编码",
                )
            found = {"code": next(iter(codes), "")}
        found["list_type"] = self.list_type
        found["valid"] = flag.get(self.vali_flag, "")
        if self.updt_time is not None:
            found["updated_since"] = self.updt_time.isoformat()
        if self.begndate is not None:
            found["begins_from"] = self.begndate.date().isoformat()
        return {name: value for name, value in found.items() if value}


class CatalogueInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: CatalogueQuery = Field(default_factory=CatalogueQuery)


class MatchInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: MatchQuery = Field(default_factory=MatchQuery)


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: datetime | None) -> str | None:
    return format_wire_time(value) if value is not None else None


def _common(row: CatalogueRow) -> dict[str, Any]:
    return {
        "begndate": _day(row.effective_from),
        "enddate": _day(row.effective_to),
        "vali_flag": "1",
        "rid": row.rid,
        "updt_time": format_wire_time(row.updated_at),
        "ver": str(row.list_ver),
    }


def _item(name_field: str) -> Callable[[CatalogueRow], dict[str, Any]]:
    def wire(row: CatalogueRow) -> dict[str, Any]:
        return {
            "med_list_codg": row.code,
            name_field: row.name,
            "med_chrgitm_type": row.med_chrgitm_type,
            "chrgitm_lv": row.chrgitm_lv,
            "lmt_used_flag": "1" if row.restricted else "0",
            **_common(row),
        }

    return wire


def _hilist(row: CatalogueRow) -> dict[str, Any]:
    return {
        "hilist_code": row.code,
        "hilist_name": row.name,
        "insu_admdvs": REGION,
        "med_chrgitm_type": row.med_chrgitm_type,
        "chrgitm_lv": row.chrgitm_lv,
        "lmt_used_flag": "1" if row.restricted else "0",
        "poolarea_no": REGION,
        **_common(row),
    }


def _price_cap_for(region: str) -> Callable[[CatalogueRow], dict[str, Any]]:
    """1318 as a caller of ``region`` reads it (就医地限价, docs/domain.md "Out-of-area care"): an item its
    region caps for its institutions answers that cap as ``hilist_pric_uplmt_amt`` for every level, with
    the region as ``insu_admdvs`` / ``poolarea_no``; else ``hilist_pric_uplmt_amt`` the cap for every
    hospital level (None when only levels have one) and ``pric_uplmt_lv1``..``lv3`` the caps by hospital
    level (this platform's, not in the national list)."""

    def wire(row: CatalogueRow) -> dict[str, Any]:
        own = row.pric_uplmt_by_admdvs.get(region)
        amount: Decimal | None = row.pric_uplmt if own is None else own
        levels: Mapping[str, Decimal] = row.pric_uplmt_by_level if own is None else {}
        whose = REGION if own is None else region
        return {
            "hilist_code": row.code,
            "hilist_lmtpric_type": "1",
            "overlmt_dspo_way": "1",  # the excess is self-paid (超限价自付)
            "insu_admdvs": whose,
            "hilist_pric_uplmt_amt": amount,
            **{f"pric_uplmt_lv{lv}": levels.get(lv) for lv in ("1", "2", "3")},
            "poolarea_no": whose,
            **_common(row),
        }

    return wire


def _selfpay(row: CatalogueRow) -> dict[str, Any]:
    return {
        "hilist_code": row.code,
        "selfpay_prop_psn_type": "390",  # one ratio for every resident
        "selfpay_prop_type": "1",
        "insu_admdvs": REGION,
        "selfpay_prop": (row.selfpay_prop or Decimal(0)).quantize(Decimal("0.0001")),
        "poolarea_no": REGION,
        **_common(row),
    }


def _match(row: CatalogueRow) -> dict[str, Any]:
    """1316: an item's medical list code and its insurance list code, the same code on this platform
    (the list is the insurance list itself), and when the item's version was made (``crte_time``); no
    remark is kept (``memo`` empty)."""
    return {
        "med_list_codg": row.code,
        "hilist_code": row.code,
        "list_type": row.list_type,
        "insu_admdvs": REGION,
        "memo": "",
        "poolarea_no": REGION,
        **_common(row),
        "crte_time": _time(row.created_at),
    }


def _mapping(row: CatalogueRow) -> dict[str, Any]:
    """1317: one of the institution's own mappings (3301); revoked (3302), ``vali_flag`` 0 and its end the
    day before the revocation. What 3301 accepts and does not keep (``aprvno``, ``dosform``, ``spec``...)
    is not sent."""
    return {
        "fixmedins_code": row.fixmedins_code,
        "medins_list_codg": row.medins_list_codg,
        "medins_list_name": row.name,
        "insu_admdvs": REGION,
        "list_type": row.list_type,
        "med_list_codg": row.code,
        **_common(row),
        "vali_flag": "1" if row.valid else "0",
        "crte_time": _time(row.created_at),
        "poolarea_no": REGION,
    }


def _code(code_field: str, name_field: str) -> Callable[[CatalogueRow], dict[str, Any]]:
    def wire(row: CatalogueRow) -> dict[str, Any]:
        return {code_field: row.code, name_field: row.name, **_common(row)}

    return wire


def _opsp(row: CatalogueRow) -> dict[str, Any]:
    """A chronic or special disease of one region's policy for its period (begndate..enddate); the
    platform keeps no disease classes (``opsp_dise_majcls_code`` and the like are not sent)."""
    return {
        "opsp_dise_code": row.code,
        "opsp_dise_name": row.name or None,
        "admdvs": row.admdvs,
        "insutype": row.insutype,
        **_common(row),
    }


def _with_operation(code_field: str, name_field: str) -> Callable[[CatalogueRow], dict[str, Any]]:
    """A by-disease (1310) or day-surgery (1311) entry: the disease and its qualifying operation
    (``qua_oprn_oprt_code`` / ``qua_oprn_oprt_name``, ICD-9-CM-3 医保版; empty when it names none)."""

    def wire(row: CatalogueRow) -> dict[str, Any]:
        return {
            code_field: row.code,
            name_field: row.name,
            "qua_oprn_oprt_code": row.oprn_code,
            "qua_oprn_oprt_name": row.oprn_name,
            **_common(row),
        }

    return wire


#: infno -> (label, the settlement service's list, the row's national form)
LISTS: dict[str, tuple[str, str, Callable[[CatalogueRow], dict[str, Any]]]] = {
    "1301": ("西药中成药目录下载", "drugs", _item("drug_genname")),
    "1302": ("中药饮片目录下载", "herbs", _item("tcmherb_name")),
    "1305": ("医疗服务项目目录下载", "services", _item("servitem_name")),
    "1306": ("医用耗材目录下载", "materials", _item("mcs_name")),
    "1307": ("疾病与诊断目录下载", "diseases", _code("dise_codg", "dise_name")),
    "1308": ("手术操作目录下载", "operations", _code("oprn_oprt_code", "oprn_oprt_name")),
    "1309": ("门诊慢特病种目录下载", "chronic-diseases", _opsp),
    "1310": (
        "按病种付费病种目录下载",
        "bydise-diseases",
        _with_operation("bydise_setl_list_code", "bydise_setl_dise_name"),
    ),
    "1311": (
        "日间手术治疗病种目录下载",
        "day-surgeries",
        _with_operation("daysrg_dise_list_code", "daysrg_dise_name"),
    ),
    "1313": ("肿瘤形态学目录下载", "tumours", _code("tumr_morp_code", "tumr_morp_name")),
    "1314": ("中医疾病目录下载", "tcm-diseases", _code("tcm_dise_code", "tcm_dise_name")),
    "1315": ("中医证候目录下载", "tcm-syndromes", _code("tcmsymp_code", "tcmsymp")),
    "1303": ("医疗机构制剂目录下载", "preparations", _item("drug_prodname")),
    "1304": ("民族药品目录查询", "ethnic-drugs", _item("drug_genname")),
    "1320": ("中药配方颗粒目录下载", "granules", _item("drug_genname")),
    "1321": ("医疗服务项目（新）目录下载", "services-new", _item("servitem_name")),
    "1312": ("医保目录信息查询", "items", _hilist),
    "1316": ("医疗目录与医保目录匹配信息查询", "item-matches", _match),
    "1317": ("医药机构目录匹配信息查询", "mappings", _mapping),
    # 1318 is answered for the caller's region (``_handler``); this form is the platform's own region's.
    "1318": ("医保目录限价信息查询", "price-caps", _price_cap_for(REGION)),
    "1319": ("医保目录先自付比例信息查询", "selfpay-ratios", _selfpay),
}


def file_line(record: dict[str, Any]) -> str:
    """One row of a download file: the values in the row's field order, tab-separated, empty for None."""
    return "\t".join("" if value is None else str(value) for value in record.values())


#: The lists that are the calling institution's own (its mappings): asked for with its code.
OWN_LISTS = frozenset({"1317"})


#: The lists asked for as queries, with filters (``MatchQuery``).
QUERIED_LISTS = frozenset({"1312", "1316", "1317"})


def _handler(infno: str) -> Callable[[Call, CatalogueInput | MatchInput], Any]:
    _, list_name, wire = LISTS[infno]

    async def handle(call: Call, data: CatalogueInput | MatchInput) -> dict[str, Any]:
        query = data.data
        narrow = query.narrow(infno) if isinstance(query, MatchQuery) else None
        ver = int(query.ver or "0")
        mine = call.envelope.fixmedins_code if infno in OWN_LISTS else None
        if mine is not None and query.fixmedins_code not in ("", mine):
            raise Refusal(
                "E_INSTITUTION", f"fixmedins_code {query.fixmedins_code} 与报文的定点医药机构编号不一致"
            )
        # 1318 answers the caps in force at the caller's institutions: those its region (the envelope's
        # ``mdtrtarea_admvs``, where care happens) sets itself (就医地限价) over the others.
        region = call.envelope.mdtrtarea_admvs if list_name == "price-caps" else None
        shape = wire if region is None else _price_cap_for(region)
        if query.page_num is not None:
            page = await call.downstream.catalogue_changes(
                list_name,
                ver,
                query.page_num,
                query.page_size,
                fixmedins_code=mine,
                admdvs=region,
                narrow=narrow,
            )
            pages = max(1, -(-page.total // page.page_size))
            return {
                "data": [shape(row) for row in page.rows],
                "ver": str(page.newest_ver),
                "recordCounts": page.total,
                "pages": pages,
                "pageNum": page.page_num,
                "pageSize": page.page_size,
                "firstPage": page.page_num == 1,
                "lastPage": page.page_num == pages,
            }
        # Read by cursor up to the version the first batch names: a row changed meanwhile leaves the range
        # (it comes with the next download) and moves no other row out of the file.
        lines: list[str] = []
        first = await call.downstream.catalogue_changes(
            list_name, ver, 1, 1, fixmedins_code=mine, admdvs=region, narrow=narrow
        )
        newest = first.newest_ver
        cursor: str | None = "0:0"
        while cursor is not None:
            batch = await call.downstream.catalogue_changes(
                list_name,
                ver,
                1,
                FILE_BATCH,
                upto_ver=newest,
                cursor=cursor,
                fixmedins_code=mine,
                admdvs=region,
                narrow=narrow,
            )
            lines.extend(file_line(shape(row)) for row in batch.rows)
            cursor = batch.next_cursor
        total = len(lines)
        text = "".join(line + "\n" for line in lines)
        entry = await call.files.make(
            call.db,
            fixmedins_code=call.envelope.fixmedins_code,
            filename="plc",
            text=text,
            kind="catalogue",
            inner_name=f"{infno}_{ver}_{newest}.txt",
        )
        return {**fileinfo(entry), "ver": str(newest), "recordCounts": total}

    return handle


TRANSACTIONS = tuple(
    Transaction(
        infno, "catalogue", label, MatchInput if infno in QUERIED_LISTS else CatalogueInput, _handler(infno)
    )
    for infno, (label, _, _) in LISTS.items()
)

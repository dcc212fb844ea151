"""The settlement service's catalogue as the gateway downloads it (version 1): the changes to one list after
a catalogue version, a page at a time (docs/interface.md, "13xx catalogue downloads"). Domain names; the
gateway gives each 13xx code its national field names."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The lists, by what they hold: the medical insurance list by kind of item (drugs 西药中成药 1301,
#: herbs 中药饮片 1302, services 医疗服务项目 1305, materials 医用耗材 1306, all of it 1312, the capped
#: ones 1318, the 乙类 ones with a self-pay-first share 1319) and the national code lists (diseases
#: 1307, operations 1308, tumour morphology 1313, TCM diseases 1314, TCM syndromes 1315, diseases paid by
#: disease 1310 and treated by day surgery 1311) and the benefit policies' chronic and special diseases
#: (门诊慢特病种 1309); the items of the lists kept apart from their class (医疗机构制剂 preparations 1303,
#: 民族药 ethnic-drugs 1304, 中药配方颗粒 granules 1320, 医疗服务项目（新）services-new 1321); every item as
#: its own medical list code matched to the insurance list (item-matches 1316); and one institution's own
#: mappings (3301/3302) of its codes (mappings 1317, with ``fixmedins_code``).
ListName = Literal[
    "drugs",
    "herbs",
    "services",
    "materials",
    "preparations",
    "ethnic-drugs",
    "granules",
    "services-new",
    "item-matches",
    "mappings",
    "items",
    "price-caps",
    "selfpay-ratios",
    "diseases",
    "operations",
    "tumours",
    "tcm-diseases",
    "tcm-syndromes",
    "chronic-diseases",
    "bydise-diseases",
    "day-surgeries",
]
#: The largest page the settlement service answers.
MAX_PAGE_SIZE = 5000


class CatalogueRow(BaseModel):
    """One version of one entry, as changed at ``list_ver``."""

    model_config = ConfigDict(extra="forbid")

    code: str
    name: str
    effective_from: date
    effective_to: date | None
    list_ver: int
    updated_at: datetime
    #: The row's unique record number (唯一记录号): its table and id.
    rid: str
    #: Catalogue items only (None for diagnoses and procedures).
    med_chrgitm_type: str | None = None
    chrgitm_lv: str | None = None
    selfpay_prop: Decimal | None = None
    pric_uplmt: Decimal | None = None
    pric_uplmt_by_level: dict[str, Decimal] = Field(default_factory=dict)
    #: A treating region's own caps for its institutions (就医地限价), by region: over the others there.
    pric_uplmt_by_admdvs: dict[str, Decimal] = Field(default_factory=dict)
    restricted: bool = False
    #: By-disease and day-surgery entries: the qualifying operation (限定手术操作), if any.
    oprn_code: str | None = None
    oprn_name: str | None = None
    #: Chronic diseases only: the region and insurance type of the policy that lists the disease.
    admdvs: str | None = None
    insutype: str | None = None
    #: Catalogue items and mappings: the 目录类别 (101 西药中成药, 102 中药饮片, 103 医疗机构制剂, 104 民族药,
    #: 201 医疗服务项目, 301 医用耗材 for items; as the institution sent it for a mapping).
    list_type: str | None = None
    #: Catalogue items and mappings: when the row was made (an item's version, a mapping's upload).
    created_at: datetime | None = None
    #: Mappings only (1317): the institution and its own code (``code`` is the national one it maps to;
    #: ``name`` the institution's name of its item), and whether it still stands (False: revoked,
    #: ``effective_to`` the last day it applied).
    fixmedins_code: str | None = None
    medins_list_codg: str | None = None
    valid: bool = True


class CatalogueChanges(BaseModel):
    """The rows of ``list_name`` changed after version ``after_ver``, ordered by version, one page of them
    (by ``page_num``), or, read by cursor up to a version (``upto_ver``), the batch after the cursor: a
    row changed meanwhile leaves the range without moving the others (a whole list written to a file)."""

    model_config = ConfigDict(extra="forbid")

    list_name: ListName
    after_ver: int
    #: The newest catalogue version (of any list): the version the caller holds after every page.
    newest_ver: int
    total: int
    page_num: int
    page_size: int
    rows: list[CatalogueRow]
    #: Where the next batch starts when read by cursor (the last row's ``list_ver:id``); None after the last.
    next_cursor: str | None = None


class MappingUpload(BaseModel):
    """3301 目录对照上传: the institution's own code mapped to a national list code from ``begndate``."""

    model_config = ConfigDict(extra="forbid")

    msgid: str = Field(min_length=1, max_length=30)
    fixmedins_code: str = Field(min_length=1, max_length=30)
    medins_list_codg: str = Field(min_length=1, max_length=50)
    name: str = Field(min_length=1, max_length=200)
    list_type: str = Field(min_length=1, max_length=30)
    med_list_codg: str = Field(min_length=1, max_length=50)
    begndate: date
    enddate: date | None = None


class MappingRevocation(BaseModel):
    """3302 目录对照撤销: the mapping in force stops applying from ``revoked_on`` (today)."""

    model_config = ConfigDict(extra="forbid")

    msgid: str = Field(min_length=1, max_length=30)
    fixmedins_code: str = Field(min_length=1, max_length=30)
    medins_list_codg: str = Field(min_length=1, max_length=50)
    list_type: str = Field(min_length=1, max_length=30)
    med_list_codg: str = Field(min_length=1, max_length=50)


class MappingOut(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    fixmedins_code: str
    medins_list_codg: str
    med_list_codg: str
    list_type: str
    name: str
    begndate: date
    enddate: date | None
    revoked_on: date | None
    created_msgid: str | None
    revoked_msgid: str | None
    created_at: datetime
    updated_at: datetime

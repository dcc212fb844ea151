"""Writes ``platformctl/demo_catalogue.csv``: the demo's and the benchmark's catalogue sample (issue 24).

Curated lists of real names (generic names of the 国家基本药物目录 / 国家医保药品目录, common Chinese patent
medicines and 中药饮片, medical service items named as the 全国医疗服务项目技术规范 names them, common medical
consumables) are crossed with dosage forms, specifications and manufacturer sequence numbers, and coded in the
shape of the national schemes (docs/catalogue-sample.md explains every part of a code). Classes, self-pay
shares, price caps and marks are illustrative. The output is deterministic: run it again and the file does
not change.

    .venv/bin/python scripts/make_demo_catalogue.py            # rewrite the file
    .venv/bin/python scripts/make_demo_catalogue.py --check    # exit 1 when the file is not what it writes
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from settlement.catalogue.service import CSV_COLUMNS

OUT = Path(__file__).resolve().parent.parent / "platformctl" / "demo_catalogue.csv"

#: The columns the settlement service's catalogue import reads: written as the import reads them.
COLUMNS = CSV_COLUMNS
EFFECTIVE_FROM = "2000-01-01"

#: The five items the demo has always had (README's ready-to-paste 2102 names them): same codes, numbers and
#: marks as before, so a database loaded by an older demo takes the file as unchanged.
LEGACY = (
    ("XJ01CAA040A001010100001", "阿莫西林胶囊 0.25g", "09", "1", "0", "0.50", set()),
    ("XC09AAK001A001010100002", "卡托普利片 25mg", "09", "1", "0", "", set()),
    ("ZA12FAF0200010101100003", "复方丹参片", "11", "2", "0.1000", "", set()),
    ("XJ01DCC041A001010100004", "头孢克洛胶囊 0.25g", "09", "2", "0.0500", "2.50", {"trace_required"}),
    ("XA11GAX999A001010100005", "维生素C咀嚼片(保健)", "09", "3", "0", "", set()),
)

#: Dosage forms of the sample and the 4-character form part of a drug code (the sample's own numbering).
FORMS = {
    "片": "F001",
    "肠溶片": "F002",
    "缓释片": "F003",
    "控释片": "F004",
    "分散片": "F005",
    "咀嚼片": "F006",
    "泡腾片": "F007",
    "胶囊": "F010",
    "缓释胶囊": "F011",
    "肠溶胶囊": "F012",
    "软胶囊": "F013",
    "颗粒": "F020",
    "干混悬剂": "F021",
    "散": "F022",
    "口服溶液": "F030",
    "口服液": "F031",
    "糖浆": "F032",
    "合剂": "F033",
    "丸": "F040",
    "水丸": "F041",
    "蜜丸": "F042",
    "浓缩丸": "F043",
    "滴丸": "F044",
    "注射液": "F050",
    "注射用": "F051",
    "吸入气雾剂": "F060",
    "吸入用混悬液": "F061",
    "滴眼液": "F070",
    "软膏": "F080",
    "乳膏": "F081",
    "贴膏": "F082",
    "栓": "F090",
    "喷雾剂": "F091",
    "酊": "F092",
    "膏": "F093",
}

# A western drug: ATC category (5) | generic name | marks | form:spec,spec;form:spec.
# Marks: E 基本药物 (甲类), N 谈判药品, R 限定支付范围, C 儿童用药, S 特殊药品 (目录特项), T 须采集追溯码,
# P 保健品 (丙类).
WESTERN = """
J01CA|阿莫西林|E|胶囊:0.25g,0.5g;片:0.25g;颗粒:0.125g;干混悬剂:0.125g
J01CA|氨苄西林|E|注射用:0.5g,1.0g
J01CA|哌拉西林|R|注射用:1.0g,2.0g
J01CE|青霉素钠|E|注射用:80万单位,160万单位
J01CE|苄星青霉素|E|注射用:120万单位
J01CR|阿莫西林克拉维酸钾|E|片:0.375g,0.625g;干混悬剂:0.2285g
J01CR|哌拉西林钠他唑巴坦钠|ER|注射用:2.25g,4.5g
J01DB|头孢氨苄|E|胶囊:0.125g,0.25g;片:0.25g
J01DB|头孢拉定|E|胶囊:0.25g;注射用:0.5g,1.0g
J01DB|头孢唑林钠|E|注射用:0.5g,1.0g
J01DC|头孢呋辛酯|E|片:0.125g,0.25g
J01DC|头孢呋辛钠|E|注射用:0.75g,1.5g
J01DC|头孢丙烯|C|片:0.25g;干混悬剂:0.125g
J01DD|头孢曲松钠|E|注射用:0.5g,1.0g,2.0g
J01DD|头孢噻肟钠|E|注射用:1.0g
J01DD|头孢他啶|ER|注射用:1.0g
J01DD|头孢克肟|C|胶囊:0.1g;颗粒:50mg;分散片:0.1g
J01DD|头孢哌酮钠舒巴坦钠|R|注射用:1.5g,3.0g
J01FA|阿奇霉素|E|片:0.25g;胶囊:0.25g;干混悬剂:0.1g;注射用:0.5g
J01FA|克拉霉素|E|片:0.25g;缓释片:0.5g
J01FA|红霉素|E|肠溶片:0.125g,0.25g
J01FA|罗红霉素|C|胶囊:0.15g;分散片:75mg
J01MA|左氧氟沙星|E|片:0.1g,0.5g;注射液:0.5g/100ml
J01MA|莫西沙星|R|片:0.4g;注射液:0.4g/250ml
J01MA|环丙沙星|E|片:0.25g;注射液:0.2g/100ml
J01MA|诺氟沙星|E|胶囊:0.1g
J01GB|庆大霉素|E|注射液:8万单位/2ml
J01GB|阿米卡星|E|注射液:0.2g/2ml
J01XD|甲硝唑|E|片:0.2g;注射液:0.5g/100ml
J01XD|替硝唑|E|片:0.5g
J01EE|复方磺胺甲噁唑|E|片:0.48g
J02AC|氟康唑|E|胶囊:50mg,150mg;注射液:0.2g/100ml
J02AC|伊曲康唑|R|胶囊:0.1g
J05AB|阿昔洛韦|E|片:0.1g;乳膏:3%
J05AB|更昔洛韦|R|注射用:0.25g
J05AB|伐昔洛韦|E|片:0.3g
J05AH|奥司他韦|E|胶囊:75mg;颗粒:15mg,25mg
J05AF|恩替卡韦|E|片:0.5mg,1mg;分散片:0.5mg
J05AF|富马酸替诺福韦二吡呋酯|E|片:300mg
A02BC|奥美拉唑|E|肠溶胶囊:10mg,20mg;肠溶片:20mg;注射用:40mg
A02BC|兰索拉唑|R|肠溶片:15mg,30mg;注射用:30mg
A02BC|泮托拉唑|R|肠溶片:40mg;注射用:40mg,60mg
A02BC|雷贝拉唑钠|R|肠溶片:10mg,20mg
A02BC|艾司奥美拉唑镁|R|肠溶片:20mg,40mg
A02BA|雷尼替丁|E|胶囊:0.15g
A02BA|法莫替丁|E|片:20mg;注射液:20mg/2ml
A03FA|多潘立酮|E|片:10mg
A03FA|莫沙必利|-|片:5mg;分散片:5mg
A03BA|阿托品|E|注射液:0.5mg/1ml
A03BA|山莨菪碱|E|片:5mg;注射液:10mg/1ml
A07BC|蒙脱石|EC|散:3g
A07DA|洛哌丁胺|E|胶囊:2mg
A06AD|乳果糖|E|口服溶液:10ml:5g
A06AB|比沙可啶|E|肠溶片:5mg
A05AA|熊去氧胆酸|E|片:50mg;胶囊:0.25g
A04AA|昂丹司琼|E|片:4mg,8mg;注射液:8mg/4ml
A10BA|二甲双胍|E|片:0.25g,0.5g;缓释片:0.5g;肠溶片:0.25g
A10BB|格列本脲|E|片:2.5mg
A10BB|格列齐特|E|片:80mg;缓释片:30mg
A10BB|格列美脲|E|片:1mg,2mg
A10BB|格列吡嗪|E|片:5mg;控释片:5mg
A10BF|阿卡波糖|E|片:50mg,100mg
A10BH|西格列汀|N|片:100mg
A10BH|沙格列汀|N|片:5mg
A10BX|瑞格列奈|E|片:0.5mg,1mg
A10AB|人胰岛素|E|注射液:400单位/10ml,300单位/3ml
A10AB|门冬胰岛素|R|注射液:300单位/3ml
A10AE|甘精胰岛素|R|注射液:300单位/3ml
C07AB|美托洛尔|E|片:25mg,50mg;缓释片:47.5mg
C07AB|比索洛尔|E|片:2.5mg,5mg
C07AB|阿替洛尔|E|片:12.5mg,25mg
C08CA|硝苯地平|E|片:10mg;缓释片:10mg,20mg;控释片:30mg
C08CA|氨氯地平|E|片:5mg
C08CA|非洛地平|E|缓释片:2.5mg,5mg
C08CA|尼群地平|E|片:10mg
C08CA|左氨氯地平|E|片:2.5mg
C08DA|维拉帕米|E|片:40mg;缓释片:0.24g
C08DB|地尔硫卓|E|片:30mg
C09AA|依那普利|E|片:5mg,10mg
C09AA|贝那普利|E|片:10mg
C09AA|培哚普利|E|片:4mg
C09CA|缬沙坦|E|胶囊:80mg
C09CA|氯沙坦钾|E|片:50mg,100mg
C09CA|厄贝沙坦|E|片:75mg,150mg
C09CA|替米沙坦|E|片:40mg,80mg
C09CA|坎地沙坦酯|-|片:4mg,8mg
C03CA|呋塞米|E|片:20mg;注射液:20mg/2ml
C03AA|氢氯噻嗪|E|片:25mg
C03DA|螺内酯|E|片:20mg
C10AA|阿托伐他汀钙|E|片:10mg,20mg
C10AA|瑞舒伐他汀钙|E|片:5mg,10mg
C10AA|辛伐他汀|E|片:20mg
C10AA|普伐他汀钠|-|片:20mg
B01AC|阿司匹林|E|肠溶片:25mg,100mg
B01AC|氯吡格雷|E|片:25mg,75mg
B01AC|替格瑞洛|NR|片:90mg
B01AA|华法林钠|E|片:2.5mg,3mg
B01AB|依诺肝素钠|R|注射液:4000AXaIU/0.4ml
B02AA|氨甲环酸|E|片:0.25g;注射液:0.5g/5ml
C01DA|硝酸甘油|E|片:0.5mg;注射液:5mg/1ml
C01DA|单硝酸异山梨酯|E|片:20mg;缓释片:40mg
C01DA|硝酸异山梨酯|E|片:5mg
C01AA|地高辛|E|片:0.25mg
C01BD|胺碘酮|E|片:0.2g;注射液:0.15g/3ml
C01CA|肾上腺素|E|注射液:1mg/1ml
C01CA|多巴胺|E|注射液:20mg/2ml
N02BE|对乙酰氨基酚|EC|片:0.5g;口服溶液:100ml:3.2g;栓:0.125g
M01AE|布洛芬|EC|片:0.1g,0.2g;缓释胶囊:0.3g;颗粒:0.2g;口服溶液:100ml:2g
M01AB|双氯芬酸钠|E|肠溶片:25mg;缓释片:75mg
M01AH|塞来昔布|R|胶囊:0.2g
N02AX|曲马多|ES|缓释片:0.1g;注射液:0.1g/2ml
N01BB|利多卡因|E|注射液:0.1g/5ml;喷雾剂:8g
N05BA|地西泮|ES|片:2.5mg;注射液:10mg/2ml
N05BA|阿普唑仑|ES|片:0.4mg
N05BA|劳拉西泮|ES|片:0.5mg
N05CF|佐匹克隆|E|片:7.5mg
N06AB|舍曲林|E|片:50mg
N06AB|帕罗西汀|E|片:20mg
N06AB|氟西汀|E|胶囊:20mg
N06AB|西酞普兰|E|片:20mg
N05AH|奥氮平|E|片:5mg,10mg
N05AH|喹硫平|E|片:25mg,0.1g
N05AX|利培酮|E|片:1mg;口服溶液:30ml:30mg
N03AF|卡马西平|E|片:0.1g,0.2g
N03AG|丙戊酸钠|EC|片:0.2g;缓释片:0.5g;口服溶液:300ml:12g
N03AX|左乙拉西坦|E|片:0.25g,0.5g;口服溶液:150ml:15g
N03AX|拉莫三嗪|E|片:25mg,50mg
N04BA|多巴丝肼|E|片:0.25g
N06DA|多奈哌齐|E|片:5mg
R06AE|西替利嗪|EC|片:10mg;口服溶液:60ml:60mg
R06AX|氯雷他定|EC|片:10mg;糖浆:60ml:60mg
R05CB|氨溴索|EC|片:30mg;口服溶液:100ml:0.6g;注射液:15mg/2ml
R05CB|乙酰半胱氨酸|-|颗粒:0.1g,0.2g;泡腾片:0.6g
R03AC|沙丁胺醇|EC|吸入气雾剂:100μg*200揿;片:2mg
R03DA|氨茶碱|E|片:0.1g;注射液:0.25g/10ml
R03DA|茶碱|E|缓释片:0.1g
R03BA|布地奈德|EC|吸入用混悬液:2ml:1mg;吸入气雾剂:200μg*100揿
H02AB|地塞米松磷酸钠|E|注射液:5mg/1ml
H02AB|醋酸泼尼松|E|片:5mg
H02AB|甲泼尼龙|E|片:4mg;注射用:40mg
H02AB|氢化可的松|E|注射液:100mg/20ml;乳膏:1%
H03AA|左甲状腺素钠|E|片:50μg
H03BB|甲巯咪唑|E|片:5mg,10mg
A11DA|维生素B1|E|片:10mg
A11GA|维生素C|E|片:0.1g;注射液:0.5g/5ml
A11HA|维生素E(保健)|P|软胶囊:100mg
A11AA|多维元素(保健)|P|片:29种
A11CC|骨化三醇|R|软胶囊:0.25μg
B03AA|硫酸亚铁|EC|片:0.3g;缓释片:0.45g
B03BB|叶酸|E|片:0.4mg,5mg
A12AA|碳酸钙|-|片:0.75g
A12AA|葡萄糖酸钙|EC|注射液:1g/10ml;口服溶液:10ml:1g
B05BB|氯化钠|E|注射液:0.9%100ml,0.9%250ml,0.9%500ml
B05BB|葡萄糖氯化钠|E|注射液:5%500ml
B05BA|葡萄糖|E|注射液:5%250ml,5%500ml,10%500ml,50%20ml
B05XA|氯化钾|E|注射液:1.5g/10ml;缓释片:0.5g
G04CA|坦索罗辛|E|缓释胶囊:0.2mg
G04CB|非那雄胺|E|片:5mg
M04AA|别嘌醇|E|片:0.1g
M04AC|秋水仙碱|E|片:0.5mg
M05BA|阿仑膦酸钠|R|片:70mg
L01EA|伊马替尼|NR|片:0.1g;胶囊:0.1g
L01EB|吉非替尼|NR|片:0.25g
L01EB|埃克替尼|NR|片:125mg
L01XC|曲妥珠单抗|NRS|注射用:150mg,440mg
L04AX|来那度胺|NR|胶囊:10mg,25mg
D06AX|莫匹罗星|EC|软膏:5g:0.1g
D06AX|夫西地酸|-|乳膏:15g:0.3g
D01AC|酮康唑|E|乳膏:10g:0.2g
D01AC|咪康唑|E|乳膏:20g:0.4g;栓:0.2g
D07AC|糠酸莫米松|E|乳膏:5g:5mg
S01AE|左氧氟沙星|E|滴眼液:5ml:24.4mg
S01AA|妥布霉素|EC|滴眼液:5ml:15mg
S01EE|拉坦前列素|R|滴眼液:2.5ml:125μg
"""

# A Chinese patent medicine: category (5) | name (with its form) | marks | spec,spec.
CHINESE = """
A01AA|感冒清热颗粒|E|每袋装12g,每袋装6g(无蔗糖)
A01AA|正柴胡饮颗粒|E|每袋装10g
A01AA|九味羌活丸|E|每袋装6g
A01BA|银翘解毒片|E|每片重0.52g
A01BA|桑菊感冒片|-|每片重0.6g
A01BA|连花清瘟胶囊|E|每粒装0.35g
A01BA|连花清瘟颗粒|E|每袋装6g
A01BA|双黄连口服液|E|每支装10ml
A01BA|双黄连颗粒|EC|每袋装5g
A01BA|小儿豉翘清热颗粒|C|每袋装2g
A03AA|藿香正气水|E|每支装10ml
A03AA|藿香正气口服液|E|每支装10ml
A03AA|藿香正气软胶囊|E|每粒装0.45g
A04AA|牛黄解毒片|E|每片重0.3g
A04AA|黄连上清丸|E|每丸重6g
A04BA|板蓝根颗粒|E|每袋装10g,每袋装5g
A04BA|蒲地蓝消炎口服液|-|每支装10ml
A04BA|清开灵颗粒|E|每袋装3g
A04BA|穿心莲片|E|每片含穿心莲干浸膏0.105g
A04BA|小儿肺热咳喘口服液|C|每支装10ml
A05AA|附子理中丸|E|每丸重9g
A06AA|急支糖浆|E|每瓶装100ml
A06AA|蛇胆川贝液|E|每支装10ml
A06AA|复方鲜竹沥液|E|每支装20ml
A06AA|橘红丸|E|每丸重6g
A06AA|川贝枇杷糖浆|-|每瓶装150ml
A06BA|苏黄止咳胶囊|N|每粒装0.45g
A09AA|补中益气丸|E|每袋装6g
A09AA|参苓白术散|E|每袋装6g
A09BA|六味地黄丸|E|每8丸相当于饮片3g
A09BA|知柏地黄丸|E|每8丸相当于饮片3g
A09BA|杞菊地黄丸|E|每8丸相当于饮片3g
A09CA|金匮肾气丸|E|每丸重6g
A09DA|归脾丸|E|每8丸相当于饮片3g
A09DA|十全大补丸|-|每丸重9g
A09EA|生脉饮|E|每支装10ml
A10AA|保和丸|E|每袋装6g
A10AA|健胃消食片|-|每片重0.8g
A10BA|香砂养胃丸|E|每袋装9g
A10BA|香砂六君丸|E|每袋装6g
A10CA|枳实导滞丸|-|每袋装6g
A11AA|逍遥丸|E|每8丸相当于饮片3g
A11AA|加味逍遥丸|E|每袋装6g
A12AA|三七片|E|每片含三七0.25g
A12BA|云南白药胶囊|E|每粒装0.25g
A12EA|麝香保心丸|E|每丸重22.5mg
A12EA|速效救心丸|E|每丸重40mg
A12FA|复方丹参滴丸|E|每丸重27mg
A12FA|血塞通软胶囊|E|每粒装0.33g
A12FA|银杏叶片|E|每片含总黄酮醇苷9.6mg
A12FA|通心络胶囊|E|每粒装0.26g
A12FA|脑心通胶囊|E|每粒装0.4g
A12FA|血府逐瘀胶囊|E|每粒装0.4g
A12FA|丹红注射液|R|每支装10ml
A12FA|注射用血栓通|R|每支装150mg
A13AA|天王补心丸|E|每8丸相当于饮片3g
A13AA|柏子养心丸|-|每丸重9g
A13AA|枣仁安神胶囊|E|每粒装0.45g
A14AA|天麻钩藤颗粒|E|每袋装10g
A15AA|三金片|E|每片重0.29g
A15AA|癃闭舒胶囊|E|每粒装0.3g
A15AA|尿毒清颗粒|E|每袋装5g
A16AA|独活寄生合剂|E|每瓶装100ml
A16AA|腰痹通胶囊|E|每粒装0.42g
B01AA|马应龙麝香痔疮膏|E|每支装10g
B02AA|京万红软膏|E|每支装20g
B02AA|湿润烧伤膏|E|每支装40g
C01AA|平消胶囊|E|每粒装0.23g
C01AA|华蟾素片|-|每片重0.3g
D01AA|乌鸡白凤丸|E|每丸重9g
D01AA|益母草颗粒|E|每袋装15g
D01AA|妇科千金片|E|每片重0.32g
D02AA|桂枝茯苓胶囊|E|每粒装0.31g
D02AA|宫血宁胶囊|E|每粒装0.13g
E01AA|明目地黄丸|E|每丸重9g
F01AA|鼻炎康片|E|每片重0.37g
F02AA|黄氏响声丸|E|每丸重0.133g
F02AA|清咽滴丸|E|每丸重20mg
F01AA|藿胆丸|E|每瓶装36g
G01AA|伤湿止痛膏|E|7cm×10cm
G01AA|麝香壮骨膏|-|7cm×10cm
G02AA|颈复康颗粒|E|每袋装5g
G03AA|仙灵骨葆胶囊|E|每粒装0.5g
"""

# 中药饮片: name | processing variants ("" = 生用) | marks (P 丙类: not paid by the fund).
HERBS = """
黄芪|,蜜|-
党参|,米炒|-
当归|,酒|-
白芍|,炒|-
川芎||-
熟地黄||-
地黄||-
茯苓||-
白术|,麸炒|-
甘草|,炙|-
陈皮||-
半夏|法,姜|-
黄芩|,酒|-
黄连|,酒|-
黄柏|,盐|-
栀子|,炒|-
金银花||-
连翘||-
板蓝根||-
柴胡|,醋|-
葛根||-
桂枝||-
麻黄|,蜜|-
防风||-
荆芥||-
薄荷||-
桔梗||-
苦杏仁|,炒|-
枳壳|,麸炒|-
厚朴|姜|-
山药|,麸炒|-
山茱萸|酒|-
泽泻|,盐|-
牡丹皮||-
丹参|,酒|-
红花||-
桃仁|,炒|-
赤芍||-
益母草||-
牛膝|,酒|-
杜仲|,盐|-
续断||-
枸杞子||-
菊花||-
决明子|,炒|-
酸枣仁|,炒|-
远志|制|-
五味子|,醋|-
麦冬||-
天冬||-
玉竹||-
百合|,蜜|-
北沙参||-
太子参||-
人参||-
西洋参||P
大枣||-
生姜||-
干姜||-
附子|黑顺片,淡|-
肉桂||-
细辛||-
白芷||-
羌活||-
独活||-
秦艽||-
威灵仙||-
木瓜||-
薏苡仁|,麸炒|-
砂仁||-
豆蔻||-
广藿香||-
佩兰||-
苍术|,麸炒|-
香附|,醋|-
木香||-
乌药||-
延胡索|,醋|-
郁金||-
三七|,粉|-
蒲黄|,炭|-
艾叶|,醋炭|-
鸡内金|,炒|-
山楂|,炒,焦|-
六神曲|炒,焦|-
麦芽|,炒,焦|-
莱菔子|,炒|-
大黄|,酒,熟|-
芒硝||-
火麻仁||-
车前子|,盐|-
滑石||-
通草||-
茵陈||-
金钱草||-
虎杖||-
夏枯草||-
蒲公英||-
紫花地丁||-
鱼腥草||-
败酱草||-
白花蛇舌草||-
石膏|,煅|-
知母|,盐|-
天花粉||-
玄参||-
龙骨|,煅|-
牡蛎|,煅|-
磁石|,煅|-
珍珠母||-
石决明|,煅|-
天麻||-
钩藤||-
全蝎||-
蜈蚣||-
地龙||-
僵蚕|,炒|-
川贝母||-
浙贝母||-
瓜蒌||-
竹茹|,姜|-
前胡||-
紫苏叶||-
紫苏子|,炒|-
款冬花|,蜜|-
紫菀|,蜜|-
百部|,蜜|-
桑白皮|,蜜|-
枇杷叶|,蜜|-
黄精|酒|-
女贞子|,酒|-
墨旱莲||-
菟丝子|,盐|-
淫羊藿|,炙|-
巴戟天|,盐|-
补骨脂|,盐|-
益智仁|盐|-
覆盆子||-
金樱子||-
芡实|,麸炒|-
莲子||-
乌梅|,炭|-
诃子||-
浮小麦||-
龙眼肉||-
阿胶|,珠|-
鳖甲|醋|-
龟甲|醋|-
白及||-
仙鹤草||-
地榆|,炭|-
槐花|,炒|-
侧柏叶|,炭|-
茜草|,炭|-
小蓟||-
冬虫夏草||P
鹿茸||P
"""

# A medical service item: type (med_chrgitm_type) | 9-digit project code | name | price (yuan) | marks.
# Marks: L capped by hospital level (lv1/lv2/lv3 caps), P 丙类, S 目录特项 (special examination or treatment).
SERVICES = """
13|110100001|挂号费|1.00|L
13|110100002|专家挂号费|3.00|L
02|110200001|普通门诊诊查费|10.00|L
02|110200002|副主任医师诊查费|15.00|L
02|110200003|主任医师诊查费|20.00|L
02|110200004|知名专家诊查费|50.00|L
02|110200005|急诊诊查费|12.00|L
02|110200006|门急诊留观诊查费|8.00|L
02|110300001|住院诊查费|10.00|L
02|110400001|院际会诊|200.00|-
02|110400002|院内会诊|30.00|-
12|110500001|一般诊疗费|10.00|L
02|110600001|中医辨证论治|8.00|L
01|110900001|普通病房床位费(三人间)|25.00|L
01|110900002|普通病房床位费(双人间)|40.00|L
01|110900003|单人间病房床位费|80.00|P
01|110900004|重症监护病房床位费|120.00|L
01|110900005|急诊观察床位费|20.00|L
01|110900006|新生儿床位费|20.00|L
01|110900007|层流洁净病房床位费|200.00|S
07|120100001|重症监护|180.00|-
07|120100002|特级护理|120.00|-
07|120100003|Ⅰ级护理|30.00|L
07|120100004|Ⅱ级护理|20.00|L
07|120100005|Ⅲ级护理|10.00|L
07|120100006|特殊疾病护理|25.00|-
07|120100007|新生儿护理|25.00|-
07|120100008|精神病护理|25.00|-
05|120200001|吸痰护理|5.00|-
05|120300001|造口护理|15.00|-
05|120400001|肌肉注射|3.00|-
05|120400002|皮下注射|3.00|-
05|120400003|静脉注射|5.00|-
05|120400004|静脉输液|10.00|L
05|120400005|小儿头皮静脉输液|12.00|-
05|120400006|静脉留置针置管|15.00|-
05|120400007|中心静脉穿刺置管术|150.00|-
05|120400008|动脉采血|8.00|-
05|120400009|静脉采血|3.00|-
05|120500001|小换药|15.00|-
05|120500002|中换药|25.00|-
05|120500003|大换药|40.00|-
05|120600001|雾化吸入|10.00|-
05|120700001|鼻饲管置管|20.00|-
05|120800001|胃肠减压|12.00|-
05|120900001|洗胃|60.00|-
05|121000001|灌肠|15.00|-
05|121100001|导尿|15.00|-
05|121200001|氧气吸入|3.00|-
05|121300001|持续吸氧(每小时)|3.00|-
05|121400001|清创缝合(小)|60.00|-
05|121400002|清创缝合(中)|100.00|-
05|121400003|清创缝合(大)|150.00|-
05|121500001|物理降温|5.00|-
05|121600001|心肺复苏术|150.00|-
05|121700001|气管插管术|100.00|-
05|121800001|呼吸机辅助呼吸(每小时)|20.00|-
05|121900001|心电监测(每小时)|5.00|-
05|122000001|血氧饱和度监测(每小时)|2.00|-
05|122100001|抢救费|200.00|-
03|210102001|胸部正位片|40.00|L
03|210102002|胸部正侧位片|70.00|L
03|210102003|腰椎正侧位片|70.00|L
03|210102004|颈椎正侧位片|70.00|L
03|210102005|膝关节正侧位片|70.00|L
03|210102006|腹部立卧位片|70.00|L
03|210102007|骨盆正位片|40.00|L
03|210103001|乳腺钼靶摄影|120.00|-
03|210300001|颅脑CT平扫|180.00|L
03|210300002|胸部CT平扫|200.00|L
03|210300003|上腹部CT平扫|200.00|L
03|210300004|腰椎CT平扫|200.00|L
03|210300005|颅脑CT增强扫描|300.00|L
03|210300006|胸部CT增强扫描|320.00|L
03|210300007|冠状动脉CT血管成像|800.00|S
03|210400001|颅脑磁共振平扫|450.00|LS
03|210400002|腰椎磁共振平扫|450.00|LS
03|210400003|膝关节磁共振平扫|450.00|LS
03|210400004|颅脑磁共振增强扫描|700.00|S
03|210500001|数字减影血管造影(DSA)|1200.00|S
03|220100001|腹部彩色多普勒超声检查|120.00|L
03|220100002|泌尿系彩色多普勒超声检查|100.00|L
03|220100003|妇科彩色多普勒超声检查|100.00|L
03|220100004|产科彩色多普勒超声检查|120.00|L
03|220100005|甲状腺彩色多普勒超声检查|80.00|L
03|220100006|乳腺彩色多普勒超声检查|80.00|L
03|220100007|颈部血管彩色多普勒超声检查|150.00|L
03|220100008|下肢血管彩色多普勒超声检查|150.00|L
03|220200001|超声心动图|200.00|L
03|220300001|经阴道彩色多普勒超声检查|120.00|-
03|220400001|超声引导下穿刺|150.00|-
03|230100001|甲状腺静态显像|150.00|S
03|230200001|全身骨显像|500.00|S
04|250101001|全血细胞计数+五分类|20.00|L
04|250101002|网织红细胞计数|10.00|-
04|250101003|红细胞沉降率测定|6.00|-
04|250101004|血型鉴定(ABO+Rh)|20.00|-
04|250101005|交叉配血|25.00|-
04|250102001|尿液分析(尿常规)|10.00|L
04|250102002|尿沉渣定量|8.00|-
04|250103001|粪便常规|5.00|-
04|250103002|粪便隐血试验|8.00|-
04|250201001|凝血酶原时间测定(PT)|10.00|-
04|250201002|活化部分凝血活酶时间测定(APTT)|10.00|-
04|250201003|纤维蛋白原测定|10.00|-
04|250201004|D-二聚体测定|50.00|-
04|250301001|总蛋白测定|4.00|-
04|250301002|白蛋白测定|4.00|-
04|250302001|葡萄糖测定|5.00|L
04|250302002|糖化血红蛋白测定|50.00|-
04|250302003|口服葡萄糖耐量试验|30.00|-
04|250303001|总胆固醇测定|5.00|-
04|250303002|甘油三酯测定|5.00|-
04|250303003|高密度脂蛋白胆固醇测定|6.00|-
04|250303004|低密度脂蛋白胆固醇测定|6.00|-
04|250304001|钾测定|3.00|-
04|250304002|钠测定|3.00|-
04|250304003|氯测定|3.00|-
04|250304004|钙测定|3.00|-
04|250304005|血气分析|60.00|-
04|250305001|丙氨酸氨基转移酶测定|5.00|-
04|250305002|天门冬氨酸氨基转移酶测定|5.00|-
04|250305003|总胆红素测定|4.00|-
04|250305004|直接胆红素测定|4.00|-
04|250305005|碱性磷酸酶测定|5.00|-
04|250305006|γ-谷氨酰基转移酶测定|5.00|-
04|250306001|尿素测定|4.00|-
04|250306002|肌酐测定|4.00|-
04|250306003|尿酸测定|4.00|-
04|250306004|胱抑素C测定|30.00|-
04|250307001|肌酸激酶测定|8.00|-
04|250307002|肌酸激酶同工酶测定|20.00|-
04|250307003|心肌肌钙蛋白I测定|60.00|-
04|250307004|N端脑钠肽前体测定|150.00|-
04|250308001|促甲状腺激素测定|25.00|-
04|250308002|游离三碘甲状原氨酸测定|25.00|-
04|250308003|游离甲状腺素测定|25.00|-
04|250401001|C反应蛋白测定|20.00|-
04|250401002|降钙素原测定|150.00|-
04|250402001|乙型肝炎表面抗原测定|15.00|-
04|250402002|乙型肝炎病毒脱氧核糖核酸定量|150.00|-
04|250402003|丙型肝炎抗体测定|30.00|-
04|250402004|人免疫缺陷病毒抗体测定|30.00|-
04|250402005|梅毒螺旋体特异抗体测定|20.00|-
04|250403001|癌胚抗原测定|30.00|-
04|250403002|甲胎蛋白测定|30.00|-
04|250403003|前列腺特异性抗原测定|40.00|-
04|250403004|糖类抗原CA125测定|50.00|-
04|250404001|甲型流感病毒抗原检测|40.00|-
04|250501001|细菌培养及鉴定|50.00|-
04|250501002|血培养及鉴定|80.00|-
04|250501003|抗菌药物敏感试验|40.00|-
04|250501004|结核分枝杆菌涂片检查|10.00|-
04|270100001|活检组织病理学诊断|120.00|-
04|270200001|细胞病理学诊断|60.00|-
04|270300001|术中冰冻切片诊断|300.00|-
03|310100001|脑电图|60.00|-
03|310100002|肌电图|100.00|-
03|310200001|常规心电图检查|25.00|L
03|310200002|动态心电图|150.00|-
03|310200003|动态血压监测|100.00|-
03|310200004|心电图运动负荷试验|150.00|-
03|310300001|肺通气功能检查|60.00|-
03|310400001|电子胃镜检查|200.00|L
03|310400002|电子结肠镜检查|300.00|L
03|310400003|纤维支气管镜检查|300.00|-
03|310400004|电子喉镜检查|100.00|-
03|310500001|眼底检查|15.00|-
03|310500002|眼压测量|10.00|-
03|310500003|纯音听阈测定|30.00|-
03|310600001|骨密度测定|80.00|-
05|310700001|血液透析|400.00|S
05|310700002|腹膜透析|100.00|S
05|310800001|经皮冠状动脉造影术|3000.00|S
05|310900001|胸腔穿刺术|80.00|-
05|310900002|腹腔穿刺术|80.00|-
05|310900003|腰椎穿刺术|80.00|-
05|310900004|骨髓穿刺术|80.00|-
05|311000001|体外冲击波碎石|1200.00|S
05|311100001|高压氧舱治疗|80.00|-
06|330100001|全身麻醉|600.00|-
06|330100002|椎管内麻醉|400.00|-
06|330100003|局部浸润麻醉|30.00|-
06|330200001|甲状腺次全切除术|1500.00|-
06|330300001|扁桃体切除术|600.00|-
06|330400001|乳腺肿物切除术|500.00|-
06|330500001|白内障超声乳化摘除术+人工晶体植入术|2000.00|-
06|330600001|经皮冠状动脉支架置入术|4000.00|S
06|330700001|阑尾切除术|800.00|L
06|330700002|腹腔镜下阑尾切除术|1200.00|L
06|330700003|腹腔镜下胆囊切除术|1800.00|L
06|330700004|腹股沟疝修补术|900.00|L
06|330700005|胃大部切除术|2500.00|-
06|330700006|结肠癌根治术|4000.00|-
06|330700007|混合痔切除术|700.00|-
06|330800001|经尿道前列腺电切术|2000.00|-
06|330800002|包皮环切术|300.00|-
06|330900001|剖宫产术|1200.00|L
06|330900002|经腹全子宫切除术|2000.00|-
06|330900003|会阴裂伤缝合术|200.00|-
06|330900004|单胎顺产接生|600.00|L
06|331000001|股骨干骨折切开复位内固定术|2500.00|-
06|331000002|人工髋关节置换术|4000.00|S
06|331000003|人工膝关节置换术|4000.00|S
06|331000004|膝关节镜检查|1000.00|-
06|331100001|体表肿物切除术|200.00|-
06|331100002|脓肿切开引流术|150.00|-
06|331200001|重睑成形术(美容)|1500.00|P
06|331200002|隆鼻术(美容)|3000.00|P
05|331300001|激光去除文身(美容)|500.00|P
05|331300002|激光祛斑(美容)|400.00|P
05|340100001|运动疗法|40.00|-
05|340100002|作业疗法|30.00|-
05|340100003|偏瘫肢体综合训练|50.00|-
05|340100004|言语训练|30.00|-
05|340100005|吞咽功能障碍训练|30.00|-
05|340200001|中频脉冲电治疗|15.00|-
05|340200002|红外线治疗|10.00|-
05|340200003|超短波治疗|15.00|-
05|340200004|颈椎牵引|15.00|-
05|340200005|腰椎牵引|15.00|-
05|410100001|普通针刺|20.00|L
05|410100002|电针|25.00|-
05|410100003|温针|25.00|-
05|410100004|艾灸|20.00|-
05|410100005|拔罐|10.00|-
05|410200001|中医推拿治疗|40.00|-
05|410200002|小儿推拿治疗|30.00|-
05|410300001|中药熏洗治疗|30.00|-
05|410300002|穴位贴敷治疗|10.00|-
05|410300003|中药塌渍治疗|20.00|-
05|410400001|刮痧治疗|20.00|-
14|480100001|院前急救出诊费|50.00|-
14|480100002|救护车使用费(起步)|50.00|-
14|480200001|健康体检一般检查|30.00|P
14|480200002|尸体存放|30.00|P
"""

# A medical consumable: 一级 | 二级 | 三级 分类 | generic name | marks (S high-value) | spec,spec.
CONSUMABLES = """
01|01|01|气管支气管支架|S|Φ16mm×40mm,Φ18mm×60mm
01|02|01|一次性使用吸痰管|-|F10,F12,F14
01|02|02|一次性使用气管插管|-|ID6.5,ID7.0,ID7.5
01|03|01|一次性使用胃管|-|F14,F16
01|03|02|一次性使用导尿管|-|F12,F14,F16
01|04|01|一次性使用鼻氧管|-|成人型,儿童型
01|05|01|一次性使用引流袋|-|1000ml
01|05|02|一次性使用负压引流器|-|200ml,400ml
02|01|01|冠状动脉药物洗脱支架|S|2.5mm×18mm,3.0mm×24mm,3.5mm×28mm
02|01|02|冠状动脉球囊扩张导管|-|2.0mm×15mm,2.5mm×20mm
02|02|01|中心静脉导管|-|单腔16G,双腔7F
02|02|02|一次性使用静脉留置针|-|22G,24G
02|03|01|造影导丝|-|0.035in×150cm
03|01|01|接骨板|-|直型6孔,锁定型8孔
03|01|02|接骨螺钉|-|Φ3.5mm,Φ4.5mm
03|01|03|髓内钉|-|Φ9mm×340mm,Φ10mm×380mm
03|02|01|髋关节假体|S|股骨柄,髋臼杯
03|02|02|膝关节假体|S|股骨髁,胫骨平台
03|03|01|医用夹板|-|小号,中号,大号
03|03|02|石膏绷带|-|10cm×3m,15cm×3m
05|01|01|人工晶状体|-|折叠型,非折叠型
06|01|01|鼓膜通气管|-|1.14mm
08|01|01|吻合器|-|管型25mm,线型60mm
08|01|02|一次性使用腹腔镜穿刺器|-|5mm,10mm,12mm
08|02|01|止血夹|-|中号,大号
09|01|01|血液透析器|S|1.3㎡,1.6㎡
09|01|02|一次性使用血液透析管路|-|成人型
09|02|01|一次性使用输血器|-|带针
10|01|01|可吸收止血纱布|-|5cm×7.5cm
11|01|01|疝修补补片|-|10cm×15cm,15cm×15cm
12|01|01|心脏起搏器|S|单腔,双腔
13|01|01|一次性使用无菌注射器|-|1ml,2ml,5ml,10ml,20ml
13|01|02|一次性使用输液器|-|带针,精密过滤
13|01|03|一次性使用真空采血管|-|2ml,5ml
13|01|04|一次性使用胰岛素笔用针头|-|0.25mm×5mm
13|02|01|可吸收性外科缝线|-|2-0,3-0,4-0
13|02|02|不可吸收外科缝线|-|1-0,3-0
13|03|01|造口袋|-|一件式,两件式
14|01|01|医用脱脂纱布|-|8cm×10cm-8层
14|01|02|医用脱脂棉签|-|10cm
14|01|03|医用胶带|-|1.25cm×9.1m
14|01|04|医用外科口罩|-|17.5cm×9.5cm
14|01|05|医用弹力绷带|-|7.5cm×4.5m,10cm×4.5m
14|01|06|一次性使用手术衣|-|L,XL
"""

SELF_PAY_SHARES = ("0.0500", "0.1000")  # 乙类 先行自付 (illustrative; the region's list sets them)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _rows(block: str) -> Iterator[list[str]]:
    for line in block.strip().splitlines():
        yield line.split("|")


def _yuan(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _row(code: str, name: str, kind: str, level: str, **extra: str) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS, "")
    row.update(med_list_codg=code, name=name, med_chrgitm_type=kind, chrgitm_lv=level)
    row.update(selfpay_prop="0", effective_from=EFFECTIVE_FROM)
    for flag in (
        "restricted",
        "essential_drug",
        "negotiated_drug",
        "child_medicine",
        "special_item",
        "direct_reimbursement",
        "trace_required",
    ):
        row[flag] = "0"
    row.update(extra)
    return row


def _drug_class(name: str, marks: str) -> tuple[str, dict[str, str]]:
    """甲类 for essential drugs, 乙类 with a self-pay-first share otherwise (and for negotiated drugs)."""
    flags = {
        "essential_drug": "1" if "E" in marks else "0",
        "negotiated_drug": "1" if "N" in marks else "0",
        "restricted": "1" if "R" in marks else "0",
        "child_medicine": "1" if "C" in marks else "0",
        "special_item": "1" if "S" in marks else "0",
        "trace_required": "1" if "T" in marks or "N" in marks else "0",
    }
    if "P" in marks:  # 保健品: 丙类, paid by the patient
        return "3", flags
    if "E" in marks and "R" not in marks:
        return "1", flags
    return "2", {"selfpay_prop": SELF_PAY_SHARES[_digest(name) % 2], **flags}


#: Manufacturer sequence numbers per product (not real companies): 3 makers of each western drug product.
MAKERS = 3


def western() -> Iterator[dict[str, str]]:
    generic_numbers: dict[str, int] = {}
    for atc, generic, marks, forms in _rows(WESTERN):
        generic_numbers[atc] = generic_numbers.get(atc, 0) + 1
        generic_code = f"G{generic_numbers[atc]:03d}"
        for form_spec in forms.split(";"):
            form, specs = form_spec.split(":", 1)
            product = f"{form}{generic}" if form == "注射用" else f"{generic}{form}"
            for spec_number, spec in enumerate(specs.split(","), start=1):
                for maker in range(1, MAKERS + 1):
                    code = f"X{atc}{generic_code}{FORMS[form]}{spec_number:02d}01{maker:05d}"
                    name = f"{product} {spec}"
                    level, klass = _drug_class(generic, marks)
                    cap = ""
                    if _digest(code) % 3 == 0:  # a third carry a unit price cap (illustrative)
                        cap = _yuan(Decimal(1 + _digest(name) % 400) / 10)
                    yield _row(code, name, "09", level, pric_uplmt=cap, **klass)


def chinese() -> Iterator[dict[str, str]]:
    numbers: dict[str, int] = {}
    for category, name, marks, specs in _rows(CHINESE):
        numbers[category] = numbers.get(category, 0) + 1
        name_code = f"Z{numbers[category]:03d}"
        form = next((f for f in sorted(FORMS, key=len, reverse=True) if name.endswith(f)), "丸")
        for spec_number, spec in enumerate(specs.split(","), start=1):
            for maker in range(1, 5):
                code = f"Z{category}{name_code}{FORMS[form]}{spec_number:02d}01{maker:05d}"
                cap = _yuan(Decimal(5 + _digest(code) % 600) / 10) if _digest(code) % 4 == 0 else ""
                level, klass = _drug_class(name, marks)
                yield _row(code, f"{name} {spec}", "11", level, pric_uplmt=cap, **klass)


#: 炮制 part of a 饮片 code: 00 生用 and the sample's own numbers for the processing methods it names.
PROCESSING = {
    "": "00",
    "炒": "01",
    "麸炒": "02",
    "焦": "03",
    "炭": "04",
    "蜜": "05",
    "炙": "05",
    "酒": "06",
    "醋": "07",
    "盐": "08",
    "姜": "09",
    "米炒": "10",
    "制": "11",
    "法": "12",
    "煅": "13",
    "粉": "14",
    "珠": "15",
    "醋炭": "16",
    "熟": "17",
    "淡": "18",
    "黑顺片": "19",
}


def herbs() -> Iterator[dict[str, str]]:
    for number, (name, variants, marks) in enumerate(_rows(HERBS), start=1):
        for variant in variants.split(","):
            if variant in ("炭", "醋炭", "粉", "珠", "黑顺片", "焦"):
                label = f"{name}{variant}" if variant != "黑顺片" else "黑顺片"
                if variant == "醋炭":
                    label = f"醋{name}炭"
            elif variant:
                label = f"{variant}{name}"
            else:
                label = name
            for origin in range(1, 3):
                code = f"T{number:04d}{PROCESSING[variant]}{origin:03d}"
                level = "3" if "P" in marks else "1" if _digest(label) % 5 < 3 else "2"
                share = SELF_PAY_SHARES[_digest(label) % 2] if level == "2" else "0"
                yield _row(code, label, "10", level, selfpay_prop=share)


def services() -> Iterator[dict[str, str]]:
    for kind, project, name, price, marks in _rows(SERVICES):
        code = f"00{project}0000"
        base = Decimal(price)
        extra: dict[str, str] = {"special_item": "1" if "S" in marks else "0"}
        if "P" in marks:
            yield _row(code, name, kind, "3", **extra)
            continue
        if "L" in marks:  # caps by hospital level: level 3 the base price, level 2 90 %, level 1 80 %
            extra.update(
                pric_uplmt_lv1=_yuan(base * Decimal("0.8")),
                pric_uplmt_lv2=_yuan(base * Decimal("0.9")),
                pric_uplmt_lv3=_yuan(base),
            )
        else:
            extra["pric_uplmt"] = _yuan(base)
        if "S" in marks:  # special examinations and treatments: 乙类 with a self-pay-first share
            yield _row(code, name, kind, "2", selfpay_prop="0.1000", **extra)
        else:
            yield _row(code, name, kind, "1", **extra)


def consumables() -> Iterator[dict[str, str]]:
    numbers: dict[str, int] = {}
    for first, second, third, name, marks, specs in _rows(CONSUMABLES):
        group = f"{first}{second}{third}"
        numbers[group] = numbers.get(group, 0) + 1
        for spec_number, spec in enumerate(specs.split(","), start=1):
            for maker in range(1, 4):
                material = 11 + _digest(name) % 20  # the sample's material number of the generic name
                code = f"C{group}{numbers[group]:03d}{material:02d}{spec_number:03d}{maker:05d}"
                if "S" in marks:  # high-value consumables: 乙类, self-pay first, capped
                    cap = _yuan(Decimal(1000 + _digest(code) % 20000))
                    yield _row(
                        code,
                        f"{name} {spec}",
                        "08",
                        "2",
                        selfpay_prop="0.1000",
                        pric_uplmt=cap,
                        special_item="1",
                    )
                else:
                    cap = _yuan(Decimal(5 + _digest(code) % 2000) / 10)
                    yield _row(code, f"{name} {spec}", "08", "1", pric_uplmt=cap)


def legacy() -> Iterator[dict[str, str]]:
    for code, name, kind, level, share, cap, marks in LEGACY:
        yield _row(
            code, name, kind, level, selfpay_prop=share, pric_uplmt=cap, **{mark: "1" for mark in marks}
        )


def render() -> str:
    rows = [*legacy(), *western(), *chinese(), *herbs(), *services(), *consumables()]
    codes = [row["med_list_codg"] for row in rows]
    duplicates = {code for code in codes if codes.count(code) > 1} if len(set(codes)) != len(codes) else set()
    if duplicates:
        raise SystemExit(f"duplicate codes: {sorted(duplicates)[:10]}")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs from the output")
    args = parser.parse_args()
    text = render()
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUT} is not what {Path(__file__).name} writes; run it")
        return
    OUT.write_text(text, encoding="utf-8")
    print(f"{OUT}: {text.count(chr(10)) - 1} items")


if __name__ == "__main__":
    main()

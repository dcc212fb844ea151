"""Hand-made legacy exports for the migration tests: every figure the tests check follows from these rows."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from enrollment.legacy.exports import LAYOUTS
from settlement.institutions.legacy import COLUMNS as INSTITUTION_COLUMNS

from shared.idcard import make_id_number

REGION = "341524"
#: The migration runs on 1 June 2026: 2026 is the current year, earlier years are history.
TODAY = date(2026, 6, 1)

CERT_A = make_id_number(REGION, date(1985, 3, 12), 13)  # male, URBMI only
CERT_B = make_id_number(REGION, date(1990, 7, 1), 24)  # female, in both
CERT_C = make_id_number(REGION, date(1970, 1, 1), 35)  # in both, names differ
CERT_D_BAD = make_id_number(REGION, date(1975, 5, 5), 57)[:-1] + "Y"  # broken check character
CERT_E = make_id_number(REGION, date(2000, 2, 2), 46)  # female, NCMS, 2026 half paid
CERT_F = make_id_number(REGION, date(1960, 6, 6), 67)  # registered before, same name
CERT_G = make_id_number(REGION, date(1965, 8, 8), 78)  # female, registered before, another name
CERT_D = CERT_D_BAD

URBMI = {
    "persons.csv": [
        ["U1", CERT_A, "张三", "1", "1985-03-12", REGION],
        # The birth date is keyed wrong (the ID number says 1990-07-01).
        ["U2", CERT_B, "李秀英", "2", "1990-07-02", REGION],
        ["U3", CERT_C, "王五", "1", "1970-01-01", REGION],
        ["U4", CERT_F, "赵六", "1", "1960-06-06", REGION],
    ],
    "enrollments.csv": [
        ["U1", "2024", REGION, "180.00", "", ""],
        ["U1", "2025", REGION, "180.00", "", ""],
        ["U1", "2026", REGION, "180.00", "", ""],
        ["U2", "2022", REGION, "180.00", "", ""],
        ["U2", "2023", REGION, "180.00", "", ""],
        ["U2", "2026", REGION, "180.00", "", ""],
        ["U3", "2026", REGION, "180.00", "", ""],
        ["U4", "2026", REGION, "180.00", "", ""],
    ],
    "payments.csv": [
        ["U1", "2024", "individual", "180.00", "RU1-2024", "2023-10-10"],
        ["U1", "2025", "individual", "180.00", "RU1-2025", "2024-10-10"],
        ["U1", "2026", "individual", "100.00", "RU1-2026a", "2025-10-10"],
        ["U1", "2026", "village_collective", "80.00", "RU1-2026b", "2025-10-12"],
        ["U2", "2022", "individual", "180.00", "RU2-2022", "2021-10-01"],
        ["U2", "2023", "individual", "180.00", "RU2-2023", "2022-10-01"],
        ["U2", "2026", "individual", "180.00", "RU2-2026", "2025-10-01"],
        ["U3", "2026", "individual", "180.00", "RU3-2026", "2025-10-01"],
        ["U4", "2026", "individual", "180.00", "RU4-2026", "2025-09-20"],
    ],
    "identities.csv": [],
    "cards.csv": [
        ["U1", "CA00000001", "SNA0000001", "active", "2019-05-01"],
        ["U2", "CB00000001", "SNB0000001", "active", "2020-01-01"],
    ],
}
NCMS = {
    "persons.csv": [
        ["N1", CERT_B, "李秀英", "2", "1990-07-01", REGION],
        ["N2", CERT_C, "王武", "1", "1970-01-01", REGION],
        ["N3", CERT_D, "孙八", "1", "1975-05-05", REGION],
        ["N4", CERT_E, "周九", "2", "2000-02-02", REGION],
        ["N5", CERT_G, "钱琪", "2", "1965-08-08", REGION],
    ],
    "enrollments.csv": [
        ["N1", "2024", REGION, "150.00", "", ""],
        ["N1", "2025", REGION, "150.00", "", ""],
        ["N1", "2026", REGION, "150.00", "", ""],
        ["N3", "2026", REGION, "150.00", "", ""],
        ["N4", "2025", REGION, "150.00", "", ""],
        ["N4", "2026", REGION, "150.00", "", ""],
        ["N5", "2026", REGION, "150.00", "", ""],
    ],
    "payments.csv": [
        ["N1", "2024", "medical_assistance", "150.00", "RN1-2024", "2023-11-15"],
        ["N1", "2025", "medical_assistance", "150.00", "RN1-2025", "2024-11-15"],
        # Paid later than URBMI's 2026 payment (2025-10-01): NCMS wins 2026.
        ["N1", "2026", "medical_assistance", "150.00", "RN1-2026", "2025-11-15"],
        ["N3", "2026", "individual", "150.00", "RN3-2026", "2025-11-01"],
        ["N4", "2025", "individual", "150.00", "RN4-2025", "2024-11-01"],
        ["N4", "2026", "individual", "75.00", "RN4-2026", "2025-11-01"],
        ["N5", "2026", "individual", "150.00", "RN5-2026", "2025-11-01"],
    ],
    "identities.csv": [["N1", "2102", "2024-01-01", ""]],
    "cards.csv": [["N1", "CB00000002", "SNB0000002", "active", "2023-03-01"]],
}
#: (legacy code, national code, name, type, level, region, agreement begin, end) per list.
URBMI_INSTITUTIONS = [
    ["U-H1", "H34152400001", "金寨县人民医院", "1", "2", REGION, "2010-01-01", "2024-12-31"],
    ["U-P1", "P34152400001", "惠民大药房", "2", "9", REGION, "2015-01-01", ""],
    ["U-H3", "H34152400003", "城关社区卫生服务中心", "1", "1", REGION, "2012-01-01", ""],
]
NCMS_INSTITUTIONS = [
    ["N-H1", "H34152400001", "金寨县人民医院", "1", "2", REGION, "2008-01-01", "2025-12-31"],
    ["N-H2", "H34152400002", "梅山镇中心卫生院", "1", "1", REGION, "2008-01-01", ""],
    # The same code as URBMI's community centre, listed as level 2: a clerk decides.
    ["N-H3", "H34152400003", "城关社区卫生服务中心", "1", "2", REGION, "2012-01-01", ""],
]


def write_export(
    folder: Path, files: dict[str, list[list[str]]], institutions: list[list[str]] | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        required, optional = LAYOUTS[name]
        with (folder / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(required + optional)
            writer.writerows(rows)
    if institutions is not None:
        with (folder / "institutions.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(INSTITUTION_COLUMNS)
            writer.writerows(institutions)
    return folder


def write_pair(root: Path) -> tuple[Path, Path]:
    return (
        write_export(root / "urbmi", URBMI, URBMI_INSTITUTIONS),
        write_export(root / "ncms", NCMS, NCMS_INSTITUTIONS),
    )

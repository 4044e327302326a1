"""Media uploads: simple, multipart submissions, link downloads, sniffing and expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest

from sprout_sandbox.media import PART_SIZE, sniff
from tests.sandbox.platform_fixtures import AUTH, CUSTOMER, mp4, png, stand_in_sandbox

MEDIA = f"/v1/{CUSTOMER}/media/"
SUBMISSION = f"/v1/{CUSTOMER}/media/submission"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with stand_in_sandbox() as (_, client):
        yield client


def _file(content: bytes, field: str = "media") -> dict[str, tuple[str, bytes]]:
    return {field: ("upload.bin", content)}


def _start(client: httpx.Client, first_part: bytes) -> str:
    response = client.post(SUBMISSION, headers=AUTH, files=_file(first_part))
    assert response.status_code == 200, response.text
    return str(response.json()["data"][0]["submission_id"])


def _part(client: httpx.Client, submission_id: str, number: int, content: bytes) -> httpx.Response:
    return client.post(
        f"{SUBMISSION}/{submission_id}/part/{number}", headers=AUTH, files=_file(content)
    )


def _complete(client: httpx.Client, submission_id: str) -> dict[str, str]:
    """Poll completion as a client should: never before ``wait_until``."""
    for _ in range(20):
        response = client.get(f"{SUBMISSION}/{submission_id}", headers=AUTH)
        item = response.json()["data"][0]
        if response.status_code == 200:
            return dict(item)
        assert response.status_code == 202
        wait_until = datetime.fromisoformat(item["wait_until"].replace("Z", "+00:00"))
        time.sleep(max(0.0, (wait_until - datetime.now(UTC)).total_seconds()) + 0.01)
    raise AssertionError("the submission never completed")


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video/x-msvideo"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00", "video/quicktime"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00", "image/avif"),
        (b"\x00\x00\x01\xba\x44\x00", "video/mpeg"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x82\x88matroska", "video/x-matroska"),
        (b"1\n00:00:01,000 --> 00:00:02,000\nHi", "application/x-subrip"),
        (b"%PDF-1.7", None),
        (b"just some text", None),
    ],
    ids=[
        "jpeg",
        "png",
        "gif",
        "webp",
        "avi",
        "mp4",
        "mov",
        "heic",
        "avif",
        "mpeg",
        "webm",
        "mkv",
        "srt",
        "pdf",
        "text",
    ],
)
def test_media_types_are_identified_by_magic_bytes(head: bytes, mime: str | None) -> None:
    assert sniff(head) == mime


def test_simple_upload_returns_a_media_id_valid_for_24_hours(client: httpx.Client) -> None:
    response = client.post(MEDIA, headers=AUTH, files={"media": ("photo.gif", png(), "image/gif")})
    assert response.status_code == 200
    (item,) = response.json()["data"]
    assert set(item) == {"media_id", "expiration_time"}
    assert item["expiration_time"] == "2026-03-11T12:00:00Z"


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        (_file(b"%PDF-1.7 not a picture"), 400, "not a supported media type"),
        (_file(b""), 400, "is empty"),
        (_file(png(), field="picture"), 400, "needs a `media` file part or a `media_url`"),
        ({"media_url": (None, b"ftp://example.com/a.jpg")}, 400, "http:// or https://"),
        ({"media_url": (None, b"https://example.com/report.pdf")}, 400, "not a supported"),
    ],
    ids=["unknown-content", "empty", "wrong-field", "ftp-url", "unknown-extension"],
)
def test_simple_upload_refusals(
    client: httpx.Client, files: dict[str, tuple[str | None, bytes]], status: int, message: str
) -> None:
    response = client.post(MEDIA, headers=AUTH, files=files)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_link_download_stands_in_for_the_linked_file(client: httpx.Client) -> None:
    form = {"media_url": (None, b"https://my.public.media.com/my_file.jpg")}
    response = client.post(MEDIA, headers=AUTH, files=form)
    assert response.status_code == 200
    assert response.json()["data"][0]["expiration_time"] == "2026-03-11T12:00:00Z"


def test_multipart_upload_answers_202_until_wait_until_then_200(client: httpx.Client) -> None:
    video = mp4(2 * PART_SIZE + 1234)
    submission_id = _start(client, video[:PART_SIZE])
    assert _part(client, submission_id, 2, video[PART_SIZE : 2 * PART_SIZE]).status_code == 200
    last = _part(client, submission_id, 3, video[2 * PART_SIZE :])
    assert last.status_code == 200
    assert last.content == b""
    started = datetime.now(UTC)
    first = client.get(f"{SUBMISSION}/{submission_id}", headers=AUTH)
    assert first.status_code == 202
    item = first.json()["data"][0]
    assert item["submission_id"] == submission_id
    wait_until = datetime.fromisoformat(item["wait_until"].replace("Z", "+00:00"))
    assert 0.2 < (wait_until - started).total_seconds() < 1.0
    again = client.get(f"{SUBMISSION}/{submission_id}", headers=AUTH)
    assert again.status_code == 202
    assert again.json()["data"][0]["wait_until"] == item["wait_until"]
    done = _complete(client, submission_id)
    assert datetime.now(UTC) >= wait_until
    assert done["expiration_time"] == "2026-03-11T12:00:00Z"
    repeated = client.get(f"{SUBMISSION}/{submission_id}", headers=AUTH).json()["data"][0]
    assert repeated == done


def test_parts_may_arrive_in_parallel_and_be_sent_again(client: httpx.Client) -> None:
    video = mp4(4 * PART_SIZE + 10)
    chunks = [video[i : i + PART_SIZE] for i in range(0, len(video), PART_SIZE)]
    submission_id = _start(client, chunks[0])
    numbered = list(enumerate(chunks, start=1))[1:]
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(
            pool.map(lambda item: _part(client, submission_id, *item).status_code, numbered[::-1])
        )
    assert statuses == [200, 200, 200, 200]
    assert _part(client, submission_id, 3, chunks[2]).status_code == 200
    assert set(_complete(client, submission_id)) == {"media_id", "expiration_time"}
    after = _part(client, submission_id, 2, chunks[1])
    assert after.status_code == 400
    assert "already completed" in after.json()["error"]


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([(2, PART_SIZE + 1)], "Part 2 is 5242881 bytes; parts are 5242880 bytes."),
        ([(2, 1000), (3, 1000)], "Part 2 is 1000 bytes but is not the last part"),
        ([(3, 1000), (2, 1000)], "Part 2 is 1000 bytes but is not the last part"),
    ],
    ids=["part-too-big", "short-part-before-another", "short-part-arriving-late"],
)
def test_every_part_but_the_last_is_exactly_5_mib(
    client: httpx.Client, parts: list[tuple[int, int]], message: str
) -> None:
    submission_id = _start(client, mp4(PART_SIZE))
    *accepted, (number, size) = parts
    for accepted_number, accepted_size in accepted:
        assert _part(client, submission_id, accepted_number, b"\x00" * accepted_size).is_success
    response = _part(client, submission_id, number, b"\x00" * size)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_a_short_first_part_cannot_be_followed_by_more(client: httpx.Client) -> None:
    submission_id = _start(client, mp4(1000))
    response = _part(client, submission_id, 2, b"\x00" * 10)
    assert response.status_code == 400
    assert response.json()["error"].startswith("Part 1 is 1000 bytes but is not the last part")


def test_a_small_file_is_one_part(client: httpx.Client) -> None:
    submission_id = _start(client, png(2000))
    assert set(_complete(client, submission_id)) == {"media_id", "expiration_time"}


@pytest.mark.parametrize("number", ["1", "0", "two"], ids=["one", "zero", "word"])
def test_part_numbers_start_at_2(client: httpx.Client, number: str) -> None:
    submission_id = _start(client, mp4(PART_SIZE))
    response = client.post(
        f"{SUBMISSION}/{submission_id}/part/{number}", headers=AUTH, files=_file(b"\x00")
    )
    assert response.status_code == 400
    assert "from 2 to" in response.json()["error"]


def test_completion_needs_every_part(client: httpx.Client) -> None:
    submission_id = _start(client, mp4(PART_SIZE))
    assert _part(client, submission_id, 3, b"\x00" * 100).status_code == 200
    response = client.get(f"{SUBMISSION}/{submission_id}", headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"] == "Part 2 was never uploaded: upload it, then complete."


def test_first_part_is_sniffed_and_limited(client: httpx.Client) -> None:
    unknown = client.post(SUBMISSION, headers=AUTH, files=_file(b"MZ\x90\x00" * 100))
    assert unknown.status_code == 400
    assert "not a supported media type" in unknown.json()["error"]
    too_big = client.post(SUBMISSION, headers=AUTH, files=_file(mp4(PART_SIZE + 1)))
    assert too_big.status_code == 400
    assert "part 1 is 5242881 bytes; the limit is 5242880 bytes" in too_big.json()["error"]


def test_unknown_submission_is_404(client: httpx.Client) -> None:
    response = client.get(f"{SUBMISSION}/no-such-id", headers=AUTH)
    assert response.status_code == 404
    assert "no-such-id" in response.json()["error"]


def test_link_submission_completes_without_parts(client: httpx.Client) -> None:
    form = {"media_url": (None, b"https://cdn.example.com/videos/launch.mp4?sig=1")}
    response = client.post(SUBMISSION, headers=AUTH, files=form)
    submission_id = response.json()["data"][0]["submission_id"]
    refused = _part(client, submission_id, 2, b"\x00")
    assert refused.status_code == 400
    assert "takes no parts" in refused.json()["error"]
    assert set(_complete(client, submission_id)) == {"media_id", "expiration_time"}


def test_submissions_expire_24_hours_after_start() -> None:
    with stand_in_sandbox() as (_, client):
        submission_id = _start(client, mp4(PART_SIZE))
        client.post("/_sandbox/clock", json={"advance": "PT23H59M"})
        assert _part(client, submission_id, 2, b"\x00" * 10).status_code == 200
        client.post("/_sandbox/clock", json={"advance": 60})
        late_part = _part(client, submission_id, 3, b"\x00" * 10)
        late_complete = client.get(f"{SUBMISSION}/{submission_id}", headers=AUTH)
    for response in (late_part, late_complete):
        assert response.status_code == 400
        assert "expired at 2026-03-11T12:00:00Z" in response.json()["error"]

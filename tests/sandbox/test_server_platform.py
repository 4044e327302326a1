"""The sandbox over real HTTP on loopback: the whole app, OAuth, publishing and streaming."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from sprout_sandbox.config import SandboxConfig, Scale
from sprout_sandbox.media import SIMPLE_UPLOAD_LIMIT
from sprout_sandbox.server import RunningSandbox, run_sandbox
from tests.sandbox.platform_fixtures import AUTH, mp4, png

CLOCK = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SMALL = Scale(customers=2, profiles=9, groups=2, users=3, tags=4, days=20, topics=1)
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    config = SandboxConfig(seed=11, scale=SMALL, now=CLOCK, requests_per_minute=10_000)
    with run_sandbox(config) as running:
        yield running


def test_serves_the_generated_world_on_a_free_loopback_port(sandbox: RunningSandbox) -> None:
    assert sandbox.base_url.startswith("http://127.0.0.1:")
    assert not sandbox.base_url.endswith(":0")
    response = httpx.get(f"{sandbox.base_url}/v1/metadata/client", headers=AUTH)
    assert response.status_code == 200
    expected = sorted(c["customer_id"] for c in sandbox.world.customers())
    assert sorted(row["customer_id"] for row in response.json()["data"]) == expected
    assert uuid.UUID(response.headers["x-sprout-request-id"])
    assert response.headers["x-sprout-server-version"] == "1.1.3018"


def test_oauth_token_reads_the_api(sandbox: RunningSandbox) -> None:
    token = httpx.post(
        sandbox.token_url,
        data={
            "grant_type": "client_credentials",
            "scope": "organization_id",
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
        },
    ).json()["access_token"]
    customer = sandbox.world.customers()[0]["customer_id"]
    response = httpx.get(
        f"{sandbox.base_url}/v1/{customer}/metadata/customer",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert len(response.json()["data"]) == SMALL.profiles


def test_a_draft_with_media_for_generated_profiles(sandbox: RunningSandbox) -> None:
    world = sandbox.world
    customer = world.customers()[0]["customer_id"]
    group = world.groups(customer)[0]["group_id"]
    profiles = [p["customer_profile_id"] for p in world.profiles(customer) if group in p["groups"]]
    with httpx.Client(base_url=sandbox.base_url, headers=AUTH) as client:
        media = client.post(f"/v1/{customer}/media/", files={"media": ("x", png())}).json()
        body = {
            "group_id": group,
            "customer_profile_ids": profiles[:2],
            "is_draft": True,
            "text": "Launch day",
            "delivery": {"scheduled_times": ["2026-12-05T10:00:30Z"], "type": "SCHEDULED"},
            "media": [{"media_id": media["data"][0]["media_id"], "media_type": "PHOTO"}],
        }
        created = client.post(f"/v1/{customer}/publishing/posts", json=body)
    assert created.status_code == 200, created.text
    data = created.json()["data"]
    assert [d["customer_profile_id"] for d in data] == [str(p) for p in profiles[:2]]
    assert {d["internal"]["publishing"]["deliveries"][0]["scheduled_time"] for d in data} == {
        "2026-12-05T10:00:00Z"
    }


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def _multipart_stream(size: int, boundary: str) -> tuple[Iterator[bytes], int]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="media"; '
        f'filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        yield mp4(MIB)
        block = b"\x00" * MIB
        for _ in range(size // MIB - 1):
            yield block
        yield tail

    return chunks(), len(head) + size + len(tail)


def test_a_60_mib_upload_streams_without_growing_memory(sandbox: RunningSandbox) -> None:
    customer = sandbox.world.customers()[0]["customer_id"]
    boundary = uuid.uuid4().hex
    body, length = _multipart_stream(60 * MIB, boundary)
    baseline = _rss_bytes()
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        response = httpx.post(
            f"{sandbox.base_url}/v1/{customer}/media/",
            headers={
                **AUTH,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            },
            content=body,
            timeout=60,
        )
    finally:
        done.set()
        sampler.join()
    assert response.status_code == 413
    assert f"the limit is {SIMPLE_UPLOAD_LIMIT} bytes (50 MiB)" in response.json()["error"]
    assert peak[0] - baseline < 30 * MIB


def test_the_server_stops_when_the_block_ends() -> None:
    config = SandboxConfig(seed=11, scale=SMALL, now=CLOCK)
    with run_sandbox(config) as running:
        assert httpx.get(f"{running.base_url}/_sandbox/state").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.base_url}/_sandbox/state", timeout=2)

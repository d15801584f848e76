"""Downloading inbound media from Meta: resolve the id to a short-lived URL, fetch it with the
token, check size and SHA-256, resolve again once when the URL has expired."""

from __future__ import annotations

import base64
import hashlib

import pytest

from sync.providers.base import AuthError, NotSent
from sync.providers.meta_cloud import MEDIA_URL_TTL, MediaCorrupt, MediaUnavailable
from tests.sync.providers.meta_cloud.harness import harness

pytestmark = pytest.mark.anyio

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20


class Clock:
    """A clock tests move by hand (shared by the fake and the adapter)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_fetch_media_returns_the_bytes_and_checks_them() -> None:
    async with harness() as h:
        media_id = h.fake.add_media(JPEG, "image/jpeg")
        webhook_sha = base64.b64encode(hashlib.sha256(JPEG).digest()).decode()
        fetched = await h.adapter.fetch_media(media_id, expected_sha256=webhook_sha)
        assert fetched.data == JPEG
        assert fetched.mime_type == "image/jpeg"
        assert fetched.sha256 == hashlib.sha256(JPEG).hexdigest()
        assert "bytes" in repr(fetched) and str(JPEG[:4]) not in repr(fetched)
        assert h.fake.resolves[media_id] == 1
        assert h.fake.downloads == 1


async def test_url_is_reused_within_its_lifetime_and_resolved_again_after() -> None:
    clock = Clock()
    async with harness(clock=clock) as h:
        media_id = h.fake.add_media(JPEG, "image/jpeg")
        await h.adapter.fetch_media(media_id)
        clock.now += MEDIA_URL_TTL - 10
        await h.adapter.fetch_media(media_id)
        assert h.fake.resolves[media_id] == 1
        clock.now += 60  # past the adapter's margin, close to Meta's 5 minutes
        fetched = await h.adapter.fetch_media(media_id)
        assert fetched.data == JPEG
        assert h.fake.resolves[media_id] == 2
        assert h.fake.downloads == 3


async def test_a_url_refused_as_expired_is_resolved_again_once() -> None:
    async with harness() as h:
        media_id = h.fake.add_media(JPEG, "image/jpeg")
        await h.adapter.fetch_media(media_id)
        h.fake.expire_media_urls()  # Meta's clock ran out before ours
        fetched = await h.adapter.fetch_media(media_id)
        assert fetched.data == JPEG
        assert h.fake.resolves[media_id] == 2
        assert h.fake.downloads == 3  # first, refused, retried


async def test_only_once() -> None:
    async with harness() as h:
        media_id = h.fake.add_media(JPEG, "image/jpeg")
        await h.adapter.fetch_media(media_id)
        h.fake.expire_media_urls()
        h.fake.media_url_ttl = 0  # every new URL is dead on arrival
        with pytest.raises(MediaUnavailable):
            await h.adapter.fetch_media(media_id)
        assert h.fake.resolves[media_id] == 2
        # A fresh URL refused at once is not resolved again in a loop.
        with pytest.raises(MediaUnavailable):
            await h.adapter.fetch_media(media_id)
        assert h.fake.resolves[media_id] == 3


async def test_corrupt_or_mismatched_media_is_refused() -> None:
    async with harness() as h:
        media_id = h.fake.add_media(JPEG, "image/jpeg")
        with pytest.raises(MediaCorrupt):
            await h.adapter.fetch_media(media_id, expected_sha256="A" * 43 + "=")
        with pytest.raises(MediaCorrupt):
            await h.adapter.fetch_media(media_id, expected_sha256="0" * 64)
        h.fake.corrupt_media(media_id)
        with pytest.raises(MediaCorrupt):
            await h.adapter.fetch_media(media_id)


async def test_media_larger_than_allowed_is_not_read_whole() -> None:
    async with harness() as h:
        media_id = h.fake.add_media(JPEG, "image/jpeg")
        with pytest.raises(MediaCorrupt):
            await h.adapter.fetch_media(media_id, max_bytes=100)


async def test_unknown_or_malformed_media_ids() -> None:
    async with harness() as h:
        with pytest.raises(MediaUnavailable):
            await h.adapter.fetch_media("123456789")
        for bad in ("", "../v23.0/109876543210987", "a b", "x" * 200):
            with pytest.raises(MediaUnavailable):
                await h.adapter.fetch_media(bad)
        assert h.fake.requests == [("GET", "/v23.0/123456789")]


async def test_the_token_is_never_sent_in_clear_to_another_host() -> None:
    async with harness(media_url_base="http://media.example.invalid") as h:
        media_id = h.fake.add_media(JPEG, "image/jpeg")
        with pytest.raises(MediaUnavailable):
            await h.adapter.fetch_media(media_id)
        assert h.fake.downloads == 0


async def test_refused_token_and_unreachable_meta() -> None:
    async with harness() as h:
        media_id = h.fake.add_media(JPEG, "image/jpeg")
        h.arrange("refused")
        with pytest.raises(NotSent):
            await h.adapter.fetch_media(media_id)
        h.fake.access_token = "rotated"
        with pytest.raises(AuthError):
            await h.adapter.fetch_media(media_id)

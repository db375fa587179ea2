"""The render cache's bound: least recently used images go first, by bytes."""

from __future__ import annotations

from openpacs.services.render_cache import RenderCache


def test_least_recently_used_images_go_first() -> None:
    cache = RenderCache(max_bytes=800)
    for n in range(8):
        cache.put(n, bytes(100))  # 800 bytes: all kept
    assert len(cache) == 8
    assert cache.get(0) is not None  # used: now the most recent
    cache.put(8, bytes(100))  # 900 bytes: the least recent (1) goes
    assert cache.get(1) is None
    assert cache.get(0) is not None and cache.get(8) is not None
    assert len(cache) == 8


def test_an_image_larger_than_an_eighth_is_not_kept() -> None:
    cache = RenderCache(max_bytes=800)
    cache.put("small", bytes(100))
    cache.put("big", bytes(101))
    assert cache.get("big") is None
    assert cache.get("small") == bytes(100)


def test_putting_a_key_again_replaces_its_bytes() -> None:
    cache = RenderCache(max_bytes=800)
    cache.put("k", bytes(100))
    cache.put("k", b"x" * 50)
    assert cache.get("k") == b"x" * 50
    for n in range(7):
        cache.put(n, bytes(100))
    assert cache.get("k") == b"x" * 50  # 750 bytes: nothing had to go

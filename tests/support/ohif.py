"""Driving the real OHIF viewer in headless Chromium: what is on screen, and what went over
the network.

* The installed bundle: the tests use the one ``make test`` installs (``make viewer``)
  into the virtual environment; without it they skip with the reason, except in CI.
* The viewport: OHIF exposes Cornerstone on ``window.cornerstone``; the tests read the
  viewport's image index, its VOI window and where an image pixel lands on the canvas
  (``worldToCanvas``), then compare the canvas's pixels at landmarks with the
  server's own rendering of the same frame (``/rendered`` with the same window).
* The network log (Chromium's performance log): every response of the session, so a
  test can say that none was a 4xx or 5xx, and which frames were fetched.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pytest
from PIL import Image

from openpacs.ohif.bundle import load_bundle
from openpacs.ohif.release import default_root, release_for
from tests.support.browser import wait_for

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


def ohif_missing() -> str:
    """Why the OHIF bundle cannot be used here ("" when it is installed)."""
    try:
        load_bundle(default_root(), release_for())
    except Exception as exc:  # BundleError, or an unreadable installation
        return f"OHIF is not installed ({exc}): run `make viewer`"
    return ""


def require_ohif() -> None:
    """Skip (fail in CI) when the OHIF bundle is not installed."""
    message = ohif_missing()
    if message:
        if os.environ.get("CI"):
            pytest.fail(message + " -- CI must run the OHIF tests")
        pytest.skip(message)


def thumbnail_series(driver: WebDriver) -> set[str]:
    """The series numbers of the thumbnails in OHIF's study browser (side panel)."""
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, '[data-cy="study-browser-thumbnail"]')
    return {str(element.get_attribute("data-series")) for element in found}


# -- the network log ------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    url: str
    status: int
    mime: str
    content_type: str  # the Content-Type header, with its parameters (transfer-syntax=...)


def network_log(driver: WebDriver) -> tuple[list[Exchange], list[str]]:
    """Responses and failed loads since the last call (the log is drained by reading)."""
    responses: list[Exchange] = []
    failures: list[str] = []
    urls: dict[str, str] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message["method"], message["params"]
        if method == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif method == "Network.responseReceived":
            response = params["response"]
            headers = {k.lower(): str(v) for k, v in response.get("headers", {}).items()}
            responses.append(
                Exchange(
                    response["url"],
                    response["status"],
                    response["mimeType"],
                    headers.get("content-type", ""),
                )
            )
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            url = urls.get(params["requestId"], "?")
            if url.startswith("http"):  # not the browser's own chrome:// pages
                failures.append(f"{url}: {params.get('errorText')}")
    return responses, failures


def assert_clean_session(exchanges: list[Exchange], failures: list[str], origin: str) -> None:
    """Nothing answered 4xx/5xx, nothing failed, nothing asked of another origin."""
    bad = [f"{e.status} {e.url}" for e in exchanges if e.status >= 400]
    assert bad == [], bad
    assert failures == [], failures
    foreign = [
        e.url for e in exchanges if e.url.startswith("http") and not e.url.startswith(origin)
    ]
    assert foreign == [], foreign


# -- OHIF's page ----------------------------------------------------------------------------

_DISMISS = (
    "//button[normalize-space()='Confirm and hide']",  # the investigational-use notice
    "//*[normalize-space()='Skip all']",  # the first-visit tour
)


def dismiss_notices(driver: WebDriver) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    for xpath in _DISMISS:
        for element in driver.find_elements(By.XPATH, xpath):
            # Gone meanwhile, or covered: the next call tries again.
            with contextlib.suppress(WebDriverException):
                element.click()


VIEWPORT_STATE = """
const cs = window.cornerstone;
if (!cs || !cs.getEnabledElements) { return null; }
const found = cs.getEnabledElements().map(e => e.viewport).filter(v => v.getImageData);
if (!found.length) { return null; }
const v = found[0];
const data = v.getImageData();
if (!data) { return null; }
const ids = v.getImageIds();
const idx = v.getCurrentImageIdIndex();
const voi = v.getProperties().voiRange;
const dims = data.dimensions;
const corner = (i, j) => v.worldToCanvas(data.imageData.indexToWorld([i, j, 0]));
return {index: idx, count: ids.length, imageId: ids[idx], dims: dims, voi: voi,
        origin: corner(0, 0), far: corner(dims[0] - 1, dims[1] - 1),
        canvas: [v.canvas.clientWidth, v.canvas.clientHeight]};
"""


@dataclass(frozen=True)
class ViewportState:
    index: int
    count: int
    image_id: str
    columns: int
    rows: int
    voi: tuple[float, float]
    origin: tuple[float, float]  # canvas position of pixel (0, 0)
    far: tuple[float, float]  # canvas position of the last pixel

    def canvas_point(self, column: float, row: float) -> tuple[float, float]:
        fx = column / max(self.columns - 1, 1)
        fy = row / max(self.rows - 1, 1)
        return (
            self.origin[0] + fx * (self.far[0] - self.origin[0]),
            self.origin[1] + fy * (self.far[1] - self.origin[1]),
        )

    @property
    def scale(self) -> float:
        """Canvas pixels per image pixel."""
        return (self.far[1] - self.origin[1]) / max(self.rows - 1, 1)

    @property
    def window(self) -> str:
        """The VOI as the DICOMweb ``window`` parameter (DICOM's linear function)."""
        lower, upper = self.voi
        return f"{(lower + upper + 1) / 2},{upper - lower + 1},linear"


def viewport_state(driver: WebDriver) -> ViewportState | None:
    raw: dict[str, Any] | None = driver.execute_script(VIEWPORT_STATE)
    if not raw or raw["voi"] is None:
        return None
    return ViewportState(
        index=int(raw["index"]),
        count=int(raw["count"]),
        image_id=str(raw["imageId"]),
        columns=int(raw["dims"][0]),
        rows=int(raw["dims"][1]),
        voi=(float(raw["voi"]["lower"]), float(raw["voi"]["upper"])),
        origin=(float(raw["origin"][0]), float(raw["origin"][1])),
        far=(float(raw["far"][0]), float(raw["far"][1])),
    )


def wait_for_image(driver: WebDriver, timeout: float = 60.0) -> ViewportState:
    def shown() -> ViewportState | None:
        dismiss_notices(driver)
        return viewport_state(driver)

    return wait_for(shown, timeout=timeout, what="an image in OHIF's viewport")


def canvas_pixels(driver: WebDriver) -> np.ndarray[Any, Any]:
    """What the viewport's canvas holds, as grey levels at CSS-pixel resolution.

    Read from the canvas itself, not from a screenshot: OHIF draws its overlays (orientation
    markers, the patient text, notices) as HTML over the canvas, and a screenshot would
    compare those with the server's rendering.
    """
    import base64

    url, width, height = driver.execute_script(
        "const c = document.querySelector('canvas.cornerstone-canvas');"
        "return [c.toDataURL('image/png'), c.clientWidth, c.clientHeight];"
    )
    png = base64.b64decode(str(url).split(",", 1)[1])
    picture = Image.open(io.BytesIO(png)).convert("L")
    if picture.size != (width, height):  # a device pixel ratio other than 1
        picture = picture.resize((int(width), int(height)), Image.Resampling.BILINEAR)
    return np.asarray(picture, dtype=np.float64)


def rendered_pixels(url: str, auth: Any, window: str) -> np.ndarray[Any, Any]:
    response = httpx.get(url, params={"window": window}, auth=auth, timeout=30)
    assert response.status_code == 200, response.text
    picture = Image.open(io.BytesIO(response.content)).convert("L")
    return np.asarray(picture, dtype=np.float64)


def patch_mean(pixels: np.ndarray[Any, Any], x: float, y: float, radius: int = 2) -> float:
    row, column = round(y), round(x)
    patch = pixels[
        max(row - radius, 0) : row + radius + 1, max(column - radius, 0) : column + radius + 1
    ]
    return float(patch.mean())


def landmark_differences(
    screen: np.ndarray[Any, Any],
    reference: np.ndarray[Any, Any],
    state: ViewportState,
    landmarks: list[tuple[float, float]],
) -> list[tuple[tuple[float, float], float, float]]:
    """(landmark as fractions of the image, screen grey, reference grey) per landmark."""
    found = []
    radius = max(1, round(state.rows / 128))  # a few image pixels: the noise averages out
    for fx, fy in landmarks:
        column, row = fx * (state.columns - 1), fy * (state.rows - 1)
        x, y = state.canvas_point(column, row)
        on_screen = patch_mean(screen, x, y, radius=max(1, round(radius * state.scale)))
        found.append(((fx, fy), on_screen, patch_mean(reference, column, row, radius=radius)))
    return found


def assert_shows(
    driver: WebDriver,
    state: ViewportState,
    rendered_url: str,
    auth: Any,
    landmarks: list[tuple[float, float]],
    tolerance: float = 24.0,
) -> None:
    """The viewport's pixels at ``landmarks`` equal the server's rendering of the frame."""
    screen = canvas_pixels(driver)
    reference = rendered_pixels(rendered_url, auth, state.window)
    compared = landmark_differences(screen, reference, state, landmarks)
    wrong = [c for c in compared if abs(c[1] - c[2]) > tolerance]
    assert wrong == [], f"screen and rendering differ at {wrong} (all: {compared})"
    # The landmarks are not all alike: the image is really there, not a flat canvas.
    values = [c[2] for c in compared]
    assert max(values) - min(values) > 80, compared

"""The one builder of study, series and instance URLs."""

from __future__ import annotations

import pytest

from openpacs.protocol.paths import ResourcePath

BASE = "https://pacs.example/dicomweb"


def test_study_series_and_instance_urls() -> None:
    assert ResourcePath("1.2").url(BASE) == f"{BASE}/studies/1.2"
    assert ResourcePath("1.2", "1.3").url(BASE) == f"{BASE}/studies/1.2/series/1.3"
    assert (
        ResourcePath("1.2", "1.3", "1.4").url(BASE)
        == f"{BASE}/studies/1.2/series/1.3/instances/1.4"
    )


def test_suffixes() -> None:
    instance = ResourcePath("1.2", "1.3", "1.4")
    assert instance.metadata(BASE) == f"{BASE}/studies/1.2/series/1.3/instances/1.4/metadata"
    assert instance.frames(BASE, 3).endswith("/instances/1.4/frames/3")
    assert instance.frames(BASE, "1,2").endswith("/frames/1,2")
    assert instance.url(BASE, "frames", "2", "rendered").endswith("/frames/2/rendered")
    assert instance.bulkdata(BASE, "00091010/0/7FE00010").endswith(
        "/instances/1.4/bulkdata/00091010/0/7FE00010"
    )
    assert ResourcePath("1.2", "1.3").url("", "thumbnail") == "/studies/1.2/series/1.3/thumbnail"


def test_a_value_that_is_not_a_clean_uid_stays_inside_its_segment() -> None:
    assert ResourcePath("a/b?c#d e").path == "/studies/a%2Fb%3Fc%23d%20e"
    assert ResourcePath("1.2", "x&y<z").path == "/studies/1.2/series/x%26y%3Cz"


def test_an_instance_needs_its_series() -> None:
    with pytest.raises(ValueError, match="series"):
        ResourcePath("1.2", None, "1.4")

"""WADO-RS against a real server: the whole corpus round-trips, metadata, bulk data, frames,
rendered images, negotiation, transcoding and ZIP, driven by dicomweb-client and httpx."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pydicom
import pytest
from PIL import Image

from tests.e2e.wado_support import (
    EVLE,
    NODE_ACCEPT,
    Stored,
    bulk_uris,
    dicomweb_client,
    element_value,
    expected_frames,
    is_encapsulated,
    load_corpus,
    split_multipart,
    stored_compressed_frames,
)
from tests.support.dicom_xml import comparable, xml_datasets
from tests.support.fileset import read_file_set
from tests.support.server import ServerProcess

JPEG_LS_LOSSLESS = "pydicom__MR_small_jpeg_ls_lossless.dcm"
JPEG_BASELINE = "pydicom__SC_rgb_jpeg_dcmtk.dcm"
MULTI_FRAME = "pydicom-data__eCT_Supplemental.dcm"


@pytest.fixture(scope="module")
def corpus(server: ServerProcess, corpus_dir: Path) -> list[Stored]:
    stored = load_corpus(server, corpus_dir)
    assert len(stored) >= 30
    return stored


@pytest.fixture(scope="module")
def by_name(corpus: list[Stored]) -> dict[str, Stored]:
    return {item.name: item for item in corpus}


@pytest.fixture(scope="module")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def get(http: httpx.Client, item: Stored, url: str, **headers: str) -> httpx.Response:
    return http.get(url, auth=item.account.auth, headers=headers)


# --------------------------------------------------------------------------- retrieve


def test_every_stored_file_round_trips_byte_exact(
    server: ServerProcess, corpus: list[Stored], http: httpx.Client
) -> None:
    for item in corpus:
        response = get(http, item, item.url(server))  # no Accept, like the PostDICOM clients
        assert response.status_code == 200, (item.name, response.headers.get("x-error-reason"))
        [(headers, body)] = split_multipart(response)
        assert body == item.data, item.name
        assert headers["content-type"] == (
            f"application/dicom; transfer-syntax={item.transfer_syntax}"
        )
        assert "x-error-reason" not in response.headers


def test_postdicom_forms_with_the_node_accept_header(
    server: ServerProcess, corpus: list[Stored], http: httpx.Client
) -> None:
    for item in corpus[:12]:
        instance = get(
            http, item, f"{server.dicomweb}/studies/series/instances/{item.sop}", Accept=NODE_ACCEPT
        )
        assert instance.status_code == 200
        assert 'type="application/dicom"' in instance.headers["content-type"]
        assert [body for _, body in split_multipart(instance)] == [item.data]
        series = get(http, item, f"{server.dicomweb}//studies/series/{item.series}/")
        expected = {i.data for i in corpus if i.account == item.account and i.series == item.series}
        assert {body for _, body in split_multipart(series)} == expected


def test_a_retrieve_as_stored_says_its_length_and_a_transcoded_one_is_chunked(
    server: ServerProcess, corpus: list[Stored], by_name: dict[str, Stored], http: httpx.Client
) -> None:
    counts: dict[tuple[object, str], int] = {}
    for stored in corpus:
        key = (stored.account, stored.series)
        counts[key] = counts.get(key, 0) + 1
    item = next(i for i in corpus if counts[i.account, i.series] > 1)
    series = get(http, item, f"{server.dicomweb}/studies/{item.study}/series/{item.series}")
    assert series.status_code == 200
    assert int(series.headers["content-length"]) == len(series.content)
    assert len(split_multipart(series)) == counts[item.account, item.series]

    jpeg_ls = by_name[JPEG_LS_LOSSLESS]
    transcoded = get(
        http,
        jpeg_ls,
        f"{server.dicomweb}/studies/{jpeg_ls.study}/series/{jpeg_ls.series}",
        Accept=f'multipart/related; type="application/dicom"; transfer-syntax={EVLE}',
    )
    assert transcoded.status_code == 200
    assert "content-length" not in transcoded.headers
    assert transcoded.headers["transfer-encoding"] == "chunked"


def test_dicomweb_client_retrieves_studies_series_and_instances(
    server: ServerProcess, corpus: list[Stored]
) -> None:
    accounts = {item.account for item in corpus}
    for account in accounts:
        client = dicomweb_client(server, account)
        mine = [i for i in corpus if i.account == account]
        for study in {i.study for i in mine}:
            got = client.retrieve_study(study)
            assert sorted(str(ds.SOPInstanceUID) for ds in got) == sorted(
                i.sop for i in mine if i.study == study
            )
        item = mine[0]
        [series_ds, *_] = client.retrieve_series(item.study, item.series)
        assert series_ds.StudyInstanceUID == item.study
        instance = client.retrieve_instance(item.study, item.series, item.sop)
        assert instance.SOPInstanceUID == item.sop


def test_another_accounts_uids_are_not_found(
    server: ServerProcess, corpus: list[Stored], http: httpx.Client
) -> None:
    stranger = server.create_account()
    item = corpus[0]
    for url in (
        f"{server.dicomweb}/studies/{item.study}",
        item.url(server),
        item.url(server) + "/metadata",
        item.url(server) + "/frames/1",
        item.url(server) + "/rendered",
        f"{server.dicomweb}/studies/series/instances/{item.sop}",
    ):
        response = http.get(url, auth=stranger.auth)
        assert response.status_code == 404, url
        assert "not found" in response.headers["x-error-reason"]
    assert http.delete(item.url(server), auth=stranger.auth).status_code == 404


# --------------------------------------------------------------------------- metadata, bulk


def test_metadata_and_every_bulk_data_uri(
    server: ServerProcess, corpus: list[Stored], http: httpx.Client
) -> None:
    checked = 0
    for item in corpus:
        client = dicomweb_client(server, item.account)
        meta = client.retrieve_instance_metadata(item.study, item.series, item.sop)
        assert meta["00080018"]["Value"] == [item.sop]
        assert "@@" not in str(meta)
        for uri in bulk_uris(meta):
            assert uri.startswith(item.url(server) + "/bulkdata/"), uri
            path = uri.rsplit("/bulkdata/", 1)[1]
            single = http.get(
                uri, auth=item.account.auth, headers={"Accept": "application/octet-stream"}
            )
            assert single.status_code == 200, (item.name, path, single.headers)
            assert single.content == element_value(item, path), (item.name, path)
            checked += 1
    assert checked >= 10
    pixel = next(i for i in corpus if i.name == "pydicom__CT_small.dcm")
    client = dicomweb_client(server, pixel.account)
    [part] = client.retrieve_bulkdata(pixel.url(server) + "/bulkdata/7FE00010")
    assert part == element_value(pixel, "7FE00010")


def test_metadata_levels_and_gzip(
    server: ServerProcess, corpus: list[Stored], http: httpx.Client
) -> None:
    item = max(
        corpus, key=lambda i: sum(j.account == i.account and j.study == i.study for j in corpus)
    )
    same_study = [i for i in corpus if i.account == item.account and i.study == item.study]
    url = f"{server.dicomweb}/studies/{item.study}/metadata"
    plain = get(http, item, url, **{"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    assert plain.headers["content-type"].startswith("application/dicom+json")
    zipped = get(http, item, url, **{"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.json() == plain.json()
    assert sorted(m["00080018"]["Value"][0] for m in plain.json()) == sorted(
        i.sop for i in same_study
    )
    series = get(
        http, item, f"{server.dicomweb}/studies/{item.study}/series/{item.series}/metadata"
    )
    assert {m["0020000E"]["Value"][0] for m in series.json()} == {item.series}
    node = get(http, item, url, Accept=NODE_ACCEPT)
    assert node.status_code == 200 and node.json() == plain.json()


def metadata_urls(
    server: ServerProcess, corpus: list[Stored], level: str
) -> dict[tuple[str, str], Stored]:
    """(``/metadata`` URL, account) of every study, series or instance of the corpus."""
    urls: dict[tuple[str, str], Stored] = {}
    for item in corpus:
        study = f"{server.dicomweb}/studies/{item.study}"
        series = f"{study}/series/{item.series}"
        url = {"study": study, "series": series, "instance": item.url(server)}[level]
        urls.setdefault((f"{url}/metadata", item.account.email), item)
    return urls


@pytest.mark.parametrize("level", ["study", "series", "instance"])
@pytest.mark.parametrize(
    "accept", ['multipart/related; type="application/dicom+xml"', "application/dicom+xml"]
)
def test_metadata_as_xml_says_what_the_json_says(
    server: ServerProcess, corpus: list[Stored], http: httpx.Client, accept: str, level: str
) -> None:
    """PS3.18 10.4.1.1.2 / PS3.19: one Native DICOM Model document per instance, for every
    corpus file (sequences, private tags, bulk data URIs, non-ASCII names), at the study,
    series and instance level, gzip too."""
    for (url, _), item in metadata_urls(server, corpus, level).items():
        as_json = get(http, item, url, **{"Accept-Encoding": "identity"})
        as_xml = get(http, item, url, Accept=accept, **{"Accept-Encoding": "gzip"})
        assert as_xml.status_code == 200, as_xml.text
        assert as_xml.headers["content-encoding"] == "gzip"
        assert 'type="application/dicom+xml"' in as_xml.headers["content-type"]
        assert xml_datasets(as_xml) == [comparable(m) for m in as_json.json()]


def test_bulk_data_errors(server: ServerProcess, corpus: list[Stored], http: httpx.Client) -> None:
    item = corpus[0]
    assert get(http, item, item.url(server) + "/bulkdata/nonsense").status_code == 400
    missing = get(http, item, item.url(server) + "/bulkdata/00991234")
    assert missing.status_code == 404


# --------------------------------------------------------------------------- frames


def test_frames_equal_pydicom_decoding(server: ServerProcess, corpus: list[Stored]) -> None:
    checked = []
    for item in corpus:
        expected = expected_frames(item)
        if expected is None:
            continue
        client = dicomweb_client(server, item.account)
        numbers = list(range(1, len(expected) + 1))
        got = client.retrieve_instance_frames(item.study, item.series, item.sop, numbers)
        assert len(got) == len(expected), item.name
        for n, (mine, theirs) in enumerate(zip(got, expected, strict=True), 1):
            assert mine == theirs, (item.name, n, len(mine), len(theirs))
        checked.append(item.name)
    assert len(checked) >= 20, checked


def test_compressed_frames_as_stored(
    server: ServerProcess, corpus: list[Stored], http: httpx.Client
) -> None:
    media = {
        "1.2.840.10008.1.2.4.50": "image/jpeg",
        "1.2.840.10008.1.2.4.80": "image/jls",
        "1.2.840.10008.1.2.4.90": "image/jp2",
        "1.2.840.10008.1.2.5": "image/dicom-rle",
    }
    seen = set()
    for item in corpus:
        if not is_encapsulated(item):
            continue
        expected = stored_compressed_frames(item)
        url = item.url(server) + "/frames/" + ",".join(str(n + 1) for n in range(len(expected)))
        star = get(http, item, url, Accept='multipart/related; type="*/*"; transfer-syntax=*')
        assert star.status_code == 200, (item.name, star.headers.get("x-error-reason"))
        parts = split_multipart(star)
        assert [body for _, body in parts] == expected, item.name
        assert parts[0][0]["content-type"].endswith(f"transfer-syntax={item.transfer_syntax}")
        if item.transfer_syntax in media:
            wanted = media[item.transfer_syntax]
            direct = get(http, item, url, Accept=f'multipart/related; type="{wanted}"')
            assert direct.status_code == 200, item.name
            assert [b for _, b in split_multipart(direct)] == expected
            assert split_multipart(direct)[0][0]["content-type"].startswith(wanted)
            seen.add(wanted)
    assert seen == set(media.values())


def test_frame_number_errors(
    server: ServerProcess, by_name: dict[str, Stored], http: httpx.Client
) -> None:
    item = by_name[MULTI_FRAME]
    base = item.url(server) + "/frames/"
    for bad in ("0", "abc", "1,x", "-1", "1.5"):
        response = get(http, item, base + bad)
        assert response.status_code == 400, bad
        assert response.headers["x-error-reason"]
    beyond = get(http, item, base + "3")
    assert beyond.status_code == 404
    assert "2 frame" in beyond.headers["x-error-reason"]
    no_pixels = by_name["pydicom__test-SR.dcm"]
    assert get(http, no_pixels, no_pixels.url(server) + "/frames/1").status_code == 404
    two = get(http, item, base + "2,1")
    assert [p[0]["content-location"].rsplit("/", 1)[1] for p in split_multipart(two)] == ["2", "1"]


# --------------------------------------------------------------------------- rendered


def test_every_decodable_image_renders(server: ServerProcess, corpus: list[Stored]) -> None:
    rendered = 0
    for item in corpus:
        if expected_frames(item) is None:
            continue
        client = dicomweb_client(server, item.account)
        jpeg = client.retrieve_instance_rendered(item.study, item.series, item.sop)
        assert Image.open(io.BytesIO(jpeg)).format == "JPEG", item.name
        png = client.retrieve_instance_rendered(
            item.study, item.series, item.sop, media_types=("image/png",)
        )
        assert Image.open(io.BytesIO(png)).format == "PNG", item.name
        rendered += 1
    assert rendered >= 20


def test_rendered_frames_thumbnails_and_parameters(
    server: ServerProcess, by_name: dict[str, Stored], http: httpx.Client
) -> None:
    item = by_name[MULTI_FRAME]
    client = dicomweb_client(server, item.account)
    frame = client.retrieve_instance_frames_rendered(item.study, item.series, item.sop, [2])
    assert Image.open(io.BytesIO(frame)).size == (512, 512)
    url = item.url(server)
    small = get(http, item, url + "/rendered?viewport=64,64&quality=50&window=40,400")
    assert small.status_code == 200 and small.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(small.content)).size) == 64
    for level in (
        f"{server.dicomweb}/studies/{item.study}",
        url.rsplit("/instances/", 1)[0],
        url,
        url + "/frames/1",
    ):
        thumb = get(http, item, level + "/thumbnail", Accept=NODE_ACCEPT)
        assert thumb.status_code == 200, level
        assert max(Image.open(io.BytesIO(thumb.content)).size) <= 128
    png = get(http, item, url + "/thumbnail?accept=image/png")
    assert png.headers["content-type"] == "image/png"
    for query in ("window=abc", "quality=0", "quality=101", "viewport=0,10"):
        assert get(http, item, f"{url}/rendered?{query}").status_code == 400, query
    several = get(http, item, url + "/frames/1,2/rendered")
    assert len(split_multipart(several)) == 2
    study = get(http, item, f"{server.dicomweb}/studies/{item.study}/rendered")
    assert study.status_code == 200
    assert all(h["content-type"] == "image/jpeg" for h, _ in split_multipart(study))
    sr = by_name["pydicom__test-SR.dcm"]
    assert get(http, sr, sr.url(server) + "/rendered").status_code == 404


# --------------------------------------------------------------------------- negotiation


def test_accept_negotiation(
    server: ServerProcess, by_name: dict[str, Stored], http: httpx.Client
) -> None:
    item = by_name["pydicom__CT_small.dcm"]
    url = item.url(server)
    cases = {
        'multipart/related; type="application/dicom"': 200,
        'multipart/related; type="application/dicom"; transfer-syntax=*': 200,
        "application/zip;q=0.5, multipart/related;q=0.9": 200,
        "*/*": 200,
        "application/json": 406,
        "image/jpeg": 406,
        'multipart/related; type="application/dicom"; q=0': 406,
        "multipart/related; q=abc": 400,
        "not a media type": 400,
    }
    for accept, status in cases.items():
        response = get(http, item, url, Accept=accept)
        assert response.status_code == status, (accept, response.headers.get("x-error-reason"))
        if status == 200:
            assert [b for _, b in split_multipart(response)] == [item.data], accept
    single = get(http, item, url, Accept="application/dicom")
    assert single.status_code == 200 and single.content == item.data
    assert single.headers["content-type"].startswith("application/dicom")
    by_query = get(http, item, url + "?accept=application/json", Accept="*/*")
    assert by_query.status_code == 406


def test_transcoding(server: ServerProcess, by_name: dict[str, Stored], http: httpx.Client) -> None:
    item = by_name[JPEG_LS_LOSSLESS]
    response = get(
        http,
        item,
        item.url(server),
        Accept=f'multipart/related; type="application/dicom"; transfer-syntax={EVLE}',
    )
    assert response.status_code == 200, response.headers.get("x-error-reason")
    [(headers, body)] = split_multipart(response)
    assert headers["content-type"] == f"application/dicom; transfer-syntax={EVLE}"
    ds = pydicom.dcmread(io.BytesIO(body))
    assert ds.file_meta.TransferSyntaxUID == EVLE
    assert ds.SOPInstanceUID == item.sop
    assert np.array_equal(ds.pixel_array, pydicom.dcmread(item.path).pixel_array)

    jpeg_target = "1.2.840.10008.1.2.4.50"
    refused = get(
        http,
        item,
        item.url(server),
        Accept=f'multipart/related; type="application/dicom"; transfer-syntax={jpeg_target}',
    )
    assert refused.status_code == 406
    assert jpeg_target in refused.headers["x-error-reason"]
    lossy = by_name[JPEG_BASELINE]
    rle = get(
        http,
        lossy,
        lossy.url(server),
        Accept='multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.5',
    )
    assert rle.status_code == 406
    assert lossy.sop in rle.headers["x-error-reason"]


def file_set_entries(root: Path, listed: dict[str, str]) -> list[bool]:
    return [
        pydicom.dcmread(Path(path), stop_before_pixels=True).SOPInstanceUID == sop
        and Path(path).is_relative_to(root)
        for sop, path in listed.items()
    ]


def test_zip_download_of_a_study_and_a_series(
    server: ServerProcess, corpus: list[Stored], http: httpx.Client, tmp_path: Path
) -> None:
    item = max(
        corpus, key=lambda i: sum(j.account == i.account and j.study == i.study for j in corpus)
    )
    same_study = [i for i in corpus if i.account == item.account and i.study == item.study]
    response = get(http, item, f"{server.dicomweb}/studies/{item.study}?accept=application/zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[-1] == "DICOMDIR"  # a patient-CD file set: every file listed there
    files = names[:-1]
    assert all(re.fullmatch(r"DICOM/PAT\d{5}/STU\d{5}/SER\d{5}/IMG\d{5}", n) for n in files)
    assert sorted(archive.read(n) for n in files) == sorted(i.data for i in same_study)
    archive.extractall(tmp_path)
    with read_file_set(tmp_path / "DICOMDIR") as file_set:
        listed = {i.SOPInstanceUID: i.path for i in file_set}
    assert set(listed) == {i.sop for i in same_study}
    for entry in file_set_entries(tmp_path, listed):
        assert entry  # each referenced file exists and is the instance it claims
    series = get(
        http,
        item,
        f"{server.dicomweb}/studies/{item.study}/series/{item.series}",
        Accept="application/zip",
    )
    assert series.status_code == 200
    members = zipfile.ZipFile(io.BytesIO(series.content)).namelist()
    assert len(members) == sum(i.series == item.series for i in same_study) + 1  # DICOMDIR
    assert get(http, item, item.url(server), Accept="application/zip").status_code == 406

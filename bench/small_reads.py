"""The small reads a viewer makes by the thousand, on a small archive (group ``small``).

Run first, before any other load, so that the archive holds exactly what this group
stores: 5 studies, the first with one series of 5 CT 512x512 instances, the others with
one 64x64 instance each. One client, one request after the other; figure: p50 latency.

* ``small_rendered``: ``/rendered`` of one 512x512 instance, Accept image/jpeg (a JPEG of
  512x512, decoded and size-checked);
* ``small_thumbnail``: ``/thumbnail`` of one instance (a JPEG, at most 128x128);
* ``small_frame``: ``frames/1`` of one 512x512 instance (the exact pixel bytes);
* ``small_instance``: one instance, multipart DICOM (the exact file);
* ``small_series_metadata``: ``/series/{uid}/metadata`` of the 5-instance series;
* ``small_qido_studies``: ``/studies`` of the whole 5-study archive (the exact set);
* ``small_study``: the 5-instance study, multipart DICOM (reported, no goal).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import orjson

from bench.dataset import InstanceSpec, frame_bytes, make_instance, study_specs
from bench.harness import (
    DICOM,
    DICOM_JSON,
    OCTETS,
    check,
    expect_status,
    json_values,
    multipart_body,
)

if TYPE_CHECKING:
    from bench.scenarios import Bench, GetRequest, Scenario

SERIES_INSTANCES = 5
OTHER_STUDIES = 4
#: The goal of every small read: at least this ratio to Orthanc (issue 20).
GOAL = 1.5


def small_scenarios(bench: Bench) -> list[Scenario]:
    from bench.scenarios import (
        Scenario,
        _StowRequest,
        dicom_parts,
        frame_part,
        get_scenario,
        instance_path,
        jpeg_image,
        metadata_items,
        stow_run,
    )

    z = bench.sizes
    series: list[InstanceSpec] = []
    data: dict[str, bytes] = {}
    studies: set[str] = set()

    def prepare(_: int) -> list[list[_StowRequest]]:
        main = list(
            study_specs(
                1, instances_per_series=SERIES_INSTANCES, seed="bench-small", patient_offset=600_000
            )
        )
        others = list(
            study_specs(
                OTHER_STUDIES,
                seed="bench-small-others",
                rows=64,
                columns=64,
                patient_offset=600_010,
            )
        )
        made = [make_instance(spec, seed=300 + n) for n, spec in enumerate([*main, *others])]
        series[:] = main
        data.update({s.sop_uid: d for s, d in zip([*main, *others], made, strict=True)})
        studies.update(s.study_uid for s in [*main, *others])
        bench.universe.add([*main, *others])
        request = _StowRequest(multipart_body(made), [s.sop_uid for s in [*main, *others]])
        return [[request]]

    def rendered(rng: random.Random) -> GetRequest:
        spec = rng.choice(series)
        return instance_path(spec) + "/rendered", "image/jpeg", jpeg_image(512, 512)

    def thumbnail(rng: random.Random) -> GetRequest:
        spec = rng.choice(series)
        return instance_path(spec) + "/thumbnail", "image/jpeg", jpeg_image(128, 128, at_most=True)

    def frame(rng: random.Random) -> GetRequest:
        spec = rng.choice(series)
        expected = frame_bytes(spec, data[spec.sop_uid], 1)
        return instance_path(spec) + "/frames/1", OCTETS, frame_part(expected)

    def instance(rng: random.Random) -> GetRequest:
        spec = rng.choice(series)
        return instance_path(spec), DICOM, dicom_parts(data, [spec.sop_uid])

    def metadata(_: random.Random) -> GetRequest:
        first = series[0]
        path = f"/studies/{first.study_uid}/series/{first.series_uid}/metadata"
        return path, DICOM_JSON, metadata_items([s.sop_uid for s in series], first.study_uid)

    def search(_: random.Random) -> GetRequest:
        return "/studies", DICOM_JSON, study_set

    def study(_: random.Random) -> GetRequest:
        first = series[0]
        return f"/studies/{first.study_uid}", DICOM, dicom_parts(data, [s.sop_uid for s in series])

    def study_set(response: httpx.Response) -> int:
        expect_status(response, 200)
        items = orjson.loads(response.content)
        check(isinstance(items, list), "QIDO answer is not a JSON list")
        got = json_values(items, "0020000D")
        check(sorted(got) == sorted(studies), f"{len(got)} studies, {len(studies)} due")
        return len(got)

    def make(
        name: str,
        what: str,
        request: Callable[[random.Random], GetRequest],
        goal: float | None = GOAL,
    ) -> Scenario:
        return get_scenario(
            name, "small", what, z.small_rounds, z.small_reads, request, target=goal
        )

    load = Scenario(
        "load_small_archive",
        "small",
        f"load 5 studies: a series of {SERIES_INSTANCES} CT 512x512 and "
        f"{OTHER_STUDIES} studies of one 64x64 instance (1 request)",
        1,
        prepare,
        stow_run,
        item_unit="instances",
        figure="throughput",
    )
    return [
        load,
        make("small_rendered", "rendered JPEG of a 512x512 CT instance", rendered),
        make("small_thumbnail", "thumbnail (JPEG) of a 512x512 CT instance", thumbnail),
        make("small_frame", "frames/1 of a 512x512 CT instance", frame),
        make("small_instance", "one 512x512 CT instance (multipart DICOM)", instance),
        make(
            "small_series_metadata", f"metadata of a {SERIES_INSTANCES}-instance series", metadata
        ),
        make("small_qido_studies", "QIDO /studies on a 5-study archive", search),
        make("small_study", f"a {SERIES_INSTANCES}-instance study (multipart DICOM)", study, None),
    ]

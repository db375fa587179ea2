"""Small synthetic instances for service tests: one study per tag, numbered series."""

from __future__ import annotations

from dataclasses import replace

from bench.dataset import InstanceSpec, det_uid


def small_spec(tag: str, series: int | None, number: int | None, **kw: object) -> InstanceSpec:
    """An 8x8 CT instance of study ``tag``; ``kw`` overrides any field."""
    base = InstanceSpec(
        patient_id="P1",
        patient_name="Test^Tess",
        study_uid=det_uid(tag, "study"),
        series_uid=det_uid(tag, "series", series),
        sop_uid=det_uid(tag, "sop", series, number),
        study_date="20240101",
        accession="ACC1",
        modality="CT",
        instance_number=number or 0,
        series_number=series or 0,
        rows=8,
        columns=8,
    )
    return replace(base, **kw)  # type: ignore[arg-type]

"""Deterministic synthetic DICOM data for tests and benchmarks.

The same seed always gives the same UIDs and bytes, so two servers can be loaded with
identical data and answers can be verified exactly.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, CTImageStorage, ExplicitVRLittleEndian

UID_ROOT = "1.2.826.0.1.3680043.10.1415"
SURNAMES = ["Smith", "Jansen", "De Vries", "Müller", "Garcia", "Nguyen", "Kowalski", "Ito"]
GIVEN = ["Anna", "Bram", "Chen", "Dana", "Emre", "Fleur", "Goran", "Hana"]


def det_uid(*parts: object) -> str:
    """A valid, stable UID derived from the parts (at most 64 characters)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()
    number = str(int(digest[:30], 16))
    return f"{UID_ROOT}.{number}"[:64].rstrip(".")


@dataclass(frozen=True)
class InstanceSpec:
    patient_id: str
    patient_name: str
    study_uid: str
    series_uid: str
    sop_uid: str
    study_date: str
    accession: str
    modality: str
    instance_number: int
    series_number: int = 1
    rows: int = 512
    columns: int = 512
    frames: int = 1


def make_instance(spec: InstanceSpec, seed: int = 0) -> bytes:
    """A complete Part-10 CT file (16-bit, Explicit VR Little Endian)."""
    rng = np.random.default_rng(seed)
    shape = (spec.frames, spec.rows, spec.columns) if spec.frames > 1 else (spec.rows, spec.columns)
    pixels = rng.integers(0, 2000, size=shape, dtype=np.int16)
    return _encode(spec, pixels.tobytes())


def make_header(spec: InstanceSpec) -> bytes:
    """The Part-10 file of ``spec`` up to (not including) Pixel Data, the last element.

    Appending a Pixel Data element of the right length makes it complete: that is how
    tests stream instances of a gigabyte without holding one in memory.
    """
    return _encode(spec, None)


def _encode(spec: InstanceSpec, pixel_data: bytes | None) -> bytes:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = spec.sop_uid
    ds.StudyInstanceUID = spec.study_uid
    ds.SeriesInstanceUID = spec.series_uid
    ds.PatientID = spec.patient_id
    ds.PatientName = spec.patient_name
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = spec.study_date
    ds.StudyTime = "120000"
    ds.SeriesDate = spec.study_date
    ds.AccessionNumber = spec.accession
    ds.StudyID = "1"
    ds.StudyDescription = "Synthetic study"
    ds.SeriesDescription = f"Synthetic series {spec.series_number}"
    ds.ReferringPhysicianName = "Referrer^Rita"
    ds.Modality = spec.modality
    ds.SeriesNumber = spec.series_number
    ds.InstanceNumber = spec.instance_number
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.Rows = spec.rows
    ds.Columns = spec.columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = 1.0
    ds.ImagePositionPatient = [0.0, 0.0, float(spec.instance_number)]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    if spec.frames > 1:
        ds.NumberOfFrames = spec.frames
    if pixel_data is not None:
        ds.PixelData = pixel_data

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def study_specs(
    n_studies: int,
    *,
    series_per_study: int = 1,
    instances_per_series: int = 1,
    seed: str = "openpacs",
    rows: int = 512,
    columns: int = 512,
    patient_offset: int = 0,
) -> Iterator[InstanceSpec]:
    """Studies spread over patients, dates in 2015-2024, names with shared prefixes.

    Study ``s`` belongs to patient ``patient_offset + s // 2`` (two studies per patient);
    a different ``patient_offset`` keeps the patients of two data sets apart.
    """
    start = date(2015, 1, 1)
    for s in range(n_studies):
        patient = patient_offset + s // 2
        study_uid = det_uid(seed, "study", s)
        name = patient_name(patient)
        study_date = (start + timedelta(days=(s * 37) % 3650)).strftime("%Y%m%d")
        for r in range(series_per_study):
            series_uid = det_uid(seed, "series", s, r)
            for i in range(instances_per_series):
                yield InstanceSpec(
                    patient_id=f"PAT{patient:06d}",
                    patient_name=name,
                    study_uid=study_uid,
                    series_uid=series_uid,
                    sop_uid=det_uid(seed, "sop", s, r, i),
                    study_date=study_date,
                    accession=f"ACC{s:07d}",
                    modality="CT" if r % 2 == 0 else "MR",
                    instance_number=i + 1,
                    series_number=r + 1,
                    rows=rows,
                    columns=columns,
                )


def pixel_data_length(spec: InstanceSpec) -> int:
    """Bytes of Pixel Data in ``make_instance(spec)``: it is the file's last element value."""
    return spec.frames * spec.rows * spec.columns * 2


def frame_bytes(spec: InstanceSpec, data: bytes, frame: int) -> bytes:
    """Frame ``frame`` (1-based) of ``data`` = ``make_instance(spec, ...)``, as stored."""
    size = spec.rows * spec.columns * 2
    pixels = data[len(data) - pixel_data_length(spec) :]
    return pixels[(frame - 1) * size : frame * size]


def patient_name(patient: int) -> str:
    """The PatientName that :func:`study_specs` gives patient number ``patient``."""
    return f"{SURNAMES[patient % len(SURNAMES)]}{patient:05d}^{GIVEN[patient % len(GIVEN)]}"

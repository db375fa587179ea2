"""Media types of DICOMweb answers and the media types of compressed frames.

PS3.18 Table 8.7.3-5 names a media type per compressed transfer syntax; WADO-RS frames
sent as stored are labelled with it, and a client may ask for it by name.
"""

from __future__ import annotations

from typing import Final

DICOM: Final = "application/dicom"
DICOM_JSON: Final = "application/dicom+json"
DICOM_XML: Final = "application/dicom+xml"
OCTET_STREAM: Final = "application/octet-stream"
ZIP: Final = "application/zip"

EXPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2"
#: Native (uncompressed) little-endian syntaxes: their frames are plain pixel bytes.
NATIVE_LITTLE_ENDIAN: Final = frozenset({IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN})

#: PS3.18 Table 8.7.3-5: media types of compressed frames, by transfer syntax (the first
#: name is the one parts are labelled with; the others are accepted aliases).
FRAME_MEDIA_TYPES: Final[dict[str, tuple[str, ...]]] = {
    **dict.fromkeys(
        ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
         "1.2.840.10008.1.2.4.70"), ("image/jpeg",)),
    **dict.fromkeys(("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"),
                    ("image/jls", "image/x-jls")),
    **dict.fromkeys(("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"), ("image/jp2",)),
    **dict.fromkeys(("1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93"), ("image/jpx",)),
    **dict.fromkeys(("1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
                     "1.2.840.10008.1.2.4.203"), ("image/jphc",)),
    **dict.fromkeys(("1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.111",
                     "1.2.840.10008.1.2.4.112"), ("image/jxl",)),
    "1.2.840.10008.1.2.5": ("image/dicom-rle", "image/x-dicom-rle"),
}  # fmt: skip


def frame_media_type(transfer_syntax: str) -> str:
    """The media type of one frame in ``transfer_syntax`` (octet-stream when native)."""
    names = FRAME_MEDIA_TYPES.get(transfer_syntax)
    return names[0] if names else OCTET_STREAM

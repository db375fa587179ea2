"""Read a ``multipart/related; type="application/dicom+xml"`` answer back, independently of
the server's encoder, into the same comparable form as its DICOM JSON twin."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx

from tests.e2e.wado_support import split_multipart

NS = "{http://dicom.nema.org/PS3.19/models/NativeDICOM}"
_PN_COMPONENTS = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")
_NUMERIC_VRS = frozenset({"DS", "FD", "FL", "IS", "SL", "SS", "SV", "UL", "US", "UV"})

Comparable = dict[str, Any]


def xml_datasets(response: httpx.Response) -> list[Comparable]:
    """Every part of the answer, each checked to be an XML document, in comparable form."""
    out = []
    for headers, content in split_multipart(response):
        assert headers["content-type"] == "application/dicom+xml", headers
        root = ET.fromstring(content)  # noqa: S314 - our own server's answer in a test
        assert root.tag == NS + "NativeDicomModel"
        out.append(_from_xml(root))
    return out


def comparable(dataset: dict[str, Any]) -> Comparable:
    """A DICOM JSON object in the form :func:`xml_datasets` returns."""
    out: Comparable = {}
    for key, element in dataset.items():
        vr = element.get("vr", "UN")
        if "Value" in element:
            values = [_json_value(vr, v) for v in element["Value"]]
        elif "BulkDataURI" in element:
            values = [("bulk", element["BulkDataURI"])]
        elif "InlineBinary" in element:
            values = [("inline", element["InlineBinary"])]
        else:
            values = []
        out[key.upper()] = (vr, values)
    return out


def _json_value(vr: str, value: Any) -> Any:
    if value is None or value == "":  # an empty value: <Value number="n"/> in XML
        return None
    if vr == "SQ":
        return comparable(value)
    if vr == "PN":
        groups = {group: text.rstrip("^") for group, text in value.items() if text.rstrip("^")}
        return groups or None
    if vr in _NUMERIC_VRS:
        return float(value)
    return str(value)


def _from_xml(node: ET.Element) -> Comparable:
    out: Comparable = {}
    for attribute in node.findall(NS + "DicomAttribute"):
        vr = attribute.get("vr", "UN")
        values: list[Any] = []
        for child in attribute:
            name = child.tag.removeprefix(NS)
            if name == "Item":
                values.append(_from_xml(child))
            elif name == "PersonName":
                values.append(_person_name(child) if len(child) else None)
            elif name == "Value":
                text = child.text
                values.append(None if text is None else float(text) if vr in _NUMERIC_VRS else text)
            elif name == "BulkData":
                values.append(("bulk", child.get("uri")))
            elif name == "InlineBinary":
                values.append(("inline", child.text))
        out[attribute.get("tag", "")] = (vr, values)
    return out


def _person_name(node: ET.Element) -> dict[str, str]:
    groups = {}
    for group in node:
        parts = {c.tag.removeprefix(NS): c.text or "" for c in group}
        text = "^".join(parts.get(name, "") for name in _PN_COMPONENTS).rstrip("^")
        groups[group.tag.removeprefix(NS)] = text
    return groups

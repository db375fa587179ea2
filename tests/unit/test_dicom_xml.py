"""DICOM JSON -> PS3.19 Native DICOM Model XML (openpacs.protocol.dicom_xml)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest

from openpacs.dicom.ingest import parse_instance
from openpacs.protocol.dicom_xml import NATIVE_DICOM_MODEL_NS, dataset_to_xml, xml_parts
from openpacs.protocol.multipart import MultipartParser, PartData, PartStart, closing_delimiter

NS = {"d": NATIVE_DICOM_MODEL_NS}
DATA = Path(__file__).resolve().parents[1] / "data" / "dicom"


def parse(dataset: dict[str, object]) -> ET.Element:
    return ET.fromstring(dataset_to_xml(dataset))  # noqa: S314 - our own output


def attribute(root: ET.Element, tag: str) -> ET.Element:
    found = root.find(f"d:DicomAttribute[@tag='{tag}']", NS)
    assert found is not None, f"no DicomAttribute {tag}"
    return found


def test_document_root_is_the_native_dicom_model_with_preserved_space() -> None:
    xml = dataset_to_xml({})
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)  # noqa: S314 - our own output
    assert root.tag == f"{{{NATIVE_DICOM_MODEL_NS}}}NativeDicomModel"
    assert root.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"


def test_values_are_numbered_from_one_with_tag_vr_and_keyword() -> None:
    root = parse({"00080061": {"vr": "CS", "Value": ["CT", "MR"]}})
    element = attribute(root, "00080061")
    assert element.get("vr") == "CS"
    assert element.get("keyword") == "ModalitiesInStudy"
    values = element.findall("d:Value", NS)
    assert [(v.get("number"), v.text) for v in values] == [("1", "CT"), ("2", "MR")]


def test_numbers_keep_their_json_form() -> None:
    root = parse(
        {
            "00280010": {"vr": "US", "Value": [512]},
            "00280030": {"vr": "DS", "Value": [0.5, 0.488281]},
            "00201208": {"vr": "IS", "Value": [12]},
        }
    )
    assert attribute(root, "00280010").findtext("d:Value", namespaces=NS) == "512"
    spacing = [v.text for v in attribute(root, "00280030").findall("d:Value", NS)]
    assert spacing == ["0.5", "0.488281"]
    assert attribute(root, "00201208").findtext("d:Value", namespaces=NS) == "12"


def test_person_name_groups_are_split_into_components() -> None:
    root = parse(
        {
            "00100010": {
                "vr": "PN",
                "Value": [{"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎"}],
            }
        }
    )
    name = attribute(root, "00100010").find("d:PersonName[@number='1']", NS)
    assert name is not None
    assert name.findtext("d:Alphabetic/d:FamilyName", namespaces=NS) == "Yamada"
    assert name.findtext("d:Alphabetic/d:GivenName", namespaces=NS) == "Tarou"
    assert name.findtext("d:Ideographic/d:FamilyName", namespaces=NS) == "山田"
    assert name.find("d:Phonetic", NS) is None
    # Empty components are left out, later ones keep their names.
    root = parse({"00080090": {"vr": "PN", "Value": [{"Alphabetic": "Smith^^^Dr"}]}})
    group = attribute(root, "00080090").find("d:PersonName/d:Alphabetic", NS)
    assert group is not None
    assert [(c.tag.split("}")[1], c.text) for c in group] == [
        ("FamilyName", "Smith"),
        ("NamePrefix", "Dr"),
    ]


def test_sequences_nest_numbered_items() -> None:
    root = parse(
        {
            "00400275": {
                "vr": "SQ",
                "Value": [
                    {"00401001": {"vr": "SH", "Value": ["RP1"]}},
                    {"00401001": {"vr": "SH", "Value": ["RP2"]}},
                ],
            }
        }
    )
    items = attribute(root, "00400275").findall("d:Item", NS)
    assert [i.get("number") for i in items] == ["1", "2"]
    assert [attribute(i, "00401001").findtext("d:Value", namespaces=NS) for i in items] == [
        "RP1",
        "RP2",
    ]


def test_bulk_data_and_inline_binary() -> None:
    root = parse(
        {
            "7FE00010": {"vr": "OW", "BulkDataURI": "http://h/studies/1/bulkdata/7FE00010?a=1&b=2"},
            "00282000": {"vr": "OB", "InlineBinary": "AAEC"},
        }
    )
    bulk = attribute(root, "7FE00010").find("d:BulkData", NS)
    assert bulk is not None and bulk.get("uri") == "http://h/studies/1/bulkdata/7FE00010?a=1&b=2"
    assert attribute(root, "00282000").findtext("d:InlineBinary", namespaces=NS) == "AAEC"


def test_empty_attributes_and_null_values_keep_their_place() -> None:
    root = parse(
        {
            "00100020": {"vr": "LO"},
            "00200037": {"vr": "DS", "Value": [1, None, 0]},
            "00100010": {"vr": "PN", "Value": [None]},
        }
    )
    assert list(attribute(root, "00100020")) == []
    values = attribute(root, "00200037").findall("d:Value", NS)
    assert [(v.get("number"), v.text) for v in values] == [("1", "1"), ("2", None), ("3", "0")]
    assert attribute(root, "00100010").find("d:PersonName[@number='1']", NS) is not None


def test_private_elements_name_their_creator_and_no_keyword() -> None:
    root = parse(
        {
            "00090010": {"vr": "LO", "Value": ["GEMS_IDEN_01"]},
            "00091001": {"vr": "LO", "Value": ["x"]},
            "00091101": {"vr": "LO", "Value": ["y"]},
        }
    )
    data = attribute(root, "00091001")  # block 0x10: its creator is (0009,0010)
    assert data.get("keyword") is None
    assert data.get("privateCreator") == "GEMS_IDEN_01"
    orphan = attribute(root, "00091101")  # block 0x11 has no creator element
    assert orphan.get("privateCreator") is None


def test_markup_and_control_characters_cannot_break_the_document() -> None:
    text = 'a<b>&"c"\x00\x1bend'
    root = parse({"00081030": {"vr": "LO", "Value": [text]}})
    value = attribute(root, "00081030").findtext("d:Value", namespaces=NS)
    assert value == 'a<b>&"c"\ufffd\ufffdend'


def test_attributes_are_in_tag_order() -> None:
    root = parse({"0020000D": {"vr": "UI", "Value": ["1.2"]}, "00080020": {"vr": "DA"}})
    assert [e.get("tag") for e in root] == ["00080020", "0020000D"]


@pytest.mark.parametrize(
    "name",
    ["pydicom__CT_small.dcm", "pydicom__chrX1.dcm", "pydicom__rtplan.dcm", "pydicom__test-SR.dcm"],
)
def test_stored_metadata_of_real_files_converts(name: str) -> None:
    """What /metadata serves (the JSON computed at ingest) converts attribute for attribute."""
    parsed = parse_instance(DATA / name)
    dataset = orjson.loads(parsed.metadata_json)
    root = parse(dataset)
    assert len(root) == len(dataset)
    uid = attribute(root, "0020000D").findtext("d:Value", namespaces=NS)
    assert uid == parsed.study_instance_uid
    for element in root.iter(f"{{{NATIVE_DICOM_MODEL_NS}}}DicomAttribute"):
        assert len(element.get("tag", "")) == 8
        assert element.get("vr")


def test_line_ends_and_tabs_survive_a_parser() -> None:
    """A parser turns a literal CR into LF (and tabs in attributes into spaces)."""
    text = "line 1\r\nline 2\tend"
    root = parse(
        {
            "00104000": {"vr": "LT", "Value": [text]},
            "7FE00010": {"vr": "OW", "BulkDataURI": "http://h/a\tb"},
        }
    )
    assert attribute(root, "00104000").findtext("d:Value", namespaces=NS) == text
    bulk = attribute(root, "7FE00010").find("d:BulkData", NS)
    assert bulk is not None and bulk.get("uri") == "http://h/a\tb"


def test_parts_carry_one_document_each_and_accept_stored_json() -> None:
    datasets = [b'{"00100020":{"vr":"LO","Value":["A"]}}', {"00100020": {"vr": "LO"}}]
    body = xml_parts(datasets, "b0", first=True) + closing_delimiter("b0")
    parser = MultipartParser("b0")
    events = [*parser.feed(body), *parser.close()]
    starts = [e for e in events if isinstance(e, PartStart)]
    assert [s.headers["content-type"] for s in starts] == ["application/dicom+xml"] * 2
    documents = b"".join(e.data for e in events if isinstance(e, PartData)).split(b"<?xml")
    assert len([d for d in documents if d]) == 2
    # A later batch continues the body: its first part starts with the CRLF delimiter.
    assert xml_parts(datasets[:1], "b0", first=False).startswith(b"\r\n--b0\r\n")

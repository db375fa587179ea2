"""QIDO-RS search service over a real SQLite index: matching, scoping, paging, query plans."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson
import pytest
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.routing import Mount

from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import (
    Account,
    Instance,
    Institution,
    PatientOrder,
    Series,
    SeriesRequestAttributes,
    Study,
)
from openpacs.protocol.qido import Level, QidoError, normalise_person_name, parse_qido
from openpacs.protocol.qido import person_name_words as words
from openpacs.services.audit import AuditTrail
from openpacs.services.principal import Principal
from openpacs.services.search import (
    SearchResult,
    search,
    search_statement,
)
from openpacs.services.store import StoreService
from openpacs.settings import Settings
from openpacs.storage.factory import open_blob_store
from openpacs.web.context import AppContext
from openpacs.web.dicomweb.qido import QIDO_ROUTES
from openpacs.web.errors import HttpError, error_response

BASE = "http://pacs.test/dicomweb"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
PR_STATE = "1.2.840.10008.5.1.4.1.1.11.1"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def el(vr: str, *values: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": list(values)} if values else {"vr": vr}


def pn(name: str) -> dict[str, Any]:
    return {"vr": "PN", "Value": [{"Alphabetic": name}]}


@dataclass
class Ids:
    accounts: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)


class Builder:
    """Inserts index rows the way the store service would, with realistic JSON fragments."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.blob = 0

    def study(
        self,
        account_id: int,
        uid: str,
        *,
        patient_id: str,
        name: str,
        date: str = "",
        time: str = "",
        accession: str = "",
        description: str = "",
        sex: str = "",
        birth: str = "",
        referring: str = "",
        institution: str = "",
        order_id: int | None = None,
    ) -> Study:
        frag: dict[str, Any] = {
            "00080005": el("CS", "ISO_IR 192"),
            "00080020": el("DA", date) if date else el("DA"),
            "00080030": el("TM", time) if time else el("TM"),
            "00080050": el("SH", accession) if accession else el("SH"),
            "00080090": pn(referring) if referring else el("PN"),
            "00081030": el("LO", description) if description else el("LO"),
            "00100010": pn(name),
            "00100020": el("LO", patient_id),
            "00100030": el("DA", birth) if birth else el("DA"),
            "00100040": el("CS", sex) if sex else el("CS"),
            "00101010": el("AS", "050Y"),
            "0020000D": el("UI", uid),
            "00200010": el("SH", "1"),
        }
        study = Study(
            account_id=account_id,
            order_id=order_id,
            study_instance_uid=uid,
            specific_character_set="ISO_IR 192",
            patient_id=patient_id,
            patient_name=name,
            patient_name_norm=normalise_person_name(name),
            patient_name_words=" ".join(words(name)),
            patient_birth_date=birth,
            patient_sex=sex,
            study_date=date,
            study_time=time,
            accession_number=accession,
            referring_physician_name=referring,
            referring_physician_name_norm=normalise_person_name(referring),
            study_id="1",
            study_description=description,
            institution_name=institution,
            modalities_in_study="",
            study_json=orjson.dumps(dict(sorted(frag.items()))),
        )
        self.session.add(study)
        self.session.flush()
        return study

    def series(
        self,
        study: Study,
        uid: str,
        *,
        modality: str,
        number: int | None,
        description: str = "",
        body_part: str = "",
        institution: str = "",
        requests: tuple[tuple[str, str], ...] = (),
    ) -> Series:
        frag: dict[str, Any] = {
            "00080060": el("CS", modality),
            "0008103E": el("LO", description) if description else el("LO"),
            "0020000E": el("UI", uid),
            "00200011": el("IS", number) if number is not None else el("IS"),
            "00180015": el("CS", body_part) if body_part else el("CS"),
        }
        if requests:
            frag["00400275"] = {
                "vr": "SQ",
                "Value": [
                    {"00401001": el("SH", rp), "00400009": el("SH", sps)} for rp, sps in requests
                ],
            }
        series = Series(
            account_id=study.account_id,
            study_id=study.id,
            series_instance_uid=uid,
            modality=modality,
            series_number=number,
            series_description=description,
            body_part_examined=body_part,
            institution_name=institution,
            series_json=orjson.dumps(dict(sorted(frag.items()))),
        )
        self.session.add(series)
        self.session.flush()
        for rp, sps in requests:
            self.session.add(
                SeriesRequestAttributes(
                    account_id=study.account_id,
                    series_id=series.id,
                    requested_procedure_id=rp,
                    scheduled_procedure_step_id=sps,
                    study_instance_uid=study.study_instance_uid,
                )
            )
        study.num_series += 1
        if f"\\{modality}\\" not in study.modalities_in_study:
            study.modalities_in_study = (study.modalities_in_study or "\\") + modality + "\\"
        return series

    def instance(
        self, study: Study, series: Series, uid: str, number: int | None, sop_class: str
    ) -> Instance:
        self.blob += 1
        frag = {
            "00080016": el("UI", sop_class),
            "00080018": el("UI", uid),
            "00083002": el("UI", EXPLICIT_LE),
            "00200013": el("IS", number) if number is not None else el("IS"),
            "00280010": el("US", 64),
            "00280011": el("US", 64),
            "00280100": el("US", 16),
        }
        instance = Instance(
            account_id=study.account_id,
            study_id=study.id,
            series_id=series.id,
            sop_instance_uid=uid,
            sop_class_uid=sop_class,
            instance_number=number,
            transfer_syntax_uid=EXPLICIT_LE,
            rows=64,
            columns=64,
            bits_allocated=16,
            blob_key=f"blob/{self.blob}",
            instance_json=orjson.dumps(dict(sorted(frag.items()))),
        )
        self.session.add(instance)
        series.num_instances += 1
        study.num_instances += 1
        return instance


LITERAL_IDS = ["50%", "500", "5_0", "5x0", "O'Brien", "A\\B", "AxB", 'Q"1', "[x]"]


def _populate(db: Database) -> Ids:
    ids = Ids()
    with db.session() as session:
        b = Builder(session)
        for name in ("A", "B", "BIG"):
            account = Account(name=name)
            session.add(account)
            session.flush()
            ids.accounts[name] = account.id
        a = ids.accounts["A"]
        inst = Institution(account_id=a, name="Main", is_default=True)
        session.add(inst)
        session.flush()
        for key in ("o1", "o2"):
            order = PatientOrder(account_id=a, institution_id=inst.id, study_instance_uid="x" + key)
            session.add(order)
            session.flush()
            ids.orders[key] = order.id

        s1 = b.study(
            a, "1.1", patient_id="P1", name="Müller^Jürgen", date="20200115", time="101500",
            accession="ACC1", description="CT Head", sex="M", birth="19700101",
            referring="House^Gregory", institution="General Hospital", order_id=ids.orders["o1"],
        )  # fmt: skip
        ct = b.series(
            s1, "1.1.1", modality="CT", number=1, description="Axial", body_part="HEAD",
            institution="General Hospital", requests=(("RP1", "SPS1"), ("RP9", "SPS9")),
        )  # fmt: skip
        for n in (3, 1, 2):
            b.instance(s1, ct, f"1.1.1.{n}", n, CT_IMAGE)
        pr = b.series(s1, "1.1.2", modality="PR", number=2)
        b.instance(s1, pr, "1.1.2.1", None, PR_STATE)

        s2 = b.study(
            a, "1.2", patient_id="P2", name="Doe^John", date="20201231", time="235959",
            accession="ACC2", description="MR Knee", sex="M", order_id=ids.orders["o2"],
        )  # fmt: skip
        mr = b.series(s2, "1.2.1", modality="MR", number=1, requests=(("RP2", "SPS2"),))
        b.instance(s2, mr, "1.2.1.1", 1, MR_IMAGE)
        b.instance(s2, mr, "1.2.1.2", 2, MR_IMAGE)

        s3 = b.study(a, "1.3", patient_id="P3", name="Doe^Jane", date="20210601", time="0800")
        b.instance(s3, b.series(s3, "1.3.1", modality="CT", number=None), "1.3.1.1", 1, CT_IMAGE)

        b.study(a, "1.4", patient_id="P4", name="Nodate^Nora")
        for n, pid in enumerate(LITERAL_IDS):
            b.study(a, f"1.9.{n}", patient_id=pid, name=f"Lit^{n}", date="20190101")

        # Account B reuses StudyInstanceUID 1.1 for another patient.
        sb = b.study(
            ids.accounts["B"], "1.1", patient_id="P1", name="Other^Person", date="20200115"
        )
        b.instance(sb, b.series(sb, "1.1.1", modality="CT", number=1), "1.1.1.1", 1, CT_IMAGE)

        big = ids.accounts["BIG"]
        for n in range(1000):
            b.study(
                big,
                f"2.{n}",
                patient_id=f"B{n % 37}",
                name=f"Big^{n}",
                date=f"2020{n % 12 + 1:02d}01",
            )
    return ids


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, Ids]]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('qido')}/t.db")
    upgrade(db.engine)
    ids = _populate(db)
    yield db, ids
    db.dispose()


@pytest.fixture
def db(world: tuple[Database, Ids]) -> Database:
    return world[0]


@pytest.fixture
def ids(world: tuple[Database, Ids]) -> Ids:
    return world[1]


def run(
    db: Database,
    who: Principal,
    level: Level,
    pairs: list[tuple[str, str]],
    **kwargs: Any,
) -> SearchResult:
    query = parse_qido(pairs, level)
    with db.session() as session:
        return search(session, who, query, BASE, **kwargs)


def uids(result: SearchResult, tag: str) -> list[str]:
    return [item[tag]["Value"][0] for item in result.items]


STUDY_UID, SERIES_UID, SOP_UID = "0020000D", "0020000E", "00080018"


def study_uids(db: Database, ids: Ids, pairs: list[tuple[str, str]]) -> list[str]:
    return uids(run(db, Principal(ids.accounts["A"]), Level.STUDY, pairs), STUDY_UID)


# ----------------------------------------------------------------------------- studies


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([], ["1.3", "1.2", "1.1"] + [f"1.9.{n}" for n in range(8, -1, -1)] + ["1.4"]),
        ([("PatientID", "P1")], ["1.1"]),
        ([("00100020", "P2")], ["1.2"]),
        ([("PatientID", "p1")], []),  # case-sensitive
        ([("PatientID", "P*")], ["1.3", "1.2", "1.1", "1.4"]),
        ([("PatientID", "P?")], ["1.3", "1.2", "1.1", "1.4"]),
        ([("PatientID", "*2")], ["1.2"]),
        ([("StudyInstanceUID", "1.1\\1.3")], ["1.3", "1.1"]),
        ([("StudyInstanceUID", "1.1,9.9")], ["1.1"]),
        ([("AccessionNumber", "ACC2")], ["1.2"]),
        ([("StudyDate", "20200115")], ["1.1"]),
        ([("StudyDate", "20200101-20201231")], ["1.2", "1.1"]),
        ([("StudyDate", "20201231-")], ["1.3", "1.2"]),
        ([("StudyDate", "-20190101")], [f"1.9.{n}" for n in range(8, -1, -1)]),  # not undated
        ([("StudyTime", "1000-1100")], ["1.1"]),
        ([("StudyTime", "2359")], ["1.2"]),
        ([("StudyTime", "-0800")], ["1.3"]),
        ([("StudyTime", "0800-")], ["1.3", "1.2", "1.1"]),
        ([("ModalitiesInStudy", "PR")], ["1.1"]),
        ([("ModalitiesInStudy", "CT\\MR")], ["1.3", "1.2", "1.1"]),
        ([("ModalitiesInStudy", "C")], []),
        ([("PatientName", "Müller^Jürgen")], ["1.1"]),
        ([("PatientName", "muller^jurgen")], ["1.1"]),
        ([("PatientName", "MULLER")], []),
        ([("PatientName", "mül*")], ["1.1"]),
        ([("PatientName", "doe*")], ["1.3", "1.2"]),
        ([("PatientName", "*^J?HN")], ["1.2"]),
        ([("PatientName", "jurg")], []),
        ([("PatientName", "jurg"), ("fuzzymatching", "true")], ["1.1"]),
        ([("PatientName", "JÜR"), ("fuzzymatching", "true")], ["1.1"]),
        ([("PatientName", "jo"), ("fuzzymatching", "true")], ["1.2"]),
        ([("PatientName", "ja do"), ("fuzzymatching", "true")], ["1.3"]),
        ([("PatientName", "ohn"), ("fuzzymatching", "true")], []),
        ([("ReferringPhysicianName", "greg"), ("fuzzymatching", "true")], ["1.1"]),
        ([("ReferringPhysicianName", "house^gregory")], ["1.1"]),
        ([("PatientBirthDate", "19600101-19800101")], ["1.1"]),
        ([("PatientSex", "M")], ["1.2", "1.1"]),
        ([("StudyDescription", "MR*")], ["1.2"]),
        ([("StudyDescription", "mr*")], []),
        ([("InstitutionName", "General Hospital")], ["1.1"]),
        ([("StudyID", "1"), ("PatientID", "P3")], ["1.3"]),
        ([("PatientName", ""), ("PatientID", "P3")], ["1.3"]),
    ],
)
def test_study_matching(
    db: Database, ids: Ids, pairs: list[tuple[str, str]], expected: list[str]
) -> None:
    assert study_uids(db, ids, pairs) == expected


@pytest.mark.parametrize(
    ("pid_query", "expected_ids"),
    [
        ("50%", ["50%"]),
        ("5_0", ["5_0"]),
        ("5_*", ["5_0"]),
        ("50%*", ["50%"]),
        ("*%", ["50%"]),
        ("O'Brien", ["O'Brien"]),
        ("O'*", ["O'Brien"]),
        ("A\\B", ["A\\B"]),
        ("A\\*", ["A\\B"]),
        ('Q"1', ['Q"1']),
        ("[x]", ["[x]"]),
        ("[*", ["[x]"]),
        ("5?0", ["500", "5_0", "5x0"]),
    ],
)
def test_literal_metacharacters(
    db: Database, ids: Ids, pid_query: str, expected_ids: list[str]
) -> None:
    result = run(db, Principal(ids.accounts["A"]), Level.STUDY, [("PatientID", pid_query)])
    assert sorted(item["00100020"]["Value"][0] for item in result.items) == sorted(expected_ids)


def test_study_result_shape(db: Database, ids: Ids) -> None:
    result = run(db, Principal(ids.accounts["A"]), Level.STUDY, [("PatientID", "P1")])
    assert not result.more
    (item,) = result.items
    assert list(item) == sorted(item)
    assert set(item) == {
        "00080005", "00080020", "00080030", "00080050", "00080056", "00080061", "00080090",
        "00081190", "00100010", "00100020", "00100030", "00100040", "0020000D", "00200010",
        "00201206", "00201208",
    }  # fmt: skip
    assert item["00100010"] == pn("Müller^Jürgen")
    assert item["00080061"] == el("CS", "CT", "PR")
    assert item["00201206"] == el("IS", 2)
    assert item["00201208"] == el("IS", 4)
    assert item["00080056"] == el("CS", "ONLINE")
    assert item["00081190"] == el("UR", f"{BASE}/studies/1.1")
    assert item["00080005"] == el("CS", "ISO_IR 192")
    assert "00101010" not in item and "00081030" not in item


def test_includefield(db: Database, ids: Ids) -> None:
    who = Principal(ids.accounts["A"])
    pairs = [
        ("PatientID", "P1"),
        ("includefield", "StudyDescription,00101010"),
        ("includefield", "Rows"),
    ]
    (item,) = run(db, who, Level.STUDY, pairs).items
    assert item["00081030"] == el("LO", "CT Head")
    assert item["00101010"] == el("AS", "050Y")
    assert "00280010" not in item  # lower level: ignored

    (item,) = run(db, who, Level.STUDY, [("PatientID", "P1"), ("includefield", "all")]).items
    assert {"00101010", "00081030", "00201206", "00081190"} <= set(item)
    assert "00080060" not in item and "00280010" not in item

    # a matching key is returned even when not in the default set
    (item,) = run(db, who, Level.STUDY, [("InstitutionName", "General*")]).items
    assert item["00080080"] == el("LO", "General Hospital")


# ----------------------------------------------------------------------------- series


def test_series_searches(db: Database, ids: Ids) -> None:
    who = Principal(ids.accounts["A"])
    unscoped = run(db, who, Level.SERIES, [("PatientID", "P1")])
    assert uids(unscoped, SERIES_UID) == ["1.1.1", "1.1.2"]
    first = unscoped.items[0]
    assert list(first) == sorted(first)
    # study attributes come along on /series
    assert first["00100020"] == el("LO", "P1") and first[STUDY_UID] == el("UI", "1.1")
    assert first["00080060"] == el("CS", "CT")
    assert first["00201209"] == el("IS", 3)
    assert first["00081190"] == el("UR", f"{BASE}/studies/1.1/series/1.1.1")
    assert first["00400275"]["Value"][0]["00401001"] == el("SH", "RP1")

    scoped = run(db, who, Level.SERIES, [], study_uid="1.1")
    assert uids(scoped, SERIES_UID) == ["1.1.1", "1.1.2"]
    assert "00100020" not in scoped.items[0] and STUDY_UID not in scoped.items[0]
    assert scoped.items[0]["00081190"] == el("UR", f"{BASE}/studies/1.1/series/1.1.1")

    # the PostDICOM form: /studies/series?0020000D=...
    postdicom = run(db, who, Level.SERIES, [("0020000D", "1.2")])
    assert uids(postdicom, SERIES_UID) == ["1.2.1"]
    assert postdicom.items[0][STUDY_UID] == el("UI", "1.2")

    everything = run(db, who, Level.SERIES, [("includefield", "all")], study_uid="1.1")
    assert everything.items[0]["00101010"] == el("AS", "050Y")  # from study_json
    assert "00280010" not in everything.items[0]

    assert run(db, who, Level.SERIES, [], study_uid="9.9").items == []


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("Modality", "CT")], ["1.3.1", "1.1.1"]),
        ([("SeriesNumber", "2")], ["1.1.2"]),
        ([("SeriesInstanceUID", "1.1.2\\1.2.1")], ["1.2.1", "1.1.2"]),
        ([("SeriesDescription", "Ax*")], ["1.1.1"]),
        ([("BodyPartExamined", "HEAD")], ["1.1.1"]),
        ([("InstitutionName", "General Hospital")], ["1.1.1"]),
        ([("ModalitiesInStudy", "PR")], ["1.1.1", "1.1.2"]),
        ([("RequestAttributesSequence.RequestedProcedureID", "RP1")], ["1.1.1"]),
        ([("00400275.00401001", "RP2")], ["1.2.1"]),
        ([("00400275.00400009", "SPS*")], ["1.2.1", "1.1.1"]),
        ([("00400275.00401001", "RP1"), ("00400275.00400009", "SPS1")], ["1.1.1"]),
        ([("00400275.00401001", "RP1"), ("00400275.00400009", "SPS9")], []),  # same item
        ([("00400275.0020000D", "1.2")], ["1.2.1"]),
        ([("RequestAttributesSequence", "")], ["1.3.1", "1.2.1", "1.1.1", "1.1.2"]),
    ],
)
def test_series_matching(
    db: Database, ids: Ids, pairs: list[tuple[str, str]], expected: list[str]
) -> None:
    result = run(db, Principal(ids.accounts["A"]), Level.SERIES, pairs)
    assert uids(result, SERIES_UID) == expected


# ----------------------------------------------------------------------------- instances


def test_instance_searches(db: Database, ids: Ids) -> None:
    who = Principal(ids.accounts["A"])
    in_series = run(db, who, Level.INSTANCE, [], study_uid="1.1", series_uid="1.1.1")
    assert uids(in_series, SOP_UID) == ["1.1.1.1", "1.1.1.2", "1.1.1.3"]
    item = in_series.items[0]
    assert set(item) == {
        "00080016", "00080018", "00080056", "00081190", "00200013", "00280010", "00280011",
        "00280100",
    }  # fmt: skip
    assert item["00081190"] == el("UR", f"{BASE}/studies/1.1/series/1.1.1/instances/1.1.1.1")
    assert item["00280010"] == el("US", 64)

    in_study = run(db, who, Level.INSTANCE, [], study_uid="1.1")
    assert uids(in_study, SOP_UID) == ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.2.1"]
    assert in_study.items[0]["00080060"] == el("CS", "CT")  # series attributes
    assert in_study.items[0]["00100010"] == pn("Müller^Jürgen")  # and the study's

    everywhere = run(db, who, Level.INSTANCE, [("SeriesInstanceUID", "1.2.1")])
    assert uids(everywhere, SOP_UID) == ["1.2.1.1", "1.2.1.2"]
    assert everywhere.items[0]["00100010"] == pn("Doe^John")  # study attributes
    assert everywhere.items[0]["00080060"] == el("CS", "MR")

    every = run(db, who, Level.INSTANCE, [("SOPInstanceUID", "1.2.1.2"), ("includefield", "all")])
    assert every.items[0]["00083002"] == el("UI", EXPLICIT_LE)
    assert every.items[0]["00101010"] == el("AS", "050Y")


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("SOPClassUID", PR_STATE)], ["1.1.2.1"]),
        ([("InstanceNumber", "2")], ["1.2.1.2", "1.1.1.2"]),
        ([("PatientID", "P2")], ["1.2.1.1", "1.2.1.2"]),
        ([("Modality", "CT"), ("StudyDate", "2021*".replace("*", "0101-"))], ["1.3.1.1"]),
        ([("SOPInstanceUID", "1.1.1.3,1.2.1.1")], ["1.2.1.1", "1.1.1.3"]),
        ([("00400275.00401001", "RP2")], ["1.2.1.1", "1.2.1.2"]),
    ],
)
def test_instance_matching(
    db: Database, ids: Ids, pairs: list[tuple[str, str]], expected: list[str]
) -> None:
    result = run(db, Principal(ids.accounts["A"]), Level.INSTANCE, pairs)
    assert uids(result, SOP_UID) == expected


def test_searches_inside_a_study_and_a_series(db: Database, ids: Ids) -> None:
    who = Principal(ids.accounts["A"])
    with db.session() as session:
        studies = search(session, who, parse_qido([("PatientID", "P1")], Level.STUDY), BASE)
        series = search(session, who, parse_qido([], Level.SERIES), BASE, study_uid="1.2")
        instances = search(
            session, who, parse_qido([], Level.INSTANCE), BASE, study_uid="1.2", series_uid="1.2.1"
        )
        assert len(studies.items) == 1 and len(series.items) == 1 and len(instances.items) == 2
        with pytest.raises(ValueError):
            search(session, who, parse_qido([], Level.STUDY), BASE, study_uid="1.1")
        with pytest.raises(ValueError):
            search(session, who, parse_qido([], Level.INSTANCE), BASE, series_uid="1.2.1")


# ----------------------------------------------------------------------------- scoping


def test_account_isolation(db: Database, ids: Ids) -> None:
    a, b = Principal(ids.accounts["A"]), Principal(ids.accounts["B"])
    (ours,) = run(db, a, Level.STUDY, [("StudyInstanceUID", "1.1")]).items
    (theirs,) = run(db, b, Level.STUDY, [("StudyInstanceUID", "1.1")]).items
    assert ours["00100010"] == pn("Müller^Jürgen")
    assert theirs["00100010"] == pn("Other^Person")
    assert theirs["00201208"] == el("IS", 1)
    assert uids(run(db, b, Level.STUDY, []), STUDY_UID) == ["1.1"]
    assert uids(run(db, b, Level.INSTANCE, [], study_uid="1.1"), SOP_UID) == ["1.1.1.1"]
    assert uids(run(db, b, Level.SERIES, [("PatientID", "P2")]), SERIES_UID) == []
    assert run(db, Principal(999_999), Level.STUDY, []).items == []


def test_share_scoping(db: Database, ids: Ids) -> None:
    a = ids.accounts["A"]
    share = Principal(a, share_id=1, share_order_ids=frozenset({ids.orders["o1"]}))
    assert uids(run(db, share, Level.STUDY, []), STUDY_UID) == ["1.1"]
    assert uids(run(db, share, Level.SERIES, [("Modality", "MR")]), SERIES_UID) == []
    assert len(run(db, share, Level.INSTANCE, []).items) == 4
    assert run(db, share, Level.INSTANCE, [], study_uid="1.2").items == []
    nothing = Principal(a, share_id=2, share_order_ids=frozenset())
    assert run(db, nothing, Level.STUDY, []).items == []
    other = Principal(ids.accounts["B"], share_id=3, share_order_ids=frozenset({ids.orders["o1"]}))
    assert run(db, other, Level.STUDY, []).items == []


# ----------------------------------------------------------------------------- paging


def test_paging_returns_each_study_exactly_once(db: Database, ids: Ids) -> None:
    who = Principal(ids.accounts["BIG"])
    seen: list[str] = []
    offset = 0
    while True:
        result = run(db, who, Level.STUDY, [("limit", "64"), ("offset", str(offset))])
        seen += uids(result, STUDY_UID)
        offset += 64
        if not result.more:
            break
        assert len(result.items) == 64
    assert len(seen) == 1000 and set(seen) == {f"2.{n}" for n in range(1000)}
    dates = [int(u.split(".")[1]) % 12 for u in seen]
    assert dates == sorted(dates, reverse=True)  # newest first


def test_default_and_max_limit(db: Database, ids: Ids) -> None:
    who = Principal(ids.accounts["BIG"])
    default = run(db, who, Level.STUDY, [], default_limit=100, max_limit=1000)
    assert len(default.items) == 100 and default.more
    clamped = run(db, who, Level.STUDY, [("limit", "5000")], default_limit=100, max_limit=300)
    assert len(clamped.items) == 300 and clamped.more
    everything = run(db, who, Level.STUDY, [("limit", "5000")], max_limit=1000)
    assert len(everything.items) == 1000 and not everything.more
    exact = run(db, who, Level.STUDY, [("limit", "10"), ("offset", "990")])
    assert len(exact.items) == 10 and not exact.more
    beyond = run(db, who, Level.STUDY, [("offset", "1000")])
    assert beyond.items == [] and not beyond.more
    page = run(db, who, Level.STUDY, [("PatientID", "B3"), ("limit", "5"), ("offset", "25")])
    assert len(page.items) == 2 and not page.more  # 27 studies have PatientID B3


# ----------------------------------------------------------------------------- plans


def plan(
    db: Database,
    principal: Principal,
    level: Level,
    pairs: list[tuple[str, str]],
    study_uid: str | None = None,
) -> str:
    stmt = search_statement(principal, parse_qido(pairs, level), study_uid=study_uid)
    sql = str(stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
    return "\n".join(str(row[3]) for row in rows)


def uses(index: str, detail: str) -> bool:
    return f"USING INDEX {index} " in detail or f"USING COVERING INDEX {index} " in detail


@pytest.mark.parametrize(
    ("level", "pairs", "scope", "index"),
    [
        (Level.STUDY, [("PatientID", "B7")], {}, "ix_study_account_patient_id"),
        (Level.STUDY, [("PatientName", "BIG^1*")], {}, "ix_study_account_name"),
        (Level.STUDY, [("PatientName", "big^12")], {}, "ix_study_account_name"),
        (Level.STUDY, [("StudyDate", "20200301-20200501")], {}, "ix_study_account_date"),
        (Level.STUDY, [("StudyDate", "-20200301")], {}, "ix_study_account_date"),
        (Level.STUDY, [("AccessionNumber", "X")], {}, "ix_study_account_accession"),
        (Level.STUDY, [], {}, "ix_study_account_date"),
        # a selective key wins over a date range and over the ORDER BY index
        (
            Level.STUDY,
            [("PatientID", "B7"), ("StudyDate", "20200101-")],
            {},
            "ix_study_account_patient_id",
        ),
        (Level.SERIES, [("PatientID", "B7")], {}, "ix_study_account_patient_id"),
        (Level.SERIES, [], {"study_uid": "2.7"}, "ix_series_study_number"),
        (Level.SERIES, [("SeriesInstanceUID", "1.2")], {}, "sqlite_autoindex_series_1"),
        (Level.SERIES, [("00400275.00401001", "RP1")], {}, "ix_sra_requested_procedure"),
        (Level.INSTANCE, [("SOPInstanceUID", "1.2")], {}, "sqlite_autoindex_instance_1"),
        (Level.INSTANCE, [], {"study_uid": "2.7"}, "ix_instance_series_number"),
        (Level.INSTANCE, [("PatientID", "B7")], {}, "ix_study_account_patient_id"),
    ],
)
def test_searches_use_an_index(
    db: Database,
    ids: Ids,
    level: Level,
    pairs: list[tuple[str, str]],
    scope: dict[str, str],
    index: str,
) -> None:
    detail = plan(db, Principal(ids.accounts["BIG"]), level, pairs, scope.get("study_uid"))
    assert uses(index, detail), detail
    assert "SCAN " not in detail, detail


def test_share_search_uses_the_order_index(db: Database, ids: Ids) -> None:
    share = Principal(ids.accounts["BIG"], share_id=1, share_order_ids=frozenset({1, 2}))
    detail = plan(db, share, Level.STUDY, [])
    assert uses("ix_study_order_id", detail), detail
    assert "SCAN " not in detail, detail


def test_unsupported_filter_is_a_qido_error(db: Database, ids: Ids) -> None:
    from openpacs.protocol.qido import DateTimeRange, QidoQuery

    query = QidoQuery(Level.STUDY, filters=(DateTimeRange(0x00080020, Level.STUDY, "2020", None),))
    with db.session() as session, pytest.raises(QidoError):
        search(session, Principal(ids.accounts["A"]), query, BASE)


# ----------------------------------------------------------------------------- handlers


@pytest.fixture
def client(db: Database, ids: Ids, tmp_path: Path) -> Iterator[Callable[..., httpx.Response]]:
    """The QIDO handlers mounted like the app does, with account A's principal."""
    app = Starlette(
        routes=[Mount("/dicomweb", routes=list(QIDO_ROUTES))],
        exception_handlers={HttpError: _http_error},
    )
    blobs = open_blob_store(tmp_path.as_uri())
    app.state.ctx = AppContext(
        settings=Settings(qido_default_limit=2, qido_max_limit=3),
        db=db,
        blobs=blobs,
        store=StoreService(db, blobs),
        audit=AuditTrail(db),
    )
    who = Principal(ids.accounts["A"])

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["principal"] = who
        await app(scope, receive, send)

    def get(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=asgi)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                return await http.get(path, headers=headers)

        return anyio.run(go)

    yield get
    app.state.ctx.store.close()
    app.state.ctx.audit.close()


async def _http_error(_request: Any, exc: Exception) -> Any:
    assert isinstance(exc, HttpError)
    return error_response(exc.status, exc.reason, exc.headers)


MORE = '299 http://127.0.0.1:8080/dicomweb: "There are additional results that can be requested"'


@pytest.mark.parametrize(
    ("path", "headers", "status", "count", "warning", "media_type"),
    [
        ("/dicomweb/studies?00100020=P1", None, 200, 1, None, "application/dicom+json"),
        ("/dicomweb/studies", None, 200, 2, MORE, "application/dicom+json"),
        ("/dicomweb/studies?limit=50", None, 200, 3, MORE, "application/dicom+json"),
        ("/dicomweb/studies?PatientID=nobody", None, 204, 0, None, None),
        ("/dicomweb/studies?offset=500", None, 204, 0, None, None),
        ("/dicomweb/studies/series?0020000D=1.1", None, 200, 2, None, "application/dicom+json"),
        ("/dicomweb/studies/series/instances?0020000E=1.1.2", None, 200, 1, None, None),
        ("/dicomweb/studies/1.1/series", None, 200, 2, None, None),
        ("/dicomweb/studies/1.1/instances", None, 200, 2, MORE, None),
        ("/dicomweb/studies/1.1/series/1.1.1/instances?limit=3", None, 200, 3, None, None),
        ("/dicomweb/series?PatientID=P2", None, 200, 1, None, None),
        ("/dicomweb/instances?SOPInstanceUID=1.2.1.1", None, 200, 1, None, None),
        (
            "/dicomweb/studies?PatientID=P1",
            {"Accept": "application/json, text/plain, */*"},
            200,
            1,
            None,
            "application/json",
        ),
        ("/dicomweb/studies?PatientID=P1", {"Accept": "*/*"}, 200, 1, None, None),
        ("/dicomweb/studies?Foo=1&PatientID=P1&_=123", None, 200, 1, None, None),  # ignored
        ("/dicomweb/studies?StudyDate=20201301", None, 400, 0, None, None),
        ("/dicomweb/studies?limit=abc", None, 400, 0, None, None),
        ("/dicomweb/studies/abc/series", None, 400, 0, None, None),
        (
            "/dicomweb/studies?PatientID=%27%3B%20DROP%20TABLE%20study%3B--",
            None,
            204,
            0,
            None,
            None,
        ),
        ("/dicomweb/studies", {"Accept": "image/jpeg"}, 406, 0, None, None),
        (
            "/dicomweb/studies?accept=application/dicom%2Bjson",
            {"Accept": "image/jpeg"},
            200,
            2,
            MORE,
            None,
        ),
    ],
)
def test_handlers(
    client: Callable[..., httpx.Response],
    path: str,
    headers: dict[str, str] | None,
    status: int,
    count: int,
    warning: str | None,
    media_type: str | None,
) -> None:
    response = client(path, headers)
    assert response.status_code == status, response.text
    assert response.headers.get("warning") == warning
    if status == 200:
        body = orjson.loads(response.content)
        assert len(body) == count
        if media_type:
            assert response.headers["content-type"] == media_type
    elif status == 204:
        assert response.content == b""
    else:
        assert response.headers["x-error-reason"]

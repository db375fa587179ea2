"""The attribute table against what it drives: the index schema, the migrations, ingest.

The schema test upgrades a fresh database with the shipped migrations and compares it with
the models (which make the attribute columns from the table): a row added without its
migration, or a migration that disagrees with the row, fails here on both backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from bench.dataset import make_instance
from sqlalchemy import Integer, String, create_engine, insert, select, text

from openpacs.dicom.attributes import (
    ATTRIBUTES,
    INSTANCE_LEVEL_TAGS,
    LEVEL_TAGS,
    Attribute,
    Kind,
    Level,
    Source,
    attributes_at,
    header_attributes,
    matching_keys,
    return_tags,
    sequence_items,
    tag_of,
)
from openpacs.dicom.ingest import parse_instance
from openpacs.dicom.parsed import OTHER_PATIENT_IDS_LENGTH, index_columns
from openpacs.index.db import Database
from openpacs.index.instance_rows import index_instances
from openpacs.index.migrate import alembic_config, upgrade
from openpacs.index.migrations.attribute_columns import add_attribute_column
from openpacs.index.models import (
    Account,
    Base,
    Institution,
    Series,
    Study,
    attribute_column,
    attribute_model,
)
from tests.support.postgres import index_database
from tests.support.specs import small_spec
from tests.support.uids import with_elements

CORPUS = Path(__file__).resolve().parents[1] / "data" / "dicom"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with index_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture
def database(empty_database: Database) -> Database:
    upgrade(empty_database.engine)
    return empty_database


def test_the_migrated_schema_is_the_models_schema(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences: list[Any] = compare_metadata(context, Base.metadata)
    # The trigram indexes are made by hand on PostgreSQL (no model can say "gin_trgm_ops").
    differences = [d for d in differences if "_trgm" not in repr(d)]
    assert differences == []


def test_adding_an_attribute_fills_the_rows_already_stored(empty_database: Database) -> None:
    """Migration 0002 (StationName) gives the series stored before it their station name,
    read from the stored series JSON the way ingest reads it."""
    engine = empty_database.engine
    command.upgrade(alembic_config(engine), "0001")
    station = {"00081010": {"vr": "SH", "Value": ["CT-NORTH"]}}
    with engine.begin() as conn:
        account = conn.execute(insert(Account).values(name="a").returning(Account.id)).scalar()
        study = conn.execute(
            text(
                "INSERT INTO study (account_id, study_instance_uid, specific_character_set, "
                "patient_id, issuer_of_patient_id, other_patient_ids, patient_name, "
                "patient_name_norm, patient_name_words, patient_birth_date, patient_sex, "
                "study_date, study_time, accession_number, referring_physician_name, "
                "referring_physician_name_norm, study_id, study_description, institution_name, "
                "modalities_in_study, sop_classes_in_study, num_series, num_instances, "
                "study_json, created_at, updated_at) VALUES (:a, '1.2', '', '', '', '', '', "
                "'', '', '', '', '', '', '', '', '', '', '', '', '', '', 0, 0, :j, :t, :t) "
                "RETURNING id"
            ),
            {"a": account, "j": b"{}", "t": datetime.now(UTC)},
        ).scalar()
        for uid, stored in (("1.2.1", orjson.dumps(station)), ("1.2.2", b"{}"), ("1.2.3", b"")):
            conn.execute(
                text(
                    "INSERT INTO series (uuid, account_id, study_id, series_instance_uid, "
                    "modality, series_number, series_description, body_part_examined, "
                    "institution_name, series_date, series_time, "
                    "performed_procedure_step_start_date, performed_procedure_step_start_time, "
                    "num_instances, series_json, created_at) VALUES (:u, :a, :s, :uid, '', "
                    "NULL, '', '', '', '', '', '', '', 0, :j, :t)"
                ),
                {"u": uid, "a": account, "s": study, "uid": uid, "j": stored,
                 "t": datetime.now(UTC)},
            )  # fmt: skip
    command.upgrade(alembic_config(engine), "head")
    with engine.connect() as conn:
        found = dict(conn.execute(select(Series.series_instance_uid, Series.station_name)).all())
    assert found == {"1.2.1": "CT-NORTH", "1.2.2": "", "1.2.3": ""}
    command.downgrade(alembic_config(engine), "0001")
    command.upgrade(alembic_config(engine), "head")


@pytest.mark.parametrize("attr", [a for a in ATTRIBUTES if a.column], ids=lambda a: a.keyword)
def test_every_column_of_the_table_is_in_the_schema(attr: Attribute) -> None:
    column = attribute_column(attr)
    if attr.kind is Kind.INT:
        assert isinstance(column.type, Integer)
    elif attr.length is not None:
        assert isinstance(column.type, String) and column.type.length == attr.length
    if attr.kind is Kind.PERSON_NAME:
        assert attribute_column(attr, attr.norm_column).type.length == attr.length


def test_rows_are_consistent() -> None:
    seen: set[tuple[Level, str | None, int]] = set()
    for attr in ATTRIBUTES:
        key = (attr.level, attr.sequence, attr.tag)
        assert key not in seen, f"{attr.keyword} twice at {attr.level}"
        seen.add(key)
        assert (attr.column is None) == (attr.source is Source.RESPONSE), attr.keyword
        if attr.source is Source.HEADER:
            assert attr.kind is Kind.INT or attr.length, attr.keyword
        if attr.sequence is None:
            assert attr.tag in LEVEL_TAGS[attr.level], attr.keyword
        if attr.kind is Kind.SEQUENCE:
            assert tag_of(attr.keyword) in sequence_items(attr.level)
        if attr.words:
            assert attr.kind is Kind.PERSON_NAME


def test_the_table_answers_the_questions_of_its_readers() -> None:
    patient_name = tag_of("PatientName")
    assert patient_name in matching_keys(Level.STUDY) and patient_name in return_tags(Level.STUDY)
    assert tag_of("Modality") not in matching_keys(Level.STUDY)
    assert tag_of("IssuerOfPatientID") not in matching_keys(Level.STUDY)
    items = sequence_items(Level.SERIES)[tag_of("RequestAttributesSequence")]
    assert set(items) == {
        tag_of(k)
        for k in (
            "RequestedProcedureID",
            "ScheduledProcedureStepID",
            "AccessionNumber",
            "StudyInstanceUID",
        )
    }
    assert tag_of("RetrieveURL") in return_tags(Level.INSTANCE)
    assert all(a.sequence is None for a in attributes_at(Level.SERIES))
    assert attribute_model(items[tag_of("AccessionNumber")]).__tablename__ == (
        "series_request_attributes"
    )
    assert tag_of("AvailableTransferSyntaxUID") in INSTANCE_LEVEL_TAGS


def test_ingest_fills_exactly_the_header_columns() -> None:
    parsed = parse_instance(CORPUS / "pydicom__CT_small.dcm")
    expected: dict[Level, set[str]] = {}
    for level in Level:
        names: set[str] = set()
        for attr in header_attributes(level):
            assert attr.column is not None
            names.add(attr.column)
            if attr.kind is Kind.PERSON_NAME:
                names.add(attr.norm_column)
                if attr.words:
                    names.add(attr.words_column)
        expected[level] = names
    assert set(parsed.study) == expected[Level.STUDY] | {"other_patient_ids"}
    assert set(parsed.series) == expected[Level.SERIES]
    assert expected[Level.INSTANCE] <= set(parsed.instance)
    assert Study.__table__.c["other_patient_ids"].type.length == OTHER_PATIENT_IDS_LENGTH


def test_index_columns_clip_normalise_and_convert() -> None:
    long_name = "Ünïcode^" + "X" * 500
    meta = {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": long_name}]},
        "00080020": {"vr": "DA", "Value": ["2020.01.02"]},
        "00080030": {"vr": "TM", "Value": ["10:15:00"]},
        "00100020": {"vr": "LO", "Value": ["P" * 100]},
    }
    columns = index_columns(meta, Level.STUDY)
    assert columns["study_date"] == "20200102" and columns["study_time"] == "101500"
    assert len(str(columns["patient_name"])) == 400
    assert str(columns["patient_name_norm"]).startswith("UNICODE^XXX")
    assert columns["patient_name_words"] == "UNICODE"  # the over-long word is dropped
    assert columns["patient_id"] == "P" * 64
    assert columns["accession_number"] == ""
    assert (
        index_columns({"00200011": {"vr": "IS", "Value": [7]}}, Level.SERIES)["series_number"] == 7
    )


def test_the_cheap_head_revision_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    from openpacs.index.migrate import head_revision

    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    assert script.get_heads() == [head_revision()]


def _column_and_json(db: Database, table: str, column: str, level_json: str) -> dict[str, Any]:
    with db.engine.connect() as conn:
        query = f"SELECT {column}, {level_json} FROM {table} ORDER BY id"  # noqa: S608
        rows = conn.execute(text(query)).all()
    return {str(value): orjson.loads(stored) for value, stored in rows}


def test_a_migration_fills_old_rows_from_the_full_header(database: Database) -> None:
    """Attributes outside the levels' tag sets (so absent from the stored level JSON):
    the helper a migration calls reads them from each row's instance (a study's and a
    series' first instance), fills the column as ingest would and adds the element to
    the level JSON, on both backends."""
    recipients = Attribute(
        "NamesOfIntendedRecipientsOfResults", Level.STUDY, Kind.PERSON_NAME, "recipients", 64
    )
    station = Attribute("PerformedLocation", Level.SERIES, Kind.TEXT, "performed_location", 16)
    comments = Attribute("ImageComments", Level.INSTANCE, Kind.TEXT, "image_comments", 64)
    for attr in (recipients, station, comments):
        assert attr.tag not in LEVEL_TAGS[attr.level]
    files = [
        with_elements(
            make_instance(small_spec("old", 1, 1)),
            NamesOfIntendedRecipientsOfResults="Müller^Ann",
            PerformedLocation="ROOM-ONE",
            ImageComments="first",
        ),
        with_elements(make_instance(small_spec("old", 1, 2)), ImageComments="second"),
        make_instance(small_spec("old", 2, 1)),  # a series without the attributes
    ]
    with database.session() as session:
        account = Account(name="a")
        session.add(account)
        session.flush()
        session.add(Institution(account_id=account.id, name="a", is_default=True))
        session.flush()
        items = [(parse_instance(data), f"k/{n}") for n, data in enumerate(files)]
        index_instances(session, account.id, items)
    with database.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        for attr in (recipients, station, comments):
            add_attribute_column(attr)

    with database.engine.connect() as conn:
        norm = conn.execute(text("SELECT recipients_norm FROM study")).scalar()
    assert norm == "MULLER^ANN"
    studies = _column_and_json(database, "study", "recipients", "study_json")
    recipient = {"vr": "PN", "Value": [{"Alphabetic": "Müller^Ann"}]}
    assert studies["Müller^Ann"]["00401010"] == recipient
    series = _column_and_json(database, "series", "performed_location", "series_json")
    assert set(series) == {"ROOM-ONE", ""}
    assert series["ROOM-ONE"]["00400243"] == {"vr": "SH", "Value": ["ROOM-ONE"]}
    assert "00400243" not in series[""]
    instances = _column_and_json(database, "instance", "image_comments", "instance_json")
    assert set(instances) == {"first", "second", ""}
    assert instances["second"]["00204000"] == {"vr": "LT", "Value": ["second"]}
    assert list(instances["first"]) == sorted(instances["first"])  # as ingest writes it

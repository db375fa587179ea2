"""The index schema. Every row belongs to one account; UIDs are unique per account only.

Internal integer ids are the join keys and the basis of blob keys; the UUID columns are
the public identifiers of the custom API (PatientOrderUuid, PatientSeriesUuid, ...).

The columns of the indexed DICOM attributes that ingest copies from the header come from
the attribute table (:mod:`openpacs.dicom.attributes`, its ``HEADER`` rows): study,
series, instance and RequestAttributesSequence item columns are made from the rows by
:func:`attribute_mixin`, so adding an attribute never touches this module (its
migration adds the column to the database). The few of them that code names directly
are declared for the type checker only, under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import KeyedColumnElement
from sqlalchemy.types import TypeEngine

from openpacs.dicom.attributes import Attribute, Kind, Level, header_attributes


def new_uuid() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


# BigInteger primary keys that are still SQLite rowid aliases.
IdType = BigInteger().with_variant(Integer(), "sqlite")


def NormText(length: int) -> String:
    """Normalised (upper-case, accent-free) search text, compared bytewise.

    Prefix searches use ``>= 'ABC' AND < 'ABD'`` on a B-tree index; that is only exact
    under a bytewise collation, which SQLite has by default and PostgreSQL gets as "C".
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def attribute_column_types(attr: Attribute) -> dict[str, TypeEngine[Any]]:
    """The column(s) of one ``HEADER`` row of the attribute table and their types: a
    nullable ``Integer`` for ``INT``; else NOT NULL ``String(length)`` defaulting to "",
    person names with their normalised (and word) copies as :func:`NormText`. Migrations
    that add an attribute make the same columns."""
    assert attr.column is not None and (attr.kind is Kind.INT or attr.length), attr
    if attr.kind is Kind.INT:
        return {attr.column: Integer()}
    length = attr.length or 0
    types: dict[str, TypeEngine[Any]] = {attr.column: String(length)}
    if attr.kind is Kind.PERSON_NAME:
        types[attr.norm_column] = NormText(length)
        if attr.words:
            types[attr.words_column] = NormText(length)
    return types


def attribute_mixin(level: Level, sequence: str | None = None) -> type:
    """A mixin class with the columns of every ``HEADER`` row of the attribute table at
    ``level`` (or of the item attributes of ``sequence``)."""
    namespace: dict[str, Any] = {}
    for attr in header_attributes(level, sequence):
        nullable = attr.kind is Kind.INT
        for name, column_type in attribute_column_types(attr).items():
            default = None if nullable else ""
            namespace[name] = mapped_column(column_type, nullable=nullable, default=default)
    return type(f"{level.name.title()}{sequence or ''}Attributes", (), namespace)


if TYPE_CHECKING:
    # Made by attribute_mixin at run time; declared here for the columns code names.

    class _StudyAttributes:
        patient_name: Mapped[str]
        patient_id: Mapped[str]
        patient_birth_date: Mapped[str]
        patient_sex: Mapped[str]
        study_date: Mapped[str]
        study_time: Mapped[str]
        study_description: Mapped[str]
        study_id: Mapped[str]
        accession_number: Mapped[str]

    class _SeriesAttributes:
        modality: Mapped[str]
        series_number: Mapped[int | None]
        series_description: Mapped[str]

    class _InstanceAttributes:
        instance_number: Mapped[int | None]

    class _RequestAttributes:
        pass

else:
    _StudyAttributes = attribute_mixin(Level.STUDY)
    _SeriesAttributes = attribute_mixin(Level.SERIES)
    _InstanceAttributes = attribute_mixin(Level.INSTANCE)
    _RequestAttributes = attribute_mixin(Level.SERIES, "RequestAttributesSequence")


class Account(Base):
    __tablename__ = "account"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(200))
    dicomweb_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    # The Basic-auth user name; unique across the server (lowercased on write).
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # admin, member or reader (services/permissions.py says what each may do).
    role: Mapped[str] = mapped_column(String(20), default="member")
    # A disabled user cannot sign in, with the password or any of its API tokens.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Raised by every change that must end the user's existing logins (password, role,
    # institutions, disabling): cached logins and sessions made before it stop working.
    credentials_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UserInstitution(Base):
    """A user limited to some institutions has one row per institution (none: all)."""

    __tablename__ = "user_institution"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ApiToken(Base):
    """A personal API token: a random secret shown once; only its keyed hash is kept."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # HMAC-SHA256 of the token (hex): looked up by equality, never reversible.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so that a user can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(20))  # "read" or "read-write"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OrderModality(Base):
    """One row per modality of a patient order: the order's own (a scheduled order's)
    and its images' (each linked study's ModalitiesInStudy). The order list's modality
    filter reads it by its primary key (account, modality, order) instead of scanning
    every study's ModalitiesInStudy. Kept by :mod:`openpacs.index.order_modalities`
    wherever an order is made or a study's modalities or order change."""

    __tablename__ = "order_modality"
    account_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    modality: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("patient_order.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RevokedSession(Base):
    """A web session ended by its user (sign-out) before it expired: its id (the nonce
    signed in the cookie) is refused from then on, by every process and node, in the
    same query that reads the session's user. Rows are purged once the session would
    have expired anyway (``expires_at``: its absolute expiry)."""

    __tablename__ = "revoked_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuthEpoch(Base):
    """One row whose counter rises with every change that ends logins (a password, a
    role, a disabled user, a revoked token). Each server process reads it about once a
    second and forgets its cached logins when it moved, so such a change reaches every
    process and every node (they share only the database) within seconds."""

    __tablename__ = "auth_epoch"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)


class UserGroup(Base):
    __tablename__ = "user_group"
    __table_args__ = (UniqueConstraint("account_id", "name"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))


class UserGroupMember(Base):
    __tablename__ = "user_group_member"
    group_id: Mapped[int] = mapped_column(
        ForeignKey("user_group.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Institution(Base):
    __tablename__ = "institution"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class Equipment(Base):
    """A device of an institution. Its AE title makes it a DICOM peer: an association
    whose calling AE title is this one acts for the equipment's account; with a host and
    a port it is also a C-MOVE destination (and where storage commitment reports go)."""

    __tablename__ = "equipment"
    __table_args__ = (Index("ix_equipment_ae_title", "ae_title"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    modality: Mapped[str] = mapped_column(String(16), default="")
    ae_title: Mapped[str] = mapped_column(String(16), default="")
    # Where the device listens for DICOM associations (host name or address, port); ""
    # and None when it does not (it only sends).
    host: Mapped[str] = mapped_column(String(255), default="")
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)


class PatientOrder(Base):
    """One imaging examination of one patient; exists before or because of its images."""

    __tablename__ = "patient_order"
    __table_args__ = (
        UniqueConstraint("account_id", "study_instance_uid"),
        Index("ix_order_account_patient_id", "account_id", "patient_id"),
        Index("ix_order_account_name", "account_id", "patient_name_norm"),
        Index("ix_order_account_accession", "account_id", "accession_number"),
        Index("ix_order_account_study_date", "account_id", "study_date"),
        Index("ix_order_account_created", "account_id", "created_at", "id"),
        # The web application's status filter (Scheduled / ImagesReceived), newest first.
        Index("ix_order_account_status", "account_id", "status", "created_at", "id"),
        Index("ix_order_account_modality", "account_id", "modality"),
        # The order search's OtherPatientId, PatientBirthdate range and institution filters.
        Index("ix_order_account_other_patient_id", "account_id", "other_patient_id"),
        Index("ix_order_account_birth_date", "account_id", "patient_birth_date"),
        Index("ix_order_account_institution", "account_id", "institution_id", "created_at", "id"),
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="Scheduled")
    study_instance_uid: Mapped[str] = mapped_column(String(64))
    patient_name: Mapped[str] = mapped_column(String(400), default="")
    # Upper-case, accent-free copy for case-insensitive and prefix search.
    patient_name_norm: Mapped[str] = mapped_column(NormText(400), default="")
    patient_id: Mapped[str] = mapped_column(String(64), default="")
    other_patient_id: Mapped[str] = mapped_column(String(64), default="")
    patient_birth_date: Mapped[str] = mapped_column(String(8), default="")  # YYYYMMDD
    patient_sex: Mapped[str] = mapped_column(String(16), default="")
    modality: Mapped[str] = mapped_column(String(64), default="")
    study_description: Mapped[str] = mapped_column(String(400), default="")
    study_date: Mapped[str] = mapped_column(String(8), default="")  # YYYYMMDD
    accession_number: Mapped[str] = mapped_column(String(64), default="")
    patient_complaints: Mapped[str] = mapped_column(Text, default="")
    scheduled_datetime: Mapped[str] = mapped_column(String(16), default="")  # YYYY-MM-DD HH:MM
    requested_procedure_id: Mapped[str] = mapped_column(String(64), default="")
    requested_procedure_description: Mapped[str] = mapped_column(String(400), default="")
    requesting_physician: Mapped[str] = mapped_column(String(400), default="")
    referring_physicians_name: Mapped[str] = mapped_column(String(400), default="")
    scheduled_equipment_id: Mapped[int | None] = mapped_column(
        ForeignKey("equipment.id", ondelete="SET NULL"), nullable=True
    )
    assigned_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    assigned_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_group.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Study(_StudyAttributes, Base):
    __tablename__ = "study"
    __table_args__ = (
        UniqueConstraint("account_id", "study_instance_uid"),
        Index("ix_study_account_patient_id", "account_id", "patient_id"),
        Index("ix_study_account_name", "account_id", "patient_name_norm"),
        Index("ix_study_account_accession", "account_id", "accession_number"),
        Index("ix_study_account_date", "account_id", "study_date", "id"),
        Index("ix_study_account_modalities", "account_id", "modalities_in_study"),
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("patient_order.id", ondelete="SET NULL"), nullable=True, index=True
    )
    study_instance_uid: Mapped[str] = mapped_column(String(64))
    # The orders' copy of the other patient ids (from OtherPatientIDsSequence).
    other_patient_ids: Mapped[str] = mapped_column(String(400), default="")
    # Backslash-delimited with leading and trailing backslash: "\CT\PR\".
    modalities_in_study: Mapped[str] = mapped_column(String(200), default="")
    sop_classes_in_study: Mapped[str] = mapped_column(Text, default="")
    num_series: Mapped[int] = mapped_column(Integer, default=0)
    num_instances: Mapped[int] = mapped_column(Integer, default=0)
    # DICOM JSON (bytes) of the patient/study-level attributes of the first instance stored.
    study_json: Mapped[bytes] = mapped_column(LargeBinary, default=b"{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Series(_SeriesAttributes, Base):
    __tablename__ = "series"
    __table_args__ = (
        UniqueConstraint("account_id", "series_instance_uid"),
        Index("ix_series_study_number", "study_id", "series_number", "id"),
        Index("ix_series_account_modality", "account_id", "modality"),
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    series_instance_uid: Mapped[str] = mapped_column(String(64))
    num_instances: Mapped[int] = mapped_column(Integer, default=0)
    # DICOM JSON (bytes) of the series-level attributes of the first instance stored.
    series_json: Mapped[bytes] = mapped_column(LargeBinary, default=b"{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SeriesRequestAttributes(_RequestAttributes, Base):
    """One item of RequestAttributesSequence (0040,0275), for QIDO sequence matching."""

    __tablename__ = "series_request_attributes"
    __table_args__ = (
        Index("ix_sra_requested_procedure", "account_id", "requested_procedure_id"),
        Index("ix_sra_scheduled_step", "account_id", "scheduled_procedure_step_id"),
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)


class Instance(_InstanceAttributes, Base):
    __tablename__ = "instance"
    __table_args__ = (
        UniqueConstraint("account_id", "sop_instance_uid"),
        Index("ix_instance_series_number", "series_id", "instance_number", "id"),
        Index("ix_instance_study", "study_id"),
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    sop_instance_uid: Mapped[str] = mapped_column(String(64))
    sop_class_uid: Mapped[str] = mapped_column(String(64))
    transfer_syntax_uid: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    columns: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bits_allocated: Mapped[int | None] = mapped_column(Integer, nullable=True)
    number_of_frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Where the Part-10 file lives in the blob store; made from an internal id only.
    blob_key: Mapped[str] = mapped_column(String(200), unique=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    # DICOM JSON (bytes) of the instance-level attributes returned by QIDO.
    instance_json: Mapped[bytes] = mapped_column(LargeBinary, default=b"{}")
    # Full DICOM JSON metadata; bulk data as BulkDataURI relative to a placeholder base.
    metadata_json: Mapped[bytes] = mapped_column(LargeBinary, default=b"{}")
    # JSON: per frame, a list of [offset, length] byte ranges in the blob.
    frames_json: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # JSON: {"<bulk path>": [offset, length]} for BulkDataURI retrieval.
    bulk_json: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PendingBlob(Base):
    """A blob being written: removed when its instance commits, else collected by gc."""

    __tablename__ = "pending_blob"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    blob_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class Folder(Base):
    __tablename__ = "folder"
    __table_args__ = (Index("ix_folder_account_parent", "account_id", "parent_id"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("folder.id", ondelete="CASCADE"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(200))
    name_norm: Mapped[str] = mapped_column(NormText(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FolderOrder(Base):
    __tablename__ = "folder_order"
    folder_id: Mapped[int] = mapped_column(
        ForeignKey("folder.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(
        ForeignKey("patient_order.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Share(Base):
    __tablename__ = "share"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True
    )
    # The secret in the URL; store a hash so a database leak does not leak the links.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    expire_date: Mapped[str] = mapped_column(String(10), default="")  # YYYY-MM-DD, "" = never
    downloadable: Mapped[bool] = mapped_column(Boolean, default=False)
    folder_id: Mapped[int | None] = mapped_column(
        ForeignKey("folder.id", ondelete="CASCADE"), nullable=True
    )
    title: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ShareOrder(Base):
    __tablename__ = "share_order"
    share_id: Mapped[int] = mapped_column(
        ForeignKey("share.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(
        ForeignKey("patient_order.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AuditEvent(Base):
    """Who did what to which study: the audit trail users expect of a PACS.

    Read newest first, filtered by one of user, patient, study or action and a time
    range: each of those has an index that ends in (created_at, id), so a page of the
    readout is one index range walked backwards, whatever the size of the table.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_account_time", "account_id", "created_at", "id"),
        Index("ix_audit_account_user", "account_id", "user_id", "created_at", "id"),
        Index("ix_audit_account_patient", "account_id", "patient_id", "created_at", "id"),
        Index("ix_audit_account_study", "account_id", "study_instance_uid", "created_at", "id"),
        Index("ix_audit_account_action", "account_id", "action", "created_at", "id"),
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    share_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The API token the user signed in with (None: the password, or a share link).
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(40))
    # "success", or "failure" for a refused or failed attempt (the reason in detail).
    outcome: Mapped[str] = mapped_column(String(10), default="success")
    study_instance_uid: Mapped[str] = mapped_column(String(64), default="")
    patient_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    client: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditJournalMark(Base):
    """How far a process's audit journal file has been copied into ``audit_event``:
    written in the same transaction as the rows, so a journal replayed after a crash
    adds exactly the events that were not copied yet."""

    __tablename__ = "audit_journal_mark"
    journal: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


_LEVEL_MODELS: dict[Level, type[Base]] = {
    Level.STUDY: Study,
    Level.SERIES: Series,
    Level.INSTANCE: Instance,
}
_SEQUENCE_MODELS: dict[str, type[Base]] = {"RequestAttributesSequence": SeriesRequestAttributes}


def attribute_model(attr: Attribute) -> type[Base]:
    """The table that holds ``attr``'s column: its level's, or its sequence's item table."""
    return _LEVEL_MODELS[attr.level] if attr.sequence is None else _SEQUENCE_MODELS[attr.sequence]


def attribute_column(attr: Attribute, name: str | None = None) -> KeyedColumnElement[Any]:
    """The column ``name`` (default: ``attr.column``) of ``attr``'s table."""
    column = name or attr.column
    if column is None:
        raise ValueError(f"{attr.keyword} has no index column")
    return attribute_model(attr).__table__.c[column]

"""The services the web application added, on a real SQLite index: account
administration by its admins, folder rename/move/delete and taking an order out, a share
link's new expiry date, order summaries by UUID."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from openpacs.index.credentials import read_epoch
from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import AuditEvent, Folder, Institution, PatientOrder, Share, User
from openpacs.services import accounts
from openpacs.services.administration import AdminService, EquipmentInput
from openpacs.services.assignments import AssignmentService
from openpacs.services.errors import BadRequest, Conflict, Forbidden, NotFound
from openpacs.services.folders import FolderQuery, FolderService
from openpacs.services.orders import NewOrder, OrderService
from openpacs.services.principal import Principal
from openpacs.services.shares import ShareOptions, ShareService


@dataclass(frozen=True)
class World:
    db: Database
    admin: Principal
    member: Principal
    stranger: Principal  # the admin of another account
    institution: str


def principal(db: Database, email: str) -> Principal:
    with db.session() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return Principal(
            user.account_id, user_id=user.id, user_uuid=user.uuid, email=email, role=user.role
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = Database(f"sqlite:///{tmp_path / 'index.db'}")
    upgrade(db.engine)
    with db.session() as session:
        made = accounts.create_account(session, name="a", email="admin@a.org", password="x" * 12)
        account = accounts.find_account(session, "a")
        accounts.add_user(session, account, email="m@a.org", password="y" * 12, role="member")
        accounts.create_account(session, name="b", email="admin@b.org", password="z" * 12)
    yield World(
        db,
        principal(db, "admin@a.org"),
        principal(db, "m@a.org"),
        principal(db, "admin@b.org"),
        made.institution_uuid,
    )
    db.dispose()


def new_order(world: World, patient_id: str = "P1") -> str:
    order = OrderService(world.db).create(
        world.admin,
        NewOrder(world.institution, "Doe^Jane", patient_id, date(1970, 1, 1), "CT"),
    )
    return order.patient_order_uuid


def test_only_admins_administer_and_only_their_own_account(world: World) -> None:
    admin = AdminService(world.db)
    with pytest.raises(Forbidden, match=r"your role \(member\) may not manage"):
        admin.users(world.member)
    made = admin.add_user(world.admin, "new@a.org", "New One", "reader", "a fine password 1")
    listed = {u.email: u for u in admin.users(world.admin)}
    assert listed["new@a.org"].role == "reader" and listed["new@a.org"].user_uuid == made
    assert "new@a.org" not in {u.email for u in admin.users(world.stranger)}
    with pytest.raises(NotFound):
        admin.set_role(world.stranger, made, "admin")  # another account's user
    with pytest.raises(BadRequest, match="10 characters"):
        admin.add_user(world.admin, "weak@a.org", "", "member", "short")
    with pytest.raises(BadRequest, match="role"):
        admin.add_user(world.admin, "odd@a.org", "", "owner", "a fine password 1")
    with pytest.raises(Conflict):
        admin.add_user(world.admin, "new@a.org", "", "member", "a fine password 1")


def test_a_role_change_or_disabling_ends_logins_but_not_ones_own(world: World) -> None:
    admin = AdminService(world.db)
    member_uuid = world.member.user_uuid
    assert member_uuid is not None
    with world.db.session() as session:
        before = session.scalars(select(User).where(User.email == "m@a.org")).one()
        version = before.credentials_version
    admin.set_role(world.admin, member_uuid, "reader")
    admin.set_disabled(world.admin, member_uuid, True)
    admin.set_password(world.admin, member_uuid, "another fine password")
    with world.db.session() as session:
        after = session.scalars(select(User).where(User.email == "m@a.org")).one()
        assert after.role == "reader" and after.disabled
        assert after.credentials_version == version + 3
    own = world.admin.user_uuid
    assert own is not None
    with pytest.raises(Forbidden, match="your own role"):
        admin.set_role(world.admin, own, "member")
    with pytest.raises(Forbidden, match="disable yourself"):
        admin.set_disabled(world.admin, own, True)


def test_groups_institutions_and_equipment(world: World) -> None:
    admin = AdminService(world.db)
    group = admin.add_group(world.admin, "  Radiology  ")
    member_uuid = world.member.user_uuid
    assert member_uuid is not None
    admin.set_member(world.admin, group, member_uuid, True)
    admin.set_member(world.admin, group, member_uuid, True)  # idempotent
    admin.set_member(world.admin, group, member_uuid, False)
    with pytest.raises(NotFound):
        admin.set_member(world.stranger, group, member_uuid, True)
    north = admin.add_institution(world.admin, "North")
    with pytest.raises(Conflict):
        admin.add_institution(world.admin, "North")
    ct = admin.add_equipment(
        world.admin, EquipmentInput(north, "CT 1", "CT", "CT1", "10.0.0.5", 104)
    )
    with pytest.raises(Conflict, match="AE title CT1"):
        admin.add_equipment(world.admin, EquipmentInput(north, "CT 2", "CT", "CT1"))
    with pytest.raises(BadRequest, match="port"):
        admin.update_equipment(
            world.admin, ct, EquipmentInput(north, "CT 1", "CT", "CT1", "h", 70000)
        )
    with pytest.raises(NotFound):
        admin.remove_equipment(world.stranger, ct)
    admin.remove_equipment(world.admin, ct)


def test_folders_rename_move_delete(world: World) -> None:
    folders = FolderService(world.db)
    top = folders.create(world.admin, "Teaching").folder_uuid
    child = folders.create(world.admin, "Chest", parent_folder_uuid=top).folder_uuid
    other = folders.create(world.admin, "Other").folder_uuid
    with pytest.raises(BadRequest, match="into itself"):
        folders.change(world.admin, top, "Teaching", "", child)
    with pytest.raises(Conflict):
        folders.change(world.admin, other, "teaching", "", "")  # same name at the top
    folders.change(world.admin, child, "Chest CT", "cases", other)
    moved = {f.folder_uuid: f for f in folders.search(world.admin, FolderQuery()).folder_list}
    assert moved[child].folder_name == "Chest CT" and moved[child].parent_folder_uuid == other
    order = new_order(world)
    folders.add_order(world.admin, order, [child])
    with pytest.raises(Conflict, match="not empty"):
        folders.delete(world.admin, other, with_contents=False)
    ShareService(world.db, "http://x", "UTC").share_folder(
        world.member, child, ShareOptions(expire_date=None)
    )
    folders.delete(world.member, other, with_contents=True)  # the member's own share link
    with world.db.session() as session:
        assert session.scalars(select(Folder.uuid)).all() == [top]
        assert session.scalars(select(Share.id)).all() == []
        assert session.scalars(select(PatientOrder.uuid)).all() == [order]  # orders stay
    folders.add_order(world.admin, order, [top])
    folders.remove_order(world.admin, order, top)
    assert folders.search(world.admin, FolderQuery()).folder_list[0].number_of_orders == 0
    with pytest.raises(NotFound):
        folders.remove_order(world.stranger, order, top)


def test_a_member_cannot_delete_a_folder_shared_by_someone_else(world: World) -> None:
    folders = FolderService(world.db)
    shared = folders.create(world.admin, "Board").folder_uuid
    ShareService(world.db, "http://x", "UTC").share_folder(
        world.admin, shared, ShareOptions(expire_date=None)
    )
    with pytest.raises(Forbidden, match="may not revoke"):
        folders.delete(world.member, shared, with_contents=True)


def test_a_share_links_new_expiry(world: World) -> None:
    shares = ShareService(world.db, "http://x", "UTC")
    order = new_order(world)
    soon = date.today() + timedelta(days=2)
    made = shares.share_orders(world.admin, [order], ShareOptions(expire_date=soon), "o")
    with world.db.session() as session:  # as if it had expired
        session.execute(
            Share.__table__.update().values(expire_date="2020-01-01")  # type: ignore[attr-defined]
        )
    assert shares.list_shares(world.admin).share_list[0].expired
    later = date.today() + timedelta(days=30)
    info = shares.extend(world.admin, made.share_uuid, later)
    assert info.expire_date == later.isoformat() and not info.expired
    assert shares.extend(world.admin, made.share_uuid, None).expire_date == ""
    with pytest.raises(BadRequest, match="in the past"):
        shares.extend(world.admin, made.share_uuid, date(2020, 1, 1))
    with pytest.raises(Forbidden, match="only the share links you created"):
        shares.extend(world.member, made.share_uuid, later)
    with pytest.raises(NotFound):
        shares.extend(world.stranger, made.share_uuid, later)


def test_order_summaries_by_uuid_keep_the_read_scope(world: World) -> None:
    first, second = new_order(world, "P1"), new_order(world, "P2")
    service = OrderService(world.db)
    found = {o.patient_order_uuid for o in service.summaries(world.admin, [first, second, "x"])}
    assert found == {first, second}
    assert service.summaries(world.stranger, [first, second]) == ()


def test_the_order_lists_status_mine_and_sorts(world: World) -> None:
    from openpacs.services.assignments import AssignmentService
    from openpacs.services.orders import OrderQuery

    service = OrderService(world.db)
    made = [new_order(world, f"P{n}") for n in range(4)]
    member_uuid = world.member.user_uuid
    assert member_uuid is not None
    group = AdminService(world.db).add_group(world.admin, "Radiology")
    AdminService(world.db).set_member(world.admin, group, member_uuid, True)
    AssignmentService(world.db).assign_user(world.admin, made[0], member_uuid)
    AssignmentService(world.db).assign_group(world.admin, made[2], group)
    with world.db.session() as session:
        session.execute(
            PatientOrder.__table__.update()  # type: ignore[attr-defined]
            .where(PatientOrder.uuid == made[1])
            .values(status="ImagesReceived", patient_name_norm="AAA", study_date="20240102")
        )

    def uuids(**query: object) -> list[str]:
        page = service.search(world.admin, OrderQuery(**query))  # type: ignore[arg-type]
        return [o.patient_order_uuid for o in page.patient_order_list]

    mine = OrderQuery(assigned_to_user_id=world.member.user_id)
    assert {o.patient_order_uuid for o in service.search(world.admin, mine).patient_order_list} == {
        made[0],
        made[2],
    }
    assert uuids(status="ImagesReceived") == [made[1]]
    assert set(uuids(status="Scheduled")) == {made[0], made[2], made[3]}
    assert uuids() == list(reversed(made))  # newest first
    assert uuids(sort="oldest") == made
    assert uuids(sort="name")[0] == made[1]
    assert uuids(sort="study_date")[0] == made[1]
    assert uuids(modalities=("CT",), limit=2) == [made[3], made[2]]
    assert service.search(world.admin, OrderQuery(modalities=("CT",))).total_count == 4
    assert service.search(world.admin, OrderQuery(modalities=("MR",))).total_count == 0
    with pytest.raises(BadRequest, match="sort"):
        uuids(sort="size")
    with pytest.raises(BadRequest, match="status"):
        uuids(status="Done")


def audited(world: World, action: str) -> list[tuple[int | None, str]]:
    """(user_id, detail) of the account's audit events of ``action``, oldest first."""
    with world.db.session() as session:
        rows = session.execute(
            select(AuditEvent.user_id, AuditEvent.detail)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
        return [(user_id, detail) for user_id, detail in rows]


def limited(world: World, who: Principal, *institution_uuids: str) -> Principal:
    """``who`` as if limited to these institutions."""
    with world.db.session() as session:
        ids = session.scalars(
            select(Institution.id).where(Institution.uuid.in_(institution_uuids))
        ).all()
    return replace(who, institution_ids=frozenset(ids))


def test_an_admin_limits_a_user_to_institutions(world: World) -> None:
    admin = AdminService(world.db)
    north = admin.add_institution(world.admin, "North")
    member = world.member.user_uuid
    assert member is not None
    with world.db.session() as session:
        version = session.scalars(select(User).where(User.uuid == member)).one()
        before = version.credentials_version
    admin.set_institutions(world.admin, member, [north])
    listed = {u.user_uuid: u for u in admin.users(world.admin)}
    assert listed[member].institution_uuids == (north,)
    with world.db.session() as session:
        after = session.scalars(select(User).where(User.uuid == member)).one()
        assert after.credentials_version == before + 1  # their logins end
    assert audited(world, "user.set_institutions")[-1] == (
        world.admin.user_id,
        f"m@a.org ({member}): {north}",
    )
    admin.set_institutions(world.admin, member, [])  # none: every institution
    assert {u.user_uuid: u for u in admin.users(world.admin)}[member].institution_uuids == ()
    with pytest.raises(Forbidden, match=r"your role \(member\) may not manage"):
        admin.set_institutions(world.member, member, [north])
    own = world.admin.user_uuid
    assert own is not None
    with pytest.raises(Forbidden, match="your own institutions"):
        admin.set_institutions(world.admin, own, [north])
    theirs = AdminService(world.db).institutions(world.stranger)[0].institution_uuid
    with pytest.raises(NotFound, match="no institution"):
        admin.set_institutions(world.admin, member, [theirs])
    with pytest.raises(Forbidden, match="only an admin with no limit"):
        admin.set_institutions(limited(world, world.admin, north), member, [])


def test_groups_are_renamed_and_removed_with_their_assignments(world: World) -> None:
    admin = AdminService(world.db)
    group = admin.add_group(world.admin, "Radiology")
    admin.add_group(world.admin, "Cardiology")
    member = world.member.user_uuid
    assert member is not None
    admin.set_member(world.admin, group, member, True)
    order = new_order(world)
    AssignmentService(world.db).assign_group(world.admin, order, group)
    admin.rename_group(world.admin, group, "  Neuro   radiology ")
    (neuro,) = [g for g in admin.groups(world.admin) if g.user_group_uuid == group]
    assert (neuro.user_group_name, neuro.user_uuid_list) == ("Neuro radiology", (member,))
    assert neuro.assigned_orders == 1
    with pytest.raises(Conflict, match="already exists"):
        admin.rename_group(world.admin, group, "Cardiology")
    with pytest.raises(BadRequest, match="needs a name"):
        admin.rename_group(world.admin, group, "  ")
    with pytest.raises(BadRequest, match="at most 200"):
        admin.rename_group(world.admin, group, "x" * 201)
    with pytest.raises(Forbidden):
        admin.remove_group(world.member, group)
    with pytest.raises(NotFound):
        admin.remove_group(world.stranger, group)
    admin.remove_group(world.admin, group)
    assert [g.user_group_name for g in admin.groups(world.admin)] == ["Cardiology"]
    with world.db.session() as session:
        row = session.scalars(select(PatientOrder).where(PatientOrder.uuid == order)).one()
        assert row.assigned_group_id is None
    assert audited(world, "group.rename")[-1][1] == f"Radiology -> Neuro radiology ({group})"
    assert audited(world, "group.remove")[-1] == (
        world.admin.user_id,
        f"Neuro radiology ({group}): 1 member(s), 1 order assignment(s) ended",
    )


def test_institutions_renamed_made_default_and_removed_only_when_unused(world: World) -> None:
    admin = AdminService(world.db)
    home = world.institution
    north = admin.add_institution(world.admin, "North")
    south = admin.add_institution(world.admin, "South")
    admin.rename_institution(world.admin, south, " South  wing ")
    with pytest.raises(Conflict, match="already exists"):
        admin.rename_institution(world.admin, south, "North")
    shown = {i.institution_uuid: i for i in admin.institutions(world.admin)}
    assert shown[south].institution_name == "South wing"
    assert "default institution" in shown[home].removal_refusal
    assert shown[north].removal_refusal == ""
    with pytest.raises(Conflict, match="make another institution the default"):
        admin.remove_institution(world.admin, home)
    # Equipment, a limited user and orders each keep an institution.
    ct = admin.add_equipment(world.admin, EquipmentInput(north, "CT 1"))
    with pytest.raises(Conflict, match=r"has equipment \(CT 1\)"):
        admin.remove_institution(world.admin, north)
    admin.remove_equipment(world.admin, ct)
    member = world.member.user_uuid
    assert member is not None
    admin.set_institutions(world.admin, member, [north])
    with pytest.raises(Conflict, match=r"users are limited to North \(m@a.org\)"):
        admin.remove_institution(world.admin, north)
    admin.set_institutions(world.admin, member, [])
    OrderService(world.db).create(
        world.admin, NewOrder(north, "Doe^Jane", "P9", date(1970, 1, 1), "CT")
    )
    with pytest.raises(Conflict, match="North has 1 order;"):
        admin.remove_institution(world.admin, north)
    # The default moves; the old default can then go.
    admin.set_default_institution(world.admin, south)
    shown = {i.institution_uuid: i for i in admin.institutions(world.admin)}
    assert [u for u, i in shown.items() if i.is_default] == [south]
    admin.remove_institution(world.admin, home)
    assert set(u.institution_uuid for u in admin.institutions(world.admin)) == {north, south}
    assert audited(world, "institution.remove")[-1][1].endswith(f"({home})")
    assert audited(world, "institution.set_default")[-1][1] == f"South wing ({south})"
    assert audited(world, "institution.rename")[-1][1] == f"South -> South wing ({south})"
    for refused in (
        lambda who: admin.rename_institution(who, north, "N"),
        lambda who: admin.set_default_institution(who, north),
        lambda who: admin.remove_institution(who, north),
    ):
        with pytest.raises(Forbidden, match="may not manage"):
            refused(world.member)
        with pytest.raises(Forbidden, match="only an admin with no limit"):
            refused(limited(world, world.admin, north))
    with pytest.raises(NotFound):
        admin.remove_institution(world.stranger, south)


def test_the_dicomweb_switch_moves_the_login_epoch_and_is_audited(world: World) -> None:
    admin = AdminService(world.db)
    assert admin.settings(world.admin).dicomweb_enabled
    with world.db.session() as session:
        epoch = read_epoch(session.connection())
    admin.set_dicomweb(world.admin, False)
    assert not admin.settings(world.admin).dicomweb_enabled
    with world.db.session() as session:
        assert read_epoch(session.connection()) > epoch  # cached logins see it at once
    admin.set_dicomweb(world.admin, False)  # no change: nothing more recorded
    assert audited(world, "account.set_dicomweb") == [(world.admin.user_id, "DICOMweb off")]
    admin.set_dicomweb(world.admin, True)
    assert AdminService(world.db).settings(world.stranger).dicomweb_enabled
    with pytest.raises(Forbidden, match="may not manage"):
        admin.set_dicomweb(world.member, False)


def test_a_folder_name_clash_names_the_folders_in_words(world: World) -> None:
    folders = FolderService(world.db)
    top = folders.create(world.admin, "Teaching").folder_uuid
    cases = folders.create(world.admin, "Cases", parent_folder_uuid=top).folder_uuid
    chest = folders.create(world.admin, "Chest", parent_folder_uuid=cases).folder_uuid
    other = folders.create(world.admin, "Other", parent_folder_uuid=cases).folder_uuid
    with pytest.raises(Conflict) as clash:
        folders.change(world.admin, other, "CHEST", "", cases)
    assert clash.value.reason == (
        "FolderName: there is already a folder named 'Chest' in 'Teaching / Cases' (names "
        f"are compared ignoring case, accents and spaces); choose another name (FolderUuid {chest})"
    )
    with pytest.raises(Conflict) as clash:
        folders.create(world.admin, "Teaching")
    assert clash.value.reason == (
        "FolderName: there is already a folder named 'Teaching' at the top level; "
        f"choose another name (FolderUuid {top})"
    )


def test_a_change_that_clashes_with_a_simultaneous_one_is_a_conflict(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = AdminService(world.db)
    group = admin.add_group(world.admin, "Radiology")
    admin.add_group(world.admin, "Cardiology")
    # As if another admin took the name between the check and the write.
    monkeypatch.setattr(accounts, "_check_free_group_name", lambda *args, **kwargs: None)
    with pytest.raises(Conflict, match="a change made at the same time"):
        admin.rename_group(world.admin, group, "Cardiology")
    assert {g.user_group_name for g in admin.groups(world.admin)} == {"Radiology", "Cardiology"}

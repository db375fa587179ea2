"""Adding a QIDO attribute is one row of the attribute table plus a migration.

The change a developer would make is applied to a scratch copy of the package: the row
for PerformedStationName (0040,0242), an attribute outside every level's hand-written tag
set, so no stored JSON of the series already in the index holds it, and a migration file
that calls the helper. A server of the unchanged code stores series first; the changed
server upgrades the same index at start and stores one more; QIDO then matches and
returns the attribute for the old series and the new one alike. SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.dataset import make_instance

import openpacs
from openpacs.index.migrate import head_revision
from tests.support.postgres import temporary_database
from tests.support.server import ServerProcess, TestAccount
from tests.support.specs import small_spec
from tests.support.stow import stow
from tests.support.uids import with_elements

# The developer's change, as they would write it (the README shows the same diff).
ANCHOR = '    Attribute("StationName", SE, K.TEXT, "station_name", 64, matching=True),\n'
ROW = (
    '    Attribute("PerformedStationName", SE, K.TEXT, "performed_station_name", 16,\n'
    "              matching=True),\n"
)
MIGRATION = '''"""PerformedStationName (0040,0242) becomes a series matching key

Revision ID: {revision}
Revises: {down}
"""

from __future__ import annotations

from openpacs.dicom.attributes import Attribute, Kind, Level
from openpacs.index.migrations.attribute_columns import (
    add_attribute_column,
    drop_attribute_column,
)

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None

# As the row of dicom/attributes.py reads when this migration was written.
PERFORMED_STATION_NAME = Attribute(
    "PerformedStationName", Level.SERIES, Kind.TEXT, "performed_station_name", 16
)


def upgrade() -> None:
    add_attribute_column(PERFORMED_STATION_NAME)


def downgrade() -> None:
    drop_attribute_column(PERFORMED_STATION_NAME)
'''
PERFORMED_STATION_NAME = "00400242"
SERIES_UID = "0020000E"


def changed_package(root: Path) -> Path:
    """A copy of the installed package with the row and the migration added; returns the
    directory to put on PYTHONPATH."""
    package = Path(openpacs.__file__).parent
    copy = root / "src" / "openpacs"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    table = copy / "dicom" / "attributes.py"
    source = table.read_text()
    assert source.count(ANCHOR) == 1
    table.write_text(source.replace(ANCHOR, ANCHOR + ROW))
    down = head_revision()  # "0007_order_modality": the number, then a word or two
    number = f"{int(down.split('_')[0]) + 1:04d}"
    revision = f"{number}_performed_station"
    versions = copy / "index" / "migrations" / "versions"
    migration = MIGRATION.format(revision=revision, down=down)
    (versions / f"{number}_performed_station_name.py").write_text(migration)
    return root / "src"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'openpacs.db'}"
        return
    with temporary_database() as url:
        yield url


def series(server: ServerProcess, account: TestAccount, **query: str) -> dict[str, Any]:
    """Series UID -> the series' QIDO result."""
    response = httpx.get(f"{server.dicomweb}/series", params=query, auth=account.auth)
    assert response.status_code in (200, 204), response.text
    found = response.json() if response.status_code == 200 else []
    return {item[SERIES_UID]["Value"][0]: item for item in found}


def station(result: dict[str, Any]) -> list[str]:
    return list(result.get(PERFORMED_STATION_NAME, {}).get("Value", []))


def test_a_new_attribute_is_matched_and_returned_for_old_and_new_series(
    tmp_path: Path, database_url: str
) -> None:
    old_spec, plain_spec = small_spec("pstation", 1, 1), small_spec("pstation", 2, 1)
    new_spec = small_spec("pstation", 3, 1)
    data_dir = tmp_path / "data"
    before = ServerProcess(data_dir, database_url=database_url).start()
    try:
        account = before.create_account()
        old = with_elements(make_instance(old_spec), PerformedStationName="CT-OLD")
        assert stow(before.dicomweb, account.auth, [old, make_instance(plain_spec)]).is_success
        # Not a matching key yet: the parameter is ignored (PS3.18 8.3), both series come.
        assert len(series(before, account, PerformedStationName="CT-OLD")) == 2
    finally:
        before.stop()

    env = {"PYTHONPATH": str(changed_package(tmp_path / "changed"))}
    after = ServerProcess(data_dir, database_url=database_url, env=env).start()
    try:
        new = with_elements(make_instance(new_spec), PerformedStationName="CT-NEW")
        assert stow(after.dicomweb, account.auth, [new]).is_success

        matched = series(after, account, PerformedStationName="CT-OLD")
        assert list(matched) == [old_spec.series_uid]
        assert station(matched[old_spec.series_uid]) == ["CT-OLD"]
        matched = series(after, account, PerformedStationName="CT-NEW")
        assert list(matched) == [new_spec.series_uid]
        assert station(matched[new_spec.series_uid]) == ["CT-NEW"]
        assert set(series(after, account, PerformedStationName="CT-*")) == {
            old_spec.series_uid,
            new_spec.series_uid,
        }
        every = series(after, account, includefield="PerformedStationName")
        assert {uid: station(item) for uid, item in every.items()} == {
            old_spec.series_uid: ["CT-OLD"],
            plain_spec.series_uid: [],
            new_spec.series_uid: ["CT-NEW"],
        }
    finally:
        after.stop()

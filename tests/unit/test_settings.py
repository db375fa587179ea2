"""Settings from the environment: one table, checked against the README and the flags."""

from __future__ import annotations

import argparse
import pickle
import re
from dataclasses import fields
from pathlib import Path

import pytest

from openpacs.cli.main import build_parser
from openpacs.settings import ENVIRONMENT, Settings, SettingsError, settings_from_env

README = Path(__file__).resolve().parents[2] / "README.md"
# Fields no environment variable sets.
NOT_FROM_ENVIRONMENT = {"auth_cache_seconds", "extra"}


def readme_configuration_rows() -> dict[str, str | None]:
    """``{variable: flag or None}`` from the table of README's Configuration section."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str | None] = {}
    for line in section.splitlines():
        match = re.match(r"\| `(OPENPACS_\w+)` \| (`(--[\w-]+)`)? *\|", line)
        if match:
            rows[match.group(1)] = match.group(3)
    return rows


def serve_flags() -> set[str]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    serve = commands.choices["serve"]
    return {option for action in serve._actions for option in action.option_strings}


def test_every_row_is_in_the_readme_table_and_every_readme_row_in_the_table() -> None:
    assert readme_configuration_rows() == {row.env: row.flag for row in ENVIRONMENT}


def test_every_flag_of_the_table_is_a_flag_of_serve() -> None:
    assert {row.flag for row in ENVIRONMENT if row.flag} <= serve_flags()


def test_every_field_is_read_from_exactly_one_variable() -> None:
    by_field = [row.field for row in ENVIRONMENT]
    assert len(by_field) == len(set(by_field))
    assert set(by_field) == {f.name for f in fields(Settings)} - NOT_FROM_ENVIRONMENT


def test_values_are_parsed_per_row() -> None:
    settings = settings_from_env(
        {
            "OPENPACS_PORT": " 8042 ",
            "OPENPACS_DATA_DIR": "/srv/pacs",
            "OPENPACS_CORS_ORIGINS": "https://a.example, ,https://b.example",
            "OPENPACS_ACCESS_LOG": "off",
            "OPENPACS_COERCE_MISSING_UIDS": "TRUE",
            "OPENPACS_SPOOL_THRESHOLD": "0",
            "UNRELATED": "x",
        }
    )
    assert settings.port == 8042
    assert settings.data_dir == Path("/srv/pacs")
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.access_log is False
    assert settings.coerce_missing_uids is True
    assert settings.spool_threshold == 0
    assert settings_from_env({}) == Settings()


def test_coercion_of_missing_uids_is_off_unless_asked_for() -> None:
    assert Settings().coerce_missing_uids is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPENPACS_PORT": "80a"}, "OPENPACS_PORT must be a whole number, not '80a'"),
        ({"OPENPACS_PORT": "0"}, "OPENPACS_PORT must be at least 1, not 0"),
        ({"OPENPACS_PORT": "65536"}, "OPENPACS_PORT must be at most 65535, not 65536"),
        ({"OPENPACS_WORKERS": "0"}, "OPENPACS_WORKERS must be at least 1, not 0"),
        ({"OPENPACS_QIDO_MAX_LIMIT": ""}, "OPENPACS_QIDO_MAX_LIMIT must be a whole number"),
        ({"OPENPACS_SPOOL_THRESHOLD": "-1"}, "OPENPACS_SPOOL_THRESHOLD must be at least 0"),
        ({"OPENPACS_ACCESS_LOG": "maybe"}, "OPENPACS_ACCESS_LOG must be true or false"),
        ({"OPENPACS_COERCE_MISSING_UIDS": "ture"}, "OPENPACS_COERCE_MISSING_UIDS must be true"),
    ],
)
def test_an_unusable_value_names_its_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        settings_from_env(env)


def test_resolved_settings_survive_pickling_for_worker_processes(tmp_path: Path) -> None:
    settings = Settings(data_dir=Path("relative-data"), port=9000).resolved()
    assert settings.data_dir.is_absolute()
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith(
        "relative-data/openpacs.db"
    )
    assert settings.public_url == "http://127.0.0.1:9000"
    assert pickle.loads(pickle.dumps(settings)) == settings  # noqa: S301 - our own bytes


def test_the_dicom_node_listens_on_11112_as_openpacs_unless_told() -> None:
    settings = settings_from_env({})
    assert (settings.dicom_port, settings.ae_title, settings.dicom_check_host) == (
        11112,
        "OPENPACS",
        False,
    )
    settings = settings_from_env(
        {
            "OPENPACS_DICOM_PORT": "0",
            "OPENPACS_AE_TITLE": " PACS_1 ",
            "OPENPACS_DICOM_CHECK_HOST": "yes",
        }
    )
    assert (settings.dicom_port, settings.ae_title, settings.dicom_check_host) == (
        0,
        "PACS_1",
        True,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPENPACS_DICOM_PORT": "65536"}, "OPENPACS_DICOM_PORT must be at most 65535"),
        ({"OPENPACS_DICOM_PORT": "-1"}, "OPENPACS_DICOM_PORT must be at least 0"),
        ({"OPENPACS_AE_TITLE": "   "}, "OPENPACS_AE_TITLE: an AE title has 1 to 16 characters"),
        ({"OPENPACS_AE_TITLE": "A" * 17}, "OPENPACS_AE_TITLE: an AE title has 1 to 16 characters"),
        ({"OPENPACS_AE_TITLE": "A\\B"}, "OPENPACS_AE_TITLE: an AE title holds printable ASCII"),
        ({"OPENPACS_AE_TITLE": "PACSÉ"}, "OPENPACS_AE_TITLE: an AE title holds printable ASCII"),
    ],
)
def test_unusable_dicom_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings_from_env(env)


SERVER_SOURCES = Path(__file__).resolve().parents[2] / "src" / "openpacs"
# A direct read of an OPENPACS_ variable: os.environ.get("OPENPACS_..."), env["OPENPACS_..."].
DIRECT_READ = re.compile(r"""(environ\.get\(|environ\[|getenv\(|env\.get\()\s*["']OPENPACS_""")


def test_the_server_reads_openpacs_variables_only_through_the_table() -> None:
    """Server code gets its settings passed in; the SDK and the command line (their own
    OPENPACS_URL, OPENPACS_USER, ...) are not the server."""
    readers = [
        path.relative_to(SERVER_SOURCES).as_posix()
        for path in SERVER_SOURCES.rglob("*.py")
        if DIRECT_READ.search(path.read_text())
        and path.relative_to(SERVER_SOURCES).parts[0] not in ("cli", "client", "settings.py")
    ]
    assert readers == []

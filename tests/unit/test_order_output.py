"""How ``order search`` and ``folder search`` print: a table at 80 columns with every
identifier whole (the least needed columns left out, and said so), the same words as a
search past the end, and the orders of each folder when asked for."""

from __future__ import annotations

import pytest

from openpacs.cli.client_output import show_api_result
from openpacs.client.results import Folder, OrderList, PatientOrder

INSTITUTION = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
ORDERS = [
    PatientOrder(
        f"1f0e4a52-8b7c-4a61-9d3e-2a0c5b7e9f1{n}",
        institution_uuid=INSTITUTION,
        patient_name="Doe^Jane Alexandra",
        patient_id=f"P-2024-00{n}",
        modality="CT",
        study_date="20240105",
        status="scheduled",
        number_of_instances=120,
    )
    for n in range(3)
]


def printed(capsys: pytest.CaptureFixture[str], value: object, **options: object) -> list[str]:
    show_api_result(value, False, **options)  # type: ignore[arg-type]
    return capsys.readouterr().out.splitlines()


def test_orders_fit_80_columns_as_a_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    lines = printed(capsys, OrderList(ORDERS), noun="orders")
    assert all(len(line) <= 80 for line in lines), lines
    header = lines[0]
    assert "PatientOrderUuid" in header and "PatientName" in header and "PatientId" in header
    for order in ORDERS:  # one row per order, its identifiers whole on it
        [row] = [line for line in lines if order.patient_order_uuid in line]
        assert order.patient_id in row
    assert "Not shown at this width: Images, Status" in "\n".join(lines)
    assert lines[-1] == f"All in institution {INSTITUTION}"


def test_a_wide_terminal_shows_every_column(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    text = "\n".join(printed(capsys, OrderList(ORDERS), noun="orders"))
    assert "Images" in text and "scheduled" in text and "Not shown" not in text


def test_orders_of_several_institutions_keep_theirs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    other = PatientOrder("2a1b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", institution_uuid="x" * 36)
    text = "\n".join(printed(capsys, OrderList([*ORDERS, other]), noun="orders"))
    assert f"InstitutionUuid:  {INSTITUTION}" in text  # key: value blocks, nothing dropped
    assert "Images:" in text and "Not shown" not in text


def test_past_the_end_says_so_like_a_search(capsys: pytest.CaptureFixture[str]) -> None:
    assert printed(capsys, OrderList([], total_count=3), noun="orders", offset=40) == [
        "No more orders (offset 40)."
    ]
    assert printed(capsys, OrderList([]), noun="orders") == ["No orders found."]


def test_a_folder_lists_its_orders(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    folder = Folder("5d6e7f80-1111-4a2b-8c3d-4e5f60718293", "Tumour board", orders=ORDERS[:2])
    text = "\n".join(printed(capsys, [folder], noun="folders"))
    assert f"Tumour board ({folder.folder_uuid}): 2 orders" in text
    assert all(o.patient_order_uuid in text for o in ORDERS[:2])
    assert ORDERS[2].patient_order_uuid not in text

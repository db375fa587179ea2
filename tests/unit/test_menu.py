"""``openpacs menu`` fits 80x24, waits before it comes back, survives Ctrl-C, picks the
institution for the user and asks before deleting."""

from __future__ import annotations

import argparse
import io
from typing import Any

from openpacs.cli.menu import FUNCTIONS, Prompter, menu_lines, run_menu
from openpacs.client.results import Acknowledgement, Institution, PatientOrder
from tests.support.cli import FakeInput

INSTITUTION = Institution("7c9e6679-7425-40de-944b-e07fc1f90ae7", "North")
OTHER = Institution("2a1b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "South")
ORDER = "1f0e4a52-8b7c-4a61-9d3e-2a0c5b7e9f11"


class FakeClient:
    web_address = "http://pacs.test/dicomweb"

    def __init__(self, institutions: list[Institution]) -> None:
        self.institutions = institutions
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def list_institutions(self) -> list[Institution]:
        return self.institutions

    def get_patient_order(self, **kwargs: Any) -> PatientOrder:
        self.calls.append(("get_patient_order", kwargs))
        return PatientOrder(ORDER, raw={"PatientOrderUuid": ORDER, "PatientName": "Doe^Jane"})

    def delete_patient_order(self, **kwargs: Any) -> Acknowledgement:
        self.calls.append(("delete_patient_order", kwargs))
        return Acknowledgement(raw={"PatientOrderUuid": ORDER})


class ScriptedInput(FakeInput):
    """A terminal on which the user types the lines given; KeyboardInterrupt = Ctrl-C."""

    def __init__(self, answers: list[str | type[BaseException]]) -> None:
        super().__init__("", tty=True)
        self.answers = list(answers)

    def readline(self, size: int | None = -1) -> str:
        if not self.answers:
            return ""
        answer = self.answers.pop(0)
        if isinstance(answer, type):
            raise answer()
        return answer + "\n"


def run(client: FakeClient, answers: list[str | type[BaseException]], tty: bool = True) -> str:
    out = io.StringIO()
    stdin: FakeInput = (
        ScriptedInput(answers)
        if tty
        else FakeInput("\n".join(a for a in answers if isinstance(a, str)) + "\n", tty=False)
    )
    code = run_menu(client, argparse.Namespace(), Prompter(stdin, out))  # type: ignore[arg-type]
    return out.getvalue() + f"\nexit {code}"


def number_of(title: str) -> str:
    return str([f.title for f in FUNCTIONS].index(title) + 1)


def test_the_menu_fits_80_by_24() -> None:
    lines = menu_lines()
    assert all(len(line) <= 80 for line in lines)
    assert len(lines) + 2 <= 24  # with the blank line above and the prompt below
    text = "\n".join(lines)
    assert all(f.title in text for f in FUNCTIONS) and "0. Exit" in text


def test_one_institution_is_taken_without_asking() -> None:
    client = FakeClient([INSTITUTION])
    text = run(client, [number_of("Get patient order properties"), ORDER, "", "0"])
    assert f"PatientOrderInstitutionUuid: North ({INSTITUTION.institution_uuid})" in text
    assert client.calls == [
        (
            "get_patient_order",
            {
                "patient_order_institution_uuid": INSTITUTION.institution_uuid,
                "patient_order_uuid": ORDER,
            },
        )
    ]


def test_several_institutions_are_a_numbered_choice() -> None:
    client = FakeClient([INSTITUTION, OTHER])
    text = run(client, [number_of("Get patient order properties"), "2", ORDER, "", "0"])
    assert "1. North" in text and "2. South" in text
    assert client.calls[0][1]["patient_order_institution_uuid"] == OTHER.institution_uuid


def test_results_wait_for_enter_on_a_terminal_only() -> None:
    answers: list[str | type[BaseException]] = [
        number_of("Get patient order properties"),
        ORDER,
        "",
        "0",
    ]
    assert "Press Enter for the menu" in run(FakeClient([INSTITUTION]), answers)
    assert "Press Enter" not in run(FakeClient([INSTITUTION]), [*answers[:2], "0"], tty=False)


def test_ctrl_c_at_a_question_goes_back_to_the_menu() -> None:
    client = FakeClient([INSTITUTION])
    text = run(client, [number_of("Get patient order properties"), KeyboardInterrupt, "0"])
    assert "Cancelled." in text and text.endswith("exit 0")
    assert text.count("openpacs - DICOMweb functions") == 2 and not client.calls


def test_deleting_asks_first() -> None:
    client = FakeClient([INSTITUTION])
    delete = number_of("Delete patient order")
    run(client, [delete, ORDER, "n", "", "0"])
    assert not client.calls
    run(client, [delete, ORDER, "y", "", "0"])
    assert [name for name, _ in client.calls] == ["delete_patient_order"]


def test_a_uuid_is_checked_before_the_question_and_the_server() -> None:
    client = FakeClient([INSTITUTION])
    text = run(client, [number_of("Delete patient order"), "not-a-uuid", ORDER, "n", "", "0"])
    refused = text.index("PatientOrderUuid: not a UUID: 'not-a-uuid'")
    assert refused < text.index("Delete this order and all its images? (y/N)")
    assert not client.calls


def test_uuid_lists_are_checked_item_by_item() -> None:
    client = FakeClient([INSTITUTION])
    text = run(client, [number_of("Add order to folder"), ORDER, f"{ORDER},22", KeyboardInterrupt])
    assert "FolderUuidList: not a UUID: '22'" in text and not client.calls


def test_an_empty_answer_asks_for_the_option_again() -> None:
    text = run(FakeClient([INSTITUTION]), ["", "  ", "0"])
    assert "Unknown option" not in text
    assert text.count("openpacs - DICOMweb functions") == 1
    assert text.count("Select an option: ") == 3 and text.endswith("exit 0")

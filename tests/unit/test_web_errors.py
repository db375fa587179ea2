"""Which HTTP status each service error becomes: one table in web/errors.py."""

from __future__ import annotations

import inspect

import pytest

from openpacs.services import errors
from openpacs.web.errors import (
    STATUS_BY_ERROR,
    ascii_reason,
    error_response,
    service_error_response,
    status_of,
)


def test_every_service_error_class_has_a_status_row() -> None:
    classes = [
        cls
        for _name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.ServiceError)
    ]
    assert set(classes) == set(STATUS_BY_ERROR)


def test_services_do_not_choose_statuses() -> None:
    assert not any(hasattr(cls, "status") for cls in STATUS_BY_ERROR)


def test_known_statuses() -> None:
    assert status_of(errors.NotFound("x")) == 404
    assert status_of(errors.Forbidden("x")) == 403
    assert status_of(errors.Gone("x")) == 410
    assert status_of(errors.Conflict("x")) == 409
    assert status_of(errors.BadRequest("x")) == 400
    assert status_of(errors.NotAcceptable("x")) == 406
    assert status_of(errors.StoredFileError("1.2.3")) == 500
    assert status_of(errors.CannotDecode("x")) == 422


def test_a_subclass_without_a_row_takes_its_parents_status() -> None:
    class ShareExpired(errors.Gone):
        pass

    assert status_of(ShareExpired("x")) == 410


def test_the_response_carries_the_status_and_the_reason() -> None:
    response = service_error_response(errors.NotFound("study 1.2.3 not found"))
    assert response.status_code == 404
    assert response.headers["X-Error-Reason"] == "study 1.2.3 not found"


@pytest.mark.parametrize(
    ("reason", "header"),
    [
        ("study \x00 not found", "study \\x00 not found"),
        ("bad\x1b[31m value\x7f", "bad\\x1b[31m value\\x7f"),
        ("two\nlines\r\n\tand a tab", "two lines and a tab"),
        ("Müller", "M?ller"),
    ],
)
def test_reasons_in_headers_are_one_printable_ascii_line(reason: str, header: str) -> None:
    assert ascii_reason(reason) == header
    response = error_response(404, reason)
    assert response.headers["X-Error-Reason"] == header

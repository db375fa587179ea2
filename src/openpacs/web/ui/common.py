"""What every page handler does first: the signed-in user, the frame, forms, CSRF."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from functools import partial, wraps
from typing import TypeVar
from urllib.parse import parse_qs, quote, urlsplit

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from openpacs.services.errors import BadRequest, ServiceError
from openpacs.services.principal import Principal
from openpacs.web.context import AppContext, context
from openpacs.web.errors import status_of
from openpacs.web.ohif.routes import study_viewer_path
from openpacs.web.session_auth import (
    csrf_refusal,
    csrf_token,
    keeper,
    referring_path,
    session_token,
    sign_in_redirect,
    signed_in,
)
from openpacs.web.ui.layout import Frame, h, message_page

T = TypeVar("T")
MAX_FORM_BYTES = 64 * 1024


class FormError(Exception):
    """A form that cannot be used; the message is for the user."""


async def in_thread(func: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(func)


def prefix_of(request: Request) -> str:
    return urlsplit(context(request).settings.effective_public_url).path.rstrip("/")


def frame(request: Request, who: Principal | None, current: str = "") -> Frame:
    return Frame(
        who,
        csrf_token(request) if who is not None else "",
        prefix_of(request),
        current,
        ohif=partial(study_viewer_path, request),
    )


async def user_or_redirect(request: Request) -> Principal | Response:
    """The signed-in user, or the redirect to the sign-in page."""
    who = await signed_in(request)
    return sign_in_redirect(request) if who is None else who


def signed_in_page(
    handler: Callable[[Request, Principal], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """A page for the signed-in user (passed as ``who``); anyone else is sent to sign in."""

    @wraps(handler)
    async def page(request: Request) -> Response:
        who = await user_or_redirect(request)
        if isinstance(who, Response):
            return who
        return await handler(request, who)

    return page


async def read_form(request: Request) -> dict[str, list[str]]:
    """A form-encoded body (at most 64 KiB): FormError otherwise."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormError("the form was not sent as a form (application/x-www-form-urlencoded)")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormError("the form is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError("the form is not UTF-8 text") from None
    return parse_qs(text, keep_blank_values=True, max_num_fields=2000)


def first(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[0].strip() if values else ""


def csrf_problem(request: Request, form: dict[str, list[str]]) -> str:
    """Why this form post with the session cookie is refused ("" when it is fine)."""
    token = session_token(request)
    if token is None:
        return "you are not signed in"
    given = first(form, "csrf_token") or request.headers.get("x-csrf-token", "")
    ctx: AppContext = context(request)
    return csrf_refusal(request.scope, keeper(request), ctx.settings, token, given)


async def signed_in_post(request: Request) -> tuple[Principal, dict[str, list[str]]] | Response:
    """The user and the form of a state-changing post, after the CSRF checks."""
    who = await signed_in(request)
    if who is None:
        return sign_in_redirect(request)
    try:
        form = await read_form(request)
    except FormError as exc:
        fr = frame(request, who)
        return message_page(
            fr, 400, "The form cannot be used", sentence(str(exc)), back_of(request)
        )
    problem = csrf_problem(request, form)
    if problem:
        return message_page(
            frame(request, who), 403, "Request refused", sentence(problem), back_of(request)
        )
    return who, form


Form = dict[str, list[str]]


def signed_in_form(
    handler: Callable[[Request, Principal, Form], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """A state-changing form post of the signed-in user (passed as ``who`` with the
    ``form``), after the CSRF checks (:func:`signed_in_post`); anyone else gets the
    sign-in redirect or the refusal page."""

    @wraps(handler)
    async def post(request: Request) -> Response:
        checked = await signed_in_post(request)
        if isinstance(checked, Response):
            return checked
        who, form = checked
        return await handler(request, who, form)

    return post


async def run_change(
    request: Request, who: Principal, change: Callable[[], str], done: str
) -> Response:
    """Make a change (in a thread): 303 to the page whose path it returns, saying
    ``DONE[done]`` there, or the page of its error."""
    try:
        path = await in_thread(change)
    except ServiceError as exc:
        return error_page(request, who, exc)
    return see_other(request, path, done)


def confirmed_post(
    fr: Frame,
    action: str,
    label: str,
    question: str,
    *,
    kind: str = "danger",
    fields: str = "",
    form_attrs: str = "",
    button_id: str = "",
) -> str:
    """A one-button form whose button asks ``question`` first (``data-confirm`` on the
    button; app.js asks once, on its click). ``question`` "" posts without asking;
    ``action`` is an escaped URL."""
    ask = f' data-confirm="{h(question)}"' if question else ""
    ident = f' id="{h(button_id)}"' if button_id else ""
    return (
        f'<form method="post" action="{action}"{form_attrs}>{fr.csrf_field()}{fields}'
        f'<button class="button {kind} small" type="submit"{ident}{ask}>{h(label)}</button>'
        "</form>"
    )


def back_of(request: Request) -> str:
    """The page of ours this request came from, when it is not this very URL ("" else)."""
    back = referring_path(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "" if back == prefix_of(request) + here else back


def iso_date(value: str, label: str) -> date | None:
    """A form's date field (``YYYY-MM-DD``, as ``<input type=date>`` sends it): None
    when empty, BadRequest naming the field when it is not a date."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{label}: {value!r} is not a date (YYYY-MM-DD)") from None


def sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def error_page(request: Request, who: Principal, exc: ServiceError) -> HTMLResponse:
    """A service error as a page with its status (404 for what the user cannot see)."""
    status = status_of(exc)
    title = {
        403: "Not allowed",
        404: "Not found",
        409: "Already there",
        410: "Gone",
    }.get(status, "That did not work")
    return message_page(frame(request, who), status, title, sentence(exc.reason), back_of(request))


#: What a page says after a change (``?done=KEY``): fixed texts, so that a link cannot
#: make one of our pages say something of its own.
DONE: dict[str, str] = {
    "password": "Your password was changed.",
    "order-deleted": "The order was deleted.",
    "order-created": "The order was created.",
    "folder-created": "The folder was created.",
    "folder-changed": "The folder was changed.",
    "folder-deleted": "The folder was deleted.",
    "folders-changed": "The order's folders were changed.",
    "assigned": "The assignment was changed.",
    "share-deleted": "The share link was revoked.",
    "share-extended": "The share link's expiry date was changed.",
    "user-added": "The user was added.",
    "user-changed": "The user was changed.",
    "group-added": "The group was added.",
    "group-changed": "The group was changed.",
    "group-renamed": "The group was renamed.",
    "group-removed": "The group was removed.",
    "institution-added": "The institution was added.",
    "institution-changed": "The institution was changed.",
    "institution-removed": "The institution was removed.",
    "account-changed": "The account's settings were changed.",
    "equipment-added": "The equipment was added.",
    "equipment-changed": "The equipment was changed.",
    "equipment-removed": "The equipment was removed.",
}


def done_message(request: Request) -> str:
    return DONE.get(request.query_params.get("done", ""), "")


def see_other(request: Request, path: str, done: str = "") -> RedirectResponse:
    """303 to a page of ours (``path`` made of safe parts), saying ``DONE[done]`` there."""
    assert not done or done in DONE
    target = prefix_of(request) + path
    if done:
        target += ("&" if "?" in path else "?") + "done=" + quote(done, safe="")
    return RedirectResponse(target, status_code=303)

"""Sign in, sign out, change one's own password.

* ``GET /`` and ``GET /signin``: the sign-in form (``/`` goes to the orders when signed
  in already). ``POST /signin`` (``email``, ``password``, ``next``): the same check and
  rate limit as HTTP Basic; right: a new session cookie (rotated) and 303 to ``next``
  (a same-site path only) or the orders; wrong: the form again with the reason (401,
  403 for a disabled user, 429 with ``Retry-After`` after too many).
* ``POST /signout``: the session ends on the server (a copy of the cookie is refused from
  then on) and the cookie is removed; 303 to the sign-in page.
* ``GET/POST /account/password``: the current password and the new one twice.

A sign-in post from another site's page is refused (403): no one can sign a browser in
to their own account without its user noticing (login CSRF).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from openpacs.services.principal import Principal
from openpacs.services.ratelimit import retry_after_header
from openpacs.web.context import context
from openpacs.web.session_auth import (
    clear_session_cookie,
    cross_site,
    keeper,
    safe_next,
    session_token,
    set_session_cookie,
    signed_in,
)
from openpacs.web.ui.common import (
    Form,
    FormError,
    done_message,
    first,
    frame,
    in_thread,
    prefix_of,
    read_form,
    see_other,
    signed_in_form,
    signed_in_page,
    signed_in_post,
)
from openpacs.web.ui.layout import Frame, h, notice, page

HOME = "/orders"


def sign_in_page(
    fr: Frame,
    *,
    email: str = "",
    next_path: str = "",
    error: str = "",
    info: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    next_field = f'<input type="hidden" name="next" value="{h(next_path)}">' if next_path else ""
    body = (
        '<section class="card narrow signin"><h1>Sign in</h1>'
        "<p>Sign in with the e-mail address and password of your openpacs account.</p>"
        f"{notice(error, 'error')}{notice(info)}"
        f'<form method="post" action="{fr.url("/signin")}" id="signin-form">'
        '<label for="email">E-mail</label>'
        f'<input type="email" id="email" name="email" value="{h(email)}" required '
        f'autocomplete="username" {"" if email else "autofocus"}>'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" required '
        f'autocomplete="current-password" {"autofocus" if email else ""}>'
        f'{next_field}<button class="button" type="submit" id="signin-submit">Sign in</button>'
        "</form></section>"
    )
    return page(fr, "Sign in", body, status=status, headers=headers)


async def home(request: Request) -> Response:
    if await signed_in(request) is not None:
        return see_other(request, HOME)
    return sign_in_page(
        frame(request, None), next_path=safe_next(request.query_params.get("next", ""))
    )


async def sign_in(request: Request) -> Response:
    fr = frame(request, None)
    if request.method == "GET":
        who = await signed_in(request)
        next_path = safe_next(request.query_params.get("next", ""))
        if who is not None:
            return RedirectResponse(prefix_of(request) + (next_path or HOME), status_code=303)
        info = "You are signed out." if request.query_params.get("out") else ""
        return sign_in_page(fr, next_path=next_path, info=info)
    if cross_site(request.scope, context(request).settings):
        return sign_in_page(fr, error="A sign-in from another site is refused.", status=403)
    try:
        form = await read_form(request)
    except FormError as exc:
        return sign_in_page(fr, error=str(exc), status=400)
    email, password = first(form, "email"), (form.get("password") or [""])[0]
    next_path = safe_next(first(form, "next"))
    client = request.client.host if request.client else ""
    result = await in_thread(lambda: keeper(request).sign_in(email, password, client))
    if result.principal is None:
        headers = retry_after_header(result.retry_after) if result.retry_after else None
        return sign_in_page(
            fr,
            email=email,
            next_path=next_path,
            error=result.error,
            status=result.status,
            headers=headers,
        )
    response = RedirectResponse(prefix_of(request) + (next_path or HOME), status_code=303)
    set_session_cookie(response, request, result.cookie)
    return response


async def sign_out(request: Request) -> Response:
    checked = await signed_in_post(request)
    if isinstance(checked, Response) and (await signed_in(request)) is not None:
        return checked  # signed in, but the post failed its CSRF check
    token = session_token(request)
    if token is not None and not isinstance(checked, Response):
        await in_thread(lambda: keeper(request).sign_out(token))
    response = RedirectResponse(prefix_of(request) + "/signin?out=1", status_code=303)
    clear_session_cookie(response, request)
    return response


def password_page(fr: Frame, *, error: str = "", info: str = "", status: int = 200) -> HTMLResponse:
    body = (
        '<section class="card narrow"><h1>Change your password</h1>'
        "<p>At least 10 characters, and not one of the commonest passwords. Your other "
        "sessions and your API tokens end when you change it.</p>"
        f"{notice(error, 'error')}{notice(info)}"
        f'<form method="post" action="{fr.url("/account/password")}" id="password-form">'
        f"{fr.csrf_field()}"
        '<label for="current">Current password</label>'
        '<input type="password" id="current" name="current" required '
        'autocomplete="current-password">'
        '<label for="new">New password</label>'
        '<input type="password" id="new" name="new" required minlength="10" '
        'autocomplete="new-password">'
        '<label for="repeat">New password again</label>'
        '<input type="password" id="repeat" name="repeat" required minlength="10" '
        'autocomplete="new-password">'
        '<button class="button" type="submit" id="password-submit">Change password</button>'
        "</form></section>"
    )
    return page(fr, "Change your password", body, status=status)


async def change_password(request: Request) -> Response:
    if request.method == "GET":
        return await _password_form(request)
    return await _new_password(request)


@signed_in_page
async def _password_form(request: Request, who: Principal) -> Response:
    return password_page(frame(request, who, "account"), info=done_message(request))


@signed_in_form
async def _new_password(request: Request, who: Principal, form: Form) -> Response:
    current = (form.get("current") or [""])[0]
    new = (form.get("new") or [""])[0]
    repeat = (form.get("repeat") or [""])[0]
    result = await in_thread(lambda: keeper(request).change_password(who, current, new, repeat))
    if result.principal is None:
        return password_page(
            frame(request, who, "account"), error=result.error, status=result.status
        )
    response = see_other(request, "/account/password", "password")
    set_session_cookie(response, request, result.cookie)
    return response

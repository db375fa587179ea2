"""Turn the pure request builders of :mod:`openpacs.client.requests` into client methods.

``create_folder = operation(requests.create_folder)`` in a class body gives a method with
the builder's exact signature and docstring (for type checkers and ``help()``) that
builds the request and hands it to ``self.call``. The async twin awaits it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from openpacs.client.requests import Call

P = ParamSpec("P")
T = TypeVar("T")


def _with_self(builder: Callable[..., Any], method: Callable[..., Any]) -> None:
    """Show the builder's parameters after ``self``, returning what the call parses to."""
    sig = inspect.signature(builder)
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    returns = sig.return_annotation
    if isinstance(returns, str) and returns.startswith("Call[") and returns.endswith("]"):
        returns = returns[len("Call[") : -1]
    method.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[self_param, *sig.parameters.values()], return_annotation=returns
    )
    del method.__wrapped__  # type: ignore[attr-defined]


def operation(builder: Callable[P, Call[T]]) -> Callable[Concatenate[Any, P], T]:
    @functools.wraps(builder)
    def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        result: T = self.call(builder(*args, **kwargs))
        return result

    _with_self(builder, method)
    return method


def async_operation(
    builder: Callable[P, Call[T]],
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]:
    @functools.wraps(builder)
    async def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        result: T = await self.call(builder(*args, **kwargs))
        return result

    _with_self(builder, method)
    return method

"""The parameters of a rendered resource (PS3.18 8.3.5.1): ``window``, ``viewport`` and
the errors of rendering. Pure parsing: a request's parameters are checked
without loading the renderer (NumPy, Pillow, pydicom)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final, Literal

WindowFunction = Literal["linear", "linear_exact", "sigmoid"]

WINDOW_FUNCTIONS: dict[str, WindowFunction] = {
    "linear": "linear",
    "linear_exact": "linear_exact",
    "linear-exact": "linear_exact",
    "sigmoid": "sigmoid",
}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


#: The largest rendered side. The region is scaled to fit the viewport, so without a
#: bound ``viewport=100000,100000`` on a 64x64 image asks for a 30 GB picture; this one
#: (larger than any screen or stored image we render) keeps one answer under ~200 MB.
MAX_VIEWPORT_SIDE: Final = 8192


class RenderError(ValueError):
    """The frame cannot be rendered as asked (bad media type, unsupported image...)."""


@dataclass(frozen=True)
class Window:
    """A VOI window in modality units (PS3.3 C.11.2.1.2/C.11.2.1.3)."""

    center: float
    width: float
    function: WindowFunction = "linear"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.center) and math.isfinite(self.width)):
            raise ValueError("window center and width must be finite numbers")
        if self.function not in ("linear", "linear_exact", "sigmoid"):
            raise ValueError(f"unknown window function {self.function!r}")
        # PS3.3 C.11.2.1.2.1: LINEAR needs width >= 1, the others width > 0.
        if self.function == "linear" and self.width < 1:
            raise ValueError("window width must be >= 1 for the linear function")
        if self.width <= 0:
            raise ValueError("window width must be > 0")


@dataclass(frozen=True)
class Viewport:
    """PS3.18 ``viewport=vw,vh[,sx,sy,sw,sh]``.

    The source region starts at (sx, sy) and spans (sw, sh) source pixels; ``None``
    means "to the image edge". A negative sw/sh flips the region horizontally or
    vertically. The region is scaled to fit inside vw x vh keeping its aspect ratio,
    so one returned dimension may be smaller than the viewport.
    """

    width: int
    height: int
    sx: float = 0.0
    sy: float = 0.0
    sw: float | None = None
    sh: float | None = None

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError("viewport width and height must be positive integers")
        if max(self.width, self.height) > MAX_VIEWPORT_SIDE:
            raise ValueError(
                f"viewport width and height must be at most {MAX_VIEWPORT_SIDE} pixels"
            )
        if self.sx < 0 or self.sy < 0:
            raise ValueError("viewport sx and sy must not be negative")
        if self.sw == 0 or self.sh == 0:
            raise ValueError("viewport sw and sh must not be zero")


def parse_window(value: str) -> Window:
    """Parse the ``window`` query parameter: ``center,width[,function]``.

    The function is ``linear`` (default), ``linear-exact``/``linear_exact`` or
    ``sigmoid``, case-insensitive. Raises ValueError with the reason otherwise.
    """
    parts = [p.strip() for p in value.split(",")]
    if len(parts) not in (2, 3):
        raise ValueError(f"window must be 'center,width,function', got {value!r}")
    center = _parse_number(parts[0], "window center")
    width = _parse_number(parts[1], "window width")
    function: WindowFunction = "linear"
    if len(parts) == 3 and parts[2]:
        try:
            function = WINDOW_FUNCTIONS[parts[2].lower()]
        except KeyError:
            raise ValueError(
                f"window function must be linear, linear-exact or sigmoid, got {parts[2]!r}"
            ) from None
    return Window(center, width, function)


def parse_viewport_region(value: str) -> Viewport:
    """Parse ``viewport=vw,vh`` or ``vw,vh,sx,sy,sw,sh`` (region values may be empty)."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) not in (2, 6):
        raise ValueError(f"viewport must be 'vw,vh' or 'vw,vh,sx,sy,sw,sh', got {value!r}")
    vw = _parse_int(parts[0], "viewport width")
    vh = _parse_int(parts[1], "viewport height")
    if len(parts) == 2:
        return Viewport(vw, vh)
    sx, sy, sw, sh = (
        _parse_number(p, f"viewport {name}") if p else None
        for p, name in zip(parts[2:], ("sx", "sy", "sw", "sh"), strict=True)
    )
    return Viewport(vw, vh, sx or 0.0, sy or 0.0, sw, sh)


def _parse_number(text: str, name: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{name} must be a number, got {text!r}")
    return float(text)


def _parse_int(text: str, name: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{name} must be a positive integer, got {text!r}")
    value = int(text)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {text!r}")
    return value

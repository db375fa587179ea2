"""A very large multi-frame Part-10 file produced as a stream, never held in memory."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import replace

from bench.dataset import InstanceSpec, make_header


def big_instance_stream(
    spec: InstanceSpec, frames: int, chunk: int = 1 << 20
) -> tuple[int, Iterator[bytes]]:
    """(total size, chunks) of a 16-bit instance of ``frames`` frames; constant memory."""
    header = make_header(replace(spec, frames=frames))
    pixel_length = spec.rows * spec.columns * 2 * frames
    element = b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", pixel_length)
    total = len(header) + len(element) + pixel_length

    def chunks() -> Iterator[bytes]:
        yield header + element
        pattern = (bytes(range(256)) * (chunk // 256 + 1))[:chunk]
        remaining = pixel_length
        while remaining > 0:
            piece = pattern[: min(chunk, remaining)]
            remaining -= len(piece)
            yield piece

    return total, chunks()

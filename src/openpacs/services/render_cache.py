"""Rendered images and thumbnails kept in memory, so a viewer's repeated requests for the
same image (scrolling back and forth, a thumbnail strip drawn again) are not decoded,
windowed and encoded again each time.

The key is everything the image depends on: the instance's index row id *and* its blob
key, the frame, the media type and the rendering parameters (window, viewport, quality).
A row id or a blob key alone could come back (SQLite may reuse the highest row id after
a delete); together they name one stored file: a deleted and re-stored instance gets a
new blob key, so its old images are never served (they age out of the cache). Row ids
are unique across accounts, and the cache is only consulted after the request's own
scoped look-up found the instance, so it grants no access that the look-up would not.

Bounded by bytes (least recently used out first); one per server process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

#: Bytes of images kept per server process.
DEFAULT_BYTES = 32 * 1024 * 1024


class RenderCache:
    def __init__(self, max_bytes: int = DEFAULT_BYTES) -> None:
        self._max = max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            image = self._items.get(key)
            if image is not None:
                self._items.move_to_end(key)
            return image

    def put(self, key: Hashable, image: bytes) -> None:
        if len(image) > self._max // 8:
            return  # one huge image must not flush everything else
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._items[key] = image
            self._bytes += len(image)
            while self._bytes > self._max:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)

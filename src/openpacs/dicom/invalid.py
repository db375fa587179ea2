"""Why an uploaded instance cannot be stored: the errors ingest raises and STOW and C-STORE
answer with. Pure, so that the services that report them load without the parser."""

from __future__ import annotations


class InvalidInstance(ValueError):
    """The file cannot be stored; `failure_code` is a STOW Failure Reason (0008,1197).

    ``sop_class_uid`` and ``sop_instance_uid`` name the instance whenever its dataset
    could be read and holds them (valid UIDs only; else ""), so that a STOW response
    says which file failed.
    """

    def __init__(
        self,
        reason: str,
        failure_code: int,
        *,
        sop_class_uid: str = "",
        sop_instance_uid: str = "",
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.failure_code = failure_code
        self.sop_class_uid = sop_class_uid
        self.sop_instance_uid = sop_instance_uid


class MissingUid(InvalidInstance):
    """A UID the instance must have is absent; ``tag`` names it (e.g. ``0020000D``).

    The Study and Series Instance UIDs are the ones an archive may derive instead of
    refusing the file, when told to (``OPENPACS_COERCE_MISSING_UIDS``).
    """

    def __init__(self, reason: str, failure_code: int, tag: str) -> None:
        super().__init__(reason, failure_code)
        self.tag = tag

"""The exceptions sgsim raises (the native module raises these classes)."""

from typing import Optional


class LoadError(ValueError):
    """A snapshot was refused.

    Attributes:
        message: what is wrong and what would be valid.
        path: the JSON path of the bad value (``SecurityGroups[0].Permissions.Permission[3].PortRange``),
            empty for errors about the document as a whole.
        value: the offending value as JSON (``"0/80"``), empty when there is none to show.
        file: the file the snapshot was read from, or None for text and dicts.
    """

    def __init__(self, message: str, path: str = "", value: str = "", file: Optional[str] = None):
        self.message = message
        self.path = path
        self.value = value
        self.file = file
        parts = [p for p in (file, path, value) if p]
        super().__init__(": ".join(parts + [message]))


class FlowError(ValueError):
    """A flow (or a column of flows) that cannot be evaluated.

    Attributes:
        message: the whole message, as ``sgsim check`` or ``sgsim eval`` would print it.
        field: the field or column at fault (``dst_port``, ``nic``, ``src_ip``, …).
        value: the offending value, empty when there is none.
    """

    def __init__(self, message: str, field: str = "", value: str = ""):
        self.message = message
        self.field = field
        self.value = value
        super().__init__(message)

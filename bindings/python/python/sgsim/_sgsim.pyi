"""Type stubs of the native module sgsim._sgsim (re-exported by the sgsim package)."""

import os
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union, overload

import pyarrow

INPUT_COLUMNS: List[str]
__version__: str

_Field = Union[str, int, None]
_Snapshot = Union["Engine", str, "os.PathLike[str]", Dict[str, Any], List[Any]]
_Request = Union[str, Dict[str, Any]]

class Verdict:
    """One flow's answer; str(v) is the line `sgsim check` prints. Without `sport` (TCP, UDP)
    it covers every source port: `source_ports` lists the ranges, and `verdict` is "depends"
    when they disagree."""

    @property
    def verdict(self) -> Literal["accept", "drop", "depends"]: ...
    @property
    def reason(self) -> Optional[Literal["rule", "default", "inner_access", "platform"]]: ...
    @property
    def security_group_id(self) -> Optional[str]: ...
    @property
    def rule_id(self) -> Optional[str]: ...
    @property
    def rule(self) -> Optional[Dict[str, Any]]: ...
    @property
    def explanation(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def flow(self) -> str: ...
    @property
    def source_ports(self) -> Optional[List[Tuple[int, int, "Verdict"]]]: ...
    def __bool__(self) -> bool: ...

class ConnectionVerdict:
    """The two-NIC answer (S15): both sides must accept. Without `sport` (TCP, UDP) it covers
    every source port, as Verdict does."""

    @property
    def verdict(self) -> Literal["accept", "drop", "depends"]: ...
    @property
    def blocked_by(self) -> Optional[List[Literal["egress", "ingress"]]]: ...
    @property
    def egress(self) -> Optional[Verdict]: ...
    @property
    def ingress(self) -> Optional[Verdict]: ...
    @property
    def source_ports(self) -> Optional[List[Tuple[int, int, "ConnectionVerdict"]]]: ...
    def __bool__(self) -> bool: ...

class Engine:
    """An evaluation engine over one snapshot."""

    @staticmethod
    def load(
        path: Union[str, "os.PathLike[str]"], *, platform_rules: bool = True, internet: bool = False
    ) -> "Engine": ...
    @staticmethod
    def loads(
        text_or_dict: Union[str, Dict[str, Any], List[Any]],
        *,
        platform_rules: bool = True,
        internet: bool = False,
    ) -> "Engine": ...
    def check(
        self,
        nic: str,
        direction: Literal["ingress", "egress"],
        protocol: Union[str, int],
        src: str,
        dst: str,
        sport: _Field = None,
        dport: _Field = None,
    ) -> Verdict: ...
    def check_connection(
        self,
        src_nic: str,
        dst_nic: str,
        protocol: Union[str, int],
        src: str,
        dst: str,
        sport: _Field = None,
        dport: _Field = None,
    ) -> ConnectionVerdict: ...
    def evaluate(
        self, data: Union[pyarrow.Table, pyarrow.RecordBatch], threads: Optional[int] = None
    ) -> pyarrow.Table: ...
    def audit(self, nic: Optional[str] = None, ports: Optional[Sequence[int]] = None) -> Dict[str, Any]: ...
    def snapshot_json(self) -> str: ...
    @property
    def nics(self) -> List[str]: ...
    @property
    def security_groups(self) -> List[str]: ...

def diff(old: _Snapshot, new: _Snapshot, *, platform_rules: bool = True, internet: bool = False) -> Dict[str, Any]: ...
@overload
def apply(
    snapshot_path_or_text: _Snapshot, request: _Request, *, seed: Optional[int] = None, now: Optional[int] = None
) -> Tuple[Dict[str, Any], Optional[str]]: ...
@overload
def apply(
    snapshot_path_or_text: _Snapshot, request: List[_Request], *, seed: Optional[int] = None, now: Optional[int] = None
) -> Tuple[List[Dict[str, Any]], Optional[str]]: ...

"""sgsim — Alibaba Cloud ECS security groups, simulated offline.

Load security groups, network interfaces, prefix lists and port range lists exactly as the ECS
API returns them, then ask whether a connection would be allowed and which rule decides:

    >>> import sgsim
    >>> engine = sgsim.Engine.load("examples/vpc-web.json")
    >>> v = engine.check("eni-web1", "ingress", "tcp", "203.0.113.9", "10.0.1.10", dport=22)
    >>> v.verdict, v.rule_id
    ('drop', 'sgr-web-ssh-deny')
    >>> print(v)
    DROP   by sg-web/sgr-web-ssh-deny (priority 50, drop tcp 22/22 from 0.0.0.0/0)

Many flows at once, as a pyarrow Table with the columns of the ``sgsim eval`` CSV
(nic_id, direction, protocol, src_ip, src_port, dst_ip, dst_port), on all cores and without
the GIL::

    verdicts = engine.evaluate(flows_table)   # verdict, reason, security_group_id, rule_id, error

Also: ``engine.check_connection`` (the two-NIC question), ``engine.audit()`` and
``sgsim.diff(old, new)`` (the data of ``sgsim audit/diff --json``), and
``sgsim.apply(snapshot, request)`` (the ECS security-group API, simulated). Bad input raises
``LoadError`` (with ``.path``, ``.value``, ``.message``) or ``FlowError``.
"""

from ._errors import FlowError, LoadError
from ._sgsim import INPUT_COLUMNS, ConnectionVerdict, Engine, Verdict, __version__, apply, diff

__all__ = [
    "Engine",
    "Verdict",
    "ConnectionVerdict",
    "LoadError",
    "FlowError",
    "diff",
    "apply",
    "INPUT_COLUMNS",
    "__version__",
]

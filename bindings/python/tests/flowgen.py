"""Random flows in the columns of the `sgsim eval` CSV, for the tests and the benchmarks.

Flows aim at a snapshot's own NICs and addresses (so that rules, group references, prefix
lists, inner access and the platform rule all decide some of them) and, unless bad=0, include
rows that cannot be evaluated (unknown NIC, bad protocol, bad address, port out of range,
missing port), as real flow logs do.
"""

import csv
import json
import random
from pathlib import Path
from typing import Dict, List, Sequence

COLUMNS = ["nic_id", "direction", "protocol", "src_ip", "src_port", "dst_ip", "dst_port"]

_REMOTE_V4 = ["203.0.113.9", "203.0.113.7", "192.0.2.44", "198.51.100.23", "8.8.8.8", "100.64.0.1"]
_REMOTE_V6 = ["2001:db8::1", "2408:4000:1:100::99", "::1"]
_PORTS = ["22", "25", "53", "80", "443", "3306", "5432", "6379", "8080", "8200", "9100"]
_PROTOCOLS = ["tcp"] * 8 + ["udp"] * 3 + ["icmp", "icmpv6", "gre", "6", "17", "TCP", "47"]


def nic_addresses(snapshot_path: Path) -> Dict[str, List[str]]:
    """NIC id -> its addresses (IPv4 first), read from a snapshot file."""
    document = json.loads(Path(snapshot_path).read_text())
    out = {}
    for nic in document.get("NetworkInterfaces", []):
        addresses = [nic["PrivateIpAddress"]] if nic.get("PrivateIpAddress") else []
        for entry in (nic.get("Ipv6Sets") or {}).get("Ipv6Set", []):
            addresses.append(entry["Ipv6Address"])
        out[nic["NetworkInterfaceId"]] = addresses
    return out


def generate(snapshot_path: Path, rows: int, seed: int = 18, bad: float = 0.02) -> List[Sequence[str]]:
    """`rows` flows as 7-tuples of strings ("" = empty field); a fraction `bad` are bad rows."""
    rng = random.Random(seed)
    nics = nic_addresses(snapshot_path)
    nic_ids = list(nics)
    own_v4 = [a for addresses in nics.values() for a in addresses if ":" not in a]
    out = []
    for _ in range(rows):
        nic = rng.choice(nic_ids)
        direction = "ingress" if rng.random() < 0.6 else "egress"
        protocol = rng.choice(_PROTOCOLS)
        has_v6 = any(":" in a for a in nics[nic])
        if protocol == "icmpv6" and not has_v6:
            protocol = "icmp"
        v6 = protocol == "icmpv6" or (has_v6 and rng.random() < 0.05)
        own = [a for a in nics[nic] if (":" in a) == v6]
        if v6:
            remote = rng.choice(_REMOTE_V6)
        elif rng.random() < 0.4:
            remote = rng.choice(own_v4)
        elif rng.random() < 0.3:
            remote = "10.%d.%d.%d" % (rng.randrange(4), rng.randrange(4), rng.randrange(1, 30))
        else:
            remote = rng.choice(_REMOTE_V4)
        local = rng.choice(own)
        src, dst = (remote, local) if direction == "ingress" else (local, remote)
        sport = str(rng.randrange(1024, 65536)) if rng.random() < 0.9 else ""
        dport = rng.choice(_PORTS) if rng.random() < 0.8 else str(rng.randrange(1, 65536))
        if protocol in ("icmp", "icmpv6", "gre", "47") and rng.random() < 0.7:
            sport, dport = "", ""
        row = [nic, direction, protocol, src, sport, dst, dport]
        if rng.random() < bad:
            field = rng.randrange(7)
            row[field] = rng.choice(
                [["eni-missing"], ["sideways", ""], ["tcpx", "256"], ["10.0.0.256", "2001:db8::1"], ["70000", "-1"],
                 ["10.0.0.300", "x"], [""]][field]
            )
            if field in (4, 6) and row[field] == "" and protocol not in ("tcp", "udp", "6", "17", "TCP"):
                row[2] = "tcp"
        out.append(tuple(row))
    return out


def write_csv(rows: Sequence[Sequence[str]], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)


def to_table(rows: Sequence[Sequence[str]], empty_as_null: bool = True):
    """A pyarrow Table of string columns; empty fields as nulls (as Spark's CSV reader gives them)."""
    import pyarrow as pa

    columns = list(zip(*rows)) if rows else [()] * 7
    arrays = []
    for values in columns:
        if empty_as_null:
            values = [v if v != "" else None for v in values]
        arrays.append(pa.array(values, type=pa.string()))
    return pa.Table.from_arrays(arrays, names=COLUMNS)

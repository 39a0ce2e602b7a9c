"""Engine.load/loads, check, check_connection: the answers and messages of `sgsim check`."""

import json

import pytest

import sgsim
from conftest import EXAMPLES, VPC_WEB, run_sgsim


@pytest.fixture(scope="module")
def engine():
    return sgsim.Engine.load(VPC_WEB)


def test_check_prints_what_sgsim_check_prints(engine, sgsim_bin):
    # The README's example, without --sport: the answer covers every source port, as the command's.
    readme = run_sgsim(sgsim_bin, "check", VPC_WEB, "--nic", "eni-web1", "--direction", "ingress",
                       "--protocol", "tcp", "--src", "203.0.113.9", "--dport", "22")
    v = engine.check("eni-web1", "ingress", "tcp", "203.0.113.9", "10.0.1.10", dport=22)
    assert readme.stdout == f"{v}\n  for every source port (--sport not given)\n  flow: {v.flow} on {v.target}\n"
    assert v.flow == "ingress tcp 203.0.113.9:any -> 10.0.1.10:22"
    assert [(low, high, r.verdict) for low, high, r in v.source_ports] == [(0, 65535, "drop")]
    # A given source port: one flow, as `--sport 0` gives it.
    cli = run_sgsim(sgsim_bin, "check", VPC_WEB, "--nic", "eni-web1", "--direction", "ingress",
                    "--protocol", "tcp", "--src", "203.0.113.9", "--sport", "0", "--dport", "22")
    at_zero = engine.check("eni-web1", "ingress", "tcp", "203.0.113.9", "10.0.1.10", sport=0, dport=22)
    assert cli.stdout == f"{at_zero}\n  flow: {at_zero.flow} on {at_zero.target}\n"
    assert at_zero.source_ports is None
    for answer in (v, at_zero):
        assert (answer.verdict, answer.reason, answer.security_group_id, answer.rule_id) == (
            "drop", "rule", "sg-web", "sgr-web-ssh-deny")
        assert answer.rule["priority"] == 50 and answer.rule["policy"] == "drop"
        assert answer.rule["ports"] == "22/22" and answer.rule["remote"] == "0.0.0.0/0"
        assert answer.rule["summary"] == "drop tcp 22/22 from 0.0.0.0/0"
        assert not answer


def test_check_without_sport_depends_as_the_cli_says(engine, sgsim_bin):
    # The bastion rule accepts 203.0.113.7 from source ports 1024-65535 only; below, the deny rule.
    args = ("check", VPC_WEB, "--nic", "eni-web1", "--direction", "ingress", "--protocol", "tcp",
            "--src", "203.0.113.7", "--dport", "22")
    v = engine.check("eni-web1", "ingress", "tcp", "203.0.113.7", "10.0.1.10", dport=22)
    assert str(v) == run_sgsim(sgsim_bin, *args).stdout.rstrip("\n")
    expected = json.loads(run_sgsim(sgsim_bin, *args, "--json").stdout)
    assert (v.verdict, v.reason, v.rule_id, v.rule) == (expected["verdict"], None, None, None) == (
        "depends", None, None, None)
    assert not v
    got = [(low, high, r.verdict, r.reason, r.security_group_id, r.rule_id, r.explanation)
           for low, high, r in v.source_ports]
    assert got == [(r["from"], r["to"], r["verdict"], r["reason"], r["security_group_id"], r["rule_id"],
                    r["explanation"]) for r in expected["source_ports"]]
    assert [(low, high, r.verdict) for low, high, r in v.source_ports] == [
        (0, 1023, "drop"), (1024, 65535, "accept")]
    # Each range's verdict is the one-flow answer at its ports.
    for low, high, r in v.source_ports:
        for port in (low, high):
            one = engine.check("eni-web1", "ingress", "tcp", "203.0.113.7", "10.0.1.10", sport=port, dport=22)
            assert (one.verdict, one.rule_id) == (r.verdict, r.rule_id)
    # ICMP has no ports: nothing is left open.
    icmp = engine.check("eni-web1", "ingress", "icmp", "10.0.2.10", "10.0.1.10")
    assert icmp.source_ports is None and icmp.verdict in ("accept", "drop")


@pytest.mark.parametrize(
    "args",
    [
        ("eni-web1", "ingress", "tcp", "203.0.113.9", "10.0.1.10", 40000, 443),
        ("eni-web1", "ingress", "tcp", "192.0.2.44", "10.0.1.10", None, "22"),
        ("eni-web1", "egress", "tcp", "10.0.1.10", "8.8.8.8", None, 25),
        ("eni-web1", "ingress", "icmp", "10.0.2.10", "10.0.1.10", None, None),
        ("eni-web2", "ingress", "tcp", "10.0.1.10", "10.0.1.20", None, 8080),
        ("eni-db1", "ingress", "6", "10.0.1.10", "10.0.2.10", 1234, 5432),
        ("eni-web1", "ingress", "tcp", "2001:db8::1", "2408:4000:1:100::10", None, 443),
        ("eni-vault", "egress", "udp", "10.0.3.10", "8.8.8.8", None, 53),
    ],
)
def test_check_json_fields_equal_the_cli(engine, sgsim_bin, args):
    nic, direction, protocol, src, dst, sport, dport = args
    cli_args = ["check", VPC_WEB, "--nic", nic, "--direction", direction, "--protocol", protocol,
                "--src", src, "--dst", dst, "--json"]
    # A missing source port leaves it open on both sides.
    if sport is not None:
        cli_args += ["--sport", sport]
    if dport is not None:
        cli_args += ["--dport", dport]
    expected = json.loads(run_sgsim(sgsim_bin, *cli_args).stdout)
    v = engine.check(nic, direction, protocol, src, dst, sport=sport, dport=dport)
    assert v.verdict == expected["verdict"]
    assert v.reason == expected["reason"]
    assert v.security_group_id == expected["security_group_id"]
    assert v.rule_id == expected["rule_id"]
    assert v.explanation == expected["explanation"]
    assert v.target == expected["target"] == nic
    if "source_ports" in expected:
        assert [(low, high, r.verdict, r.rule_id) for low, high, r in v.source_ports] == [
            (r["from"], r["to"], r["verdict"], r["rule_id"]) for r in expected["source_ports"]]
    else:
        assert v.source_ports is None
    if v.rule is not None:
        for key in ("priority", "policy", "protocol", "summary", "description"):
            assert v.rule[key] == expected["rule"][key]
    else:
        assert "rule" not in expected


def test_platform_rules_and_internet_options():
    args = ("eni-web1", "egress", "tcp", "10.0.1.10", "8.8.8.8")
    on = sgsim.Engine.load(VPC_WEB).check(*args, dport=25)
    off = sgsim.Engine.load(VPC_WEB, platform_rules=False).check(*args, dport=25)
    assert (on.verdict, on.reason) == ("drop", "platform")
    assert off.reason != "platform"
    # VPC groups ignore the internet side (S9): same answers either way.
    internet = sgsim.Engine.load(VPC_WEB, internet=True).check(*args, dport=443)
    assert internet.verdict == sgsim.Engine.load(VPC_WEB).check(*args, dport=443).verdict


def test_check_connection_equals_the_cli(engine, sgsim_bin):
    cli_args = ("check", VPC_WEB, "--from", "eni-web1", "--to", "eni-db1", "--protocol", "tcp",
                "--src", "10.0.1.10", "--dst", "10.0.2.10", "--dport", "5432")
    for sport in (None, 0):
        cli = run_sgsim(sgsim_bin, *cli_args, *(["--sport", sport] if sport is not None else []))
        c = engine.check_connection("eni-web1", "eni-db1", "tcp", "10.0.1.10", "10.0.2.10",
                                    sport=sport, dport=5432)
        assert str(c) == cli.stdout.rstrip("\n")
        assert c.verdict == "accept" and c.blocked_by == [] and bool(c)
        assert c.egress.rule_id == "sgr-web-to-db" and c.ingress.verdict == "accept"
        assert (c.source_ports is None) == (sport is not None)
    blocked = engine.check_connection("eni-db1", "eni-web1", "tcp", "10.0.2.10", "10.0.1.10", dport=22)
    cli_json = json.loads(run_sgsim(sgsim_bin, "check", VPC_WEB, "--from", "eni-db1", "--to", "eni-web1",
                                    "--protocol", "tcp", "--src", "10.0.2.10", "--dst", "10.0.1.10",
                                    "--dport", "22", "--json").stdout)
    assert blocked.verdict == cli_json["verdict"] == "drop"
    assert blocked.blocked_by == cli_json["blocked_by"]
    assert blocked.ingress.rule_id == cli_json["ingress"]["rule_id"]


def test_check_connection_without_sport_depends_as_the_cli_says(engine, sgsim_bin):
    # eni-web2's egress to eni-web1's SSH, from the bastion address: ingress depends on the port.
    args = ("check", VPC_WEB, "--from", "eni-web2", "--to", "eni-web1", "--protocol", "tcp",
            "--src", "203.0.113.7", "--dst", "10.0.1.10", "--dport", "22")
    c = engine.check_connection("eni-web2", "eni-web1", "tcp", "203.0.113.7", "10.0.1.10", dport=22)
    cli = run_sgsim(sgsim_bin, *args).stdout
    assert str(c) == cli.rstrip("\n")
    expected = json.loads(run_sgsim(sgsim_bin, *args, "--json").stdout)
    assert c.verdict == expected["verdict"]
    assert [(low, high, r.verdict, r.blocked_by) for low, high, r in c.source_ports] == [
        (r["from"], r["to"], r["verdict"], r["blocked_by"]) for r in expected["source_ports"]]
    if c.verdict == "depends":
        assert (c.egress, c.ingress, c.blocked_by) == (None, None, None)
        assert len(c.source_ports) > 1
        for low, _, r in c.source_ports:
            one = run_sgsim(sgsim_bin, *args[:-2], "--sport", low, "--dport", "22").stdout
            assert str(r) == one.rstrip("\n")


def test_loads_text_dict_and_bare_group():
    text = VPC_WEB.read_text()
    from_text = sgsim.Engine.loads(text)
    from_dict = sgsim.Engine.loads(json.loads(text))
    assert from_text.nics == from_dict.nics == sgsim.Engine.load(str(VPC_WEB)).nics
    group = sgsim.Engine.loads({
        "SecurityGroupId": "sg-1",
        "Permissions": {"Permission": [{"SecurityGroupRuleId": "sgr-1", "Direction": "ingress", "Policy": "Drop",
                                        "Priority": 1, "IpProtocol": "TCP", "PortRange": "22/22",
                                        "SourceCidrIp": "0.0.0.0/0"}]},
    })
    v = group.check("", "ingress", "tcp", "203.0.113.9", "10.0.0.5", dport=22)
    assert (v.verdict, v.rule_id, v.target) == ("drop", "sgr-1", "sg-1")
    permissions = sgsim.Engine.loads([{"Direction": "ingress", "Policy": "Accept", "Priority": 1,
                                       "IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0"}])
    assert permissions.check("", "ingress", "tcp", "203.0.113.9", "10.0.0.5", dport=443).verdict == "accept"


def test_load_error_names_file_path_and_value(tmp_path):
    bad = json.loads(VPC_WEB.read_text())
    bad["SecurityGroups"][0]["Permissions"]["Permission"][2]["PortRange"] = "0/80"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(sgsim.LoadError) as caught:
        sgsim.Engine.load(path)
    err = caught.value
    assert err.file == str(path)
    assert err.path == "SecurityGroups[0].Permissions.Permission[2].PortRange"
    assert err.value == '"0/80"'
    assert err.message and str(err) == f"{path}: {err.path}: {err.value}: {err.message}"
    with pytest.raises(sgsim.LoadError) as caught:
        sgsim.Engine.loads(json.dumps(bad))
    assert caught.value.file is None and caught.value.path == err.path
    assert isinstance(caught.value, ValueError)


def test_load_errors_for_missing_files_and_bad_json(tmp_path):
    with pytest.raises(sgsim.LoadError) as caught:
        sgsim.Engine.load(tmp_path / "nope.json")
    assert caught.value.file == str(tmp_path / "nope.json")
    assert "No such file or directory" in caught.value.message
    with pytest.raises(sgsim.LoadError) as caught:
        sgsim.Engine.loads("{not json")
    assert "not valid JSON" in caught.value.message
    with pytest.raises(sgsim.LoadError):
        sgsim.Engine.loads('"a string"')
    with pytest.raises(TypeError):
        sgsim.Engine.loads(42)


@pytest.mark.parametrize(
    "call, field, value",
    [
        (("eni-nope", "ingress", "tcp", "1.2.3.4", "10.0.1.10", None, 22), "nic", "eni-nope"),
        (("eni-web1", "sideways", "tcp", "1.2.3.4", "10.0.1.10", None, 22), "direction", "sideways"),
        (("eni-web1", "ingress", "tcpx", "1.2.3.4", "10.0.1.10", None, 22), "protocol", "tcpx"),
        (("eni-web1", "ingress", "tcp", "1.2.3.400", "10.0.1.10", None, 22), "src_ip", "1.2.3.400"),
        (("eni-web1", "ingress", "tcp", "2001:db8::1", "10.0.1.10", None, 22), "dst_ip", "10.0.1.10"),
        (("eni-web1", "ingress", "tcp", "1.2.3.4", "10.0.1.10", None, 70000), "dst_port", "70000"),
        (("eni-web1", "ingress", "tcp", "1.2.3.4", "10.0.1.10", None, None), "dst_port", ""),
        (("eni-web1", "ingress", "tcp", "1.2.3.4", "10.0.1.10", -1, 22), "src_port", "-1"),
    ],
)
def test_flow_errors_name_the_field_and_value(engine, call, field, value):
    nic, direction, protocol, src, dst, sport, dport = call
    with pytest.raises(sgsim.FlowError) as caught:
        engine.check(nic, direction, protocol, src, dst, sport=sport, dport=dport)
    assert (caught.value.field, caught.value.value) == (field, value)
    assert value in str(caught.value)


def test_wrong_argument_types_raise_type_error(engine):
    with pytest.raises(TypeError):
        engine.check("eni-web1", "ingress", "tcp", "1.2.3.4", "10.0.1.10", dport=22.5)
    with pytest.raises(TypeError):
        engine.check("eni-web1", "ingress", "tcp", "1.2.3.4", "10.0.1.10", dport=True)


def test_check_connection_needs_nics():
    group = sgsim.Engine.loads({"SecurityGroupId": "sg-1", "Permissions": {"Permission": []}})
    with pytest.raises(sgsim.FlowError) as caught:
        group.check_connection("sg-1", "sg-1", "tcp", "10.0.0.1", "10.0.0.2", dport=22)
    assert "network interfaces" in str(caught.value)


def test_help_and_docstrings_are_useful():
    assert "Engine.load" in sgsim.__doc__ and "evaluate" in sgsim.__doc__
    for documented in (sgsim.Engine.load, sgsim.Engine.loads, sgsim.Engine.check, sgsim.Engine.check_connection,
                       sgsim.Engine.evaluate, sgsim.Engine.audit, sgsim.diff, sgsim.apply, sgsim.LoadError,
                       sgsim.FlowError, sgsim.Verdict):
        assert documented.__doc__ and len(documented.__doc__) > 40, documented
    assert sgsim.INPUT_COLUMNS == ["nic_id", "direction", "protocol", "src_ip", "src_port", "dst_ip", "dst_port"]
    assert (EXAMPLES.parent / "bindings/python/python/sgsim/_sgsim.pyi").exists()

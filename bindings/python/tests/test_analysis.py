"""audit, diff and apply: the data of `sgsim audit --json`, `sgsim diff --json` and
`sgsim apply`."""

import json

import pytest

import sgsim
from conftest import EXAMPLES, VPC_WEB, run_sgsim

CHANGED = EXAMPLES / "vpc-web-changed.json"


def test_audit_equals_the_cli_json(sgsim_bin):
    engine = sgsim.Engine.load(VPC_WEB)
    assert engine.audit() == json.loads(run_sgsim(sgsim_bin, "audit", VPC_WEB, "--json").stdout)
    one = engine.audit(nic="eni-web1", ports=[8080, 9000])
    cli = run_sgsim(sgsim_bin, "audit", VPC_WEB, "--nic", "eni-web1", "--ports", "8080,9000", "--json")
    assert one == json.loads(cli.stdout)
    assert [t["target"] for t in one["targets"]] == ["eni-web1"]
    with pytest.raises(sgsim.FlowError):
        engine.audit(nic="eni-nope")


def test_diff_equals_the_cli_json(sgsim_bin):
    expected = json.loads(run_sgsim(sgsim_bin, "diff", VPC_WEB, CHANGED, "--json").stdout)
    assert any(t["changes"] for t in expected["targets"])
    assert sgsim.diff(VPC_WEB, CHANGED) == expected
    assert sgsim.diff(str(VPC_WEB), CHANGED.read_text()) == expected
    assert sgsim.diff(sgsim.Engine.load(VPC_WEB), json.loads(CHANGED.read_text())) == expected
    same = sgsim.diff(VPC_WEB, VPC_WEB)
    assert all(not t["changes"] for t in same["targets"])
    with pytest.raises(sgsim.LoadError):
        sgsim.diff(VPC_WEB, EXAMPLES / "missing.json")
    with pytest.raises(TypeError):
        sgsim.diff(VPC_WEB, 3)


def test_apply_equals_the_cli(sgsim_bin, tmp_path):
    request = EXAMPLES / "requests" / "authorize-metrics.json"
    out = tmp_path / "new.json"
    cli = run_sgsim(sgsim_bin, "apply", VPC_WEB, request, "--output", out, "--seed", "7", "--now", "1767225600")
    answer, new_text = sgsim.apply(VPC_WEB, request.read_text(), seed=7, now=1767225600)
    assert answer == json.loads(cli.stdout)
    assert new_text == out.read_text()
    after = sgsim.Engine.loads(new_text)
    office = after.check("eni-web1", "ingress", "tcp", "192.0.2.44", "10.0.1.10", dport=9100)
    elsewhere = after.check("eni-web1", "ingress", "tcp", "203.0.113.9", "10.0.1.10", dport=9100)
    assert (office.verdict, office.rule["description"]) == ("accept", "node exporter from the office")
    assert (elsewhere.verdict, elsewhere.reason) == ("drop", "rule")
    # A dict request, an Engine as the snapshot, and a list of calls applied in order. An
    # Engine has no original text to patch: the same snapshot comes back in the API's shape.
    as_dict = json.loads(request.read_text())
    from_engine, engine_text = sgsim.apply(sgsim.Engine.load(VPC_WEB), as_dict, seed=7, now=1767225600)
    assert from_engine == answer
    assert sgsim.Engine.loads(engine_text).snapshot_json() == sgsim.Engine.loads(new_text).snapshot_json()
    revoke = (EXAMPLES / "requests" / "revoke-ssh-deny.txt").read_text()
    answers, text = sgsim.apply(VPC_WEB.read_text(), [as_dict, revoke], seed=7, now=1767225600)
    assert len(answers) == 2 and all("Code" not in a for a in answers)
    assert sgsim.Engine.loads(text).check("eni-web1", "ingress", "tcp", "192.0.2.99", "10.0.1.10",
                                          dport=22).rule_id != "sgr-web-ssh-deny"


def test_apply_rejection_is_the_api_error_and_no_snapshot(sgsim_bin):
    bad = ("Action=AuthorizeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-web&Permissions.1.IpProtocol=tcp"
           "&Permissions.1.PortRange=22&Permissions.1.SourceCidrIp=0.0.0.0/0")
    cli = run_sgsim(sgsim_bin, "apply", VPC_WEB, "--dry-run", "--seed", "1", bad, ok_codes=(1,))
    answer, new_text = sgsim.apply(VPC_WEB, bad, seed=1)
    assert answer == json.loads(cli.stdout)
    assert answer["Code"] == "InvalidParam.PortRange" and answer["HttpStatus"] == 400
    assert new_text is None
    answers, new_text = sgsim.apply(VPC_WEB, [bad, "Action=DeleteSecurityGroup&SecurityGroupId=sg-web"], seed=1)
    assert len(answers) == 1 and new_text is None
    with pytest.raises(TypeError):
        sgsim.apply(VPC_WEB, 42)
    with pytest.raises(sgsim.LoadError):
        sgsim.apply("{broken", bad)

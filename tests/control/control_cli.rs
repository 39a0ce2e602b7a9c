//! `sgsim apply`: answers on stdout, atomic writes, untouched files on rejection, several
//! requests in order, --dry-run with --flows; and a scenario that builds a network from nothing
//! with API calls only, then checks flows with `sgsim check`.

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn sgsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sgsim"))
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    sgsim().args(args).output().expect("sgsim runs")
}

fn answers(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// A temp dir holding a copy of the example snapshot.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.json");
    fs::copy(example("vpc-web.json"), &snapshot).unwrap();
    (dir, snapshot)
}

fn dir_listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const ALLOW_8443: &str = "Action=AuthorizeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-web\
    &Permissions.1.IpProtocol=tcp&Permissions.1.PortRange=8443/8443&Permissions.1.SourceCidrIp=0.0.0.0/0";
const BAD_PORTS: &str = "Action=AuthorizeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-web\
    &Permissions.1.IpProtocol=tcp&Permissions.1.PortRange=0/80&Permissions.1.SourceCidrIp=0.0.0.0/0";

#[test]
fn applies_in_place_and_prints_the_answer() {
    let (_dir, snapshot) = workspace();
    let path = snapshot.to_str().unwrap();
    let out = run(&["apply", path, ALLOW_8443]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers = answers(&out);
    assert_eq!(answers.len(), 1);
    assert!(answers[0]["RequestId"].is_string());
    // The file loads again and the new rule decides.
    let mut args = vec!["check", path];
    args.extend(
        "--nic eni-web1 --direction ingress --protocol tcp --src 203.0.113.9 --dport 8443 --json"
            .split(' '),
    );
    let check = run(&args);
    let verdict: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(verdict["verdict"], "accept");
    assert!(verdict["rule_id"].as_str().unwrap().starts_with("sgr-"));
}

#[test]
fn rejected_call_leaves_every_file_untouched() {
    let (dir, snapshot) = workspace();
    let original = fs::read(&snapshot).unwrap();
    let output = dir.path().join("new.json");
    let request = dir.path().join("request.txt");
    fs::write(&request, BAD_PORTS).unwrap();
    let listing = dir_listing(dir.path());
    for extra in [vec![], vec!["--output", output.to_str().unwrap()]] {
        let mut args = vec![
            "apply",
            snapshot.to_str().unwrap(),
            request.to_str().unwrap(),
        ];
        args.extend(extra);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1));
        let answers = answers(&out);
        assert_eq!(answers[0]["Code"], "InvalidParam.PortRange");
        assert_eq!(answers[0]["HttpStatus"], 400);
        assert_eq!(fs::read(&snapshot).unwrap(), original, "snapshot changed");
        assert_eq!(dir_listing(dir.path()), listing, "a file appeared or went");
    }
}

#[test]
fn several_requests_apply_in_order_and_stop_at_the_first_rejection() {
    let (dir, snapshot) = workspace();
    let original = fs::read(&snapshot).unwrap();
    let json_request = dir.path().join("revoke.json");
    fs::write(
        &json_request,
        r#"{"Action": "RevokeSecurityGroup", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-web",
            "SecurityGroupRuleId": ["sgr-web-ssh-deny"]}"#,
    )
    .unwrap();
    let path = snapshot.to_str().unwrap();
    let out = run(&[
        "apply",
        path,
        ALLOW_8443,
        json_request.to_str().unwrap(),
        BAD_PORTS,
        ALLOW_8443,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let answers = answers(&out);
    assert_eq!(answers.len(), 3, "the fourth request is not applied");
    assert!(answers[0].get("Code").is_none() && answers[1].get("Code").is_none());
    assert_eq!(answers[2]["Code"], "InvalidParam.PortRange");
    assert_eq!(fs::read(&snapshot).unwrap(), original);

    // Without the bad one, all apply, written to --output; the input stays as it was.
    let output = dir.path().join("out.json");
    let out = run(&[
        "apply",
        path,
        ALLOW_8443,
        json_request.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(fs::read(&snapshot).unwrap(), original);
    let written: Value = serde_json::from_slice(&fs::read(&output).unwrap()).unwrap();
    let rules = written["SecurityGroups"][0]["Permissions"]["Permission"]
        .as_array()
        .unwrap();
    assert!(rules
        .iter()
        .all(|r| r["SecurityGroupRuleId"] != "sgr-web-ssh-deny"));
    assert!(rules.iter().any(|r| r["PortRange"] == "8443/8443"));
}

#[test]
fn request_from_stdin() {
    let (_dir, snapshot) = workspace();
    // stdin is a file holding the request, as in `sgsim apply snap.json - < request.json`.
    let request = snapshot.with_file_name("request.json");
    fs::write(
        &request,
        r#"{"Action": "ModifySecurityGroupPolicy", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-web", "InnerAccessPolicy": "Drop"}"#,
    )
    .unwrap();
    let out = sgsim()
        .args(["apply", snapshot.to_str().unwrap(), "-"])
        .stdin(Stdio::from(fs::File::open(&request).unwrap()))
        .output()
        .unwrap();
    assert!(out.status.success());
    let written: Value = serde_json::from_slice(&fs::read(&snapshot).unwrap()).unwrap();
    assert_eq!(written["SecurityGroups"][0]["InnerAccessPolicy"], "Drop");
}

#[test]
fn dry_run_reports_flipped_flows_and_writes_nothing() {
    let (_dir, snapshot) = workspace();
    let original = fs::read(&snapshot).unwrap();
    let flows = example("flows.csv");
    // Allowing SSH from 203.0.113.9 ahead of the deny rule flips line 3 of flows.csv.
    let request = "Action=AuthorizeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-web\
        &Permissions.1.IpProtocol=tcp&Permissions.1.PortRange=22/22&Permissions.1.SourceCidrIp=203.0.113.9\
        &Permissions.1.Priority=1";
    let out = run(&[
        "apply",
        snapshot.to_str().unwrap(),
        request,
        "--dry-run",
        "--flows",
        flows.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fs::read(&snapshot).unwrap(), original);
    let lines = answers(&out);
    assert!(lines[0]["RequestId"].is_string());
    let report = &lines[1];
    assert_eq!(report["FlowsChecked"], 18);
    let flipped = report["Flipped"].as_array().unwrap();
    assert_eq!(flipped.len(), 1, "{report}");
    assert_eq!(flipped[0]["line"], 3);
    assert_eq!(flipped[0]["before"]["verdict"], "drop");
    assert_eq!(flipped[0]["before"]["rule_id"], "sgr-web-ssh-deny");
    assert_eq!(flipped[0]["after"]["verdict"], "accept");
}

#[test]
fn usage_and_load_errors() {
    assert_eq!(
        run(&["apply", "examples/vpc-web.json"]).status.code(),
        Some(2)
    );
    assert_eq!(
        run(&["apply", "/nonexistent.json", ALLOW_8443])
            .status
            .code(),
        Some(1)
    );
    let (_dir, snapshot) = workspace();
    assert_eq!(
        run(&[
            "apply",
            snapshot.to_str().unwrap(),
            "/nonexistent-request.json"
        ])
        .status
        .code(),
        Some(1)
    );
}

#[test]
fn shipped_example_requests_apply() {
    let (_dir, snapshot) = workspace();
    let dir = example("requests");
    let mut requests: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    requests.sort();
    assert!(requests.len() >= 2);
    for request in requests {
        let out = run(&[
            "apply",
            snapshot.to_str().unwrap(),
            request.to_str().unwrap(),
            "--dry-run",
        ]);
        assert!(
            out.status.success(),
            "{}: {}",
            request.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Groups, NICs and rules from nothing, with API calls only; then flows with `sgsim check`.
#[test]
fn scenario_builds_a_network_from_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("net.json");
    fs::write(&snapshot, r#"{"SecurityGroups": []}"#).unwrap();
    let path = snapshot.to_str().unwrap();
    let apply = |request: &str| -> Value {
        let out = run(&["apply", path, request, "--seed", "7", "--now", "1767225600"]);
        assert!(
            out.status.success(),
            "{request}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        answers(&out).remove(0)
    };
    let r = "RegionId=cn-hangzhou";
    let web = apply(&format!(
        "Action=CreateSecurityGroup&{r}&VpcId=vpc-1&SecurityGroupName=web"
    ))["SecurityGroupId"]
        .as_str()
        .unwrap()
        .to_string();
    let db = apply(&format!(
        "Action=CreateSecurityGroup&{r}&VpcId=vpc-1&SecurityGroupName=db"
    ))["SecurityGroupId"]
        .as_str()
        .unwrap()
        .to_string();
    apply(&format!(
        "Action=ModifySecurityGroupPolicy&{r}&SecurityGroupId={db}&InnerAccessPolicy=Drop"
    ));
    let web_nic = apply(&format!(
        "Action=CreateNetworkInterface&{r}&VSwitchId=vsw-1&SecurityGroupId={web}&PrimaryIpAddress=10.0.1.10&Ipv6Address.1=2408:4000::10"
    ))["NetworkInterfaceId"]
        .as_str()
        .unwrap()
        .to_string();
    let db_nic = apply(&format!(
        "Action=CreateNetworkInterface&{r}&VSwitchId=vsw-2&SecurityGroupId={db}&PrimaryIpAddress=10.0.2.10"
    ))["NetworkInterfaceId"]
        .as_str()
        .unwrap()
        .to_string();
    let db2_nic = apply(&format!(
        "Action=CreateNetworkInterface&{r}&VSwitchId=vsw-2&SecurityGroupId={db}&PrimaryIpAddress=10.0.2.20"
    ))["NetworkInterfaceId"]
        .as_str()
        .unwrap()
        .to_string();
    apply(&format!(
        r#"{{"Action": "AuthorizeSecurityGroup", "RegionId": "cn-hangzhou", "SecurityGroupId": "{web}",
             "Permissions": [
               {{"IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0"}},
               {{"IpProtocol": "TCP", "PortRange": "443/443", "Ipv6SourceCidrIp": "::/0"}},
               {{"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "Policy": "Drop", "Priority": 50}}]}}"#
    ));
    apply(&format!(
        "Action=AuthorizeSecurityGroup&{r}&SecurityGroupId={db}&Permissions.1.IpProtocol=tcp&Permissions.1.PortRange=5432/5432&Permissions.1.SourceGroupId={web}"
    ));
    apply(&format!(
        "Action=AuthorizeSecurityGroupEgress&{r}&SecurityGroupId={db}&Permissions.1.IpProtocol=all&Permissions.1.DestCidrIp=0.0.0.0/0&Permissions.1.Policy=drop&Permissions.1.Priority=100"
    ));

    let check = |args: &[&str]| -> Value {
        let mut all = vec!["check", path, "--json"];
        all.extend_from_slice(args);
        let out = run(&all);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Words split on spaces: the flags read as one line.
    let check_words = |words: String| check(&words.split(' ').collect::<Vec<_>>());
    // A TCP flow from `src` to web's NIC on `dport`.
    let tcp_in = |src: &str, dport: &str| {
        check_words(format!(
            "--nic {web_nic} --direction ingress --protocol tcp --src {src} --dport {dport}"
        ))
    };
    // A TCP connection between two NICs.
    let tcp_between = |from: &str, to: &str, src: &str, dst: &str, dport: &str| {
        check_words(format!(
            "--from {from} --to {to} --protocol tcp --src {src} --dst {dst} --dport {dport}"
        ))
    };
    let https = tcp_in("203.0.113.9", "443");
    assert_eq!(
        (https["verdict"].as_str(), https["reason"].as_str()),
        (Some("accept"), Some("rule"))
    );
    let https6 = tcp_in("2001:db8::1", "443");
    assert_eq!(https6["verdict"], "accept");
    let ssh = tcp_in("203.0.113.9", "22");
    assert_eq!(
        (ssh["verdict"].as_str(), ssh["reason"].as_str()),
        (Some("drop"), Some("rule"))
    );
    // web → db on 5432 through the group reference; the db group drops egress but connections
    // are judged on web's egress (accepted by default) and db's ingress.
    let pg = tcp_between(&web_nic, &db_nic, "10.0.1.10", "10.0.2.10", "5432");
    assert_eq!(pg["verdict"], "accept", "{pg}");
    // db1 → db2: inner access is Drop, and db's egress drops everything.
    let inner = tcp_between(&db_nic, &db2_nic, "10.0.2.10", "10.0.2.20", "5432");
    assert_eq!(inner["verdict"], "drop", "{inner}");

    // Detach web's group from its NIC into db's: now 443 falls to the default.
    apply(&format!(
        "Action=ModifyNetworkInterfaceAttribute&{r}&NetworkInterfaceId={web_nic}&SecurityGroupId.1={db}"
    ));
    let https = tcp_in("203.0.113.9", "443");
    assert_eq!(
        (https["verdict"].as_str(), https["reason"].as_str()),
        (Some("drop"), Some("default"))
    );
    // The same seed and clock give the same ids: the run is reproducible.
    let written: Value = serde_json::from_slice(&fs::read(&snapshot).unwrap()).unwrap();
    assert_eq!(written["SecurityGroups"].as_array().unwrap().len(), 2);
    assert_eq!(written["NetworkInterfaces"].as_array().unwrap().len(), 3);
    assert_eq!(
        written["SecurityGroups"][0]["Permissions"]["Permission"][0]["CreateTime"],
        "2026-01-01T00:00:00Z"
    );
}

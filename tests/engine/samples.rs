//! Real ECS API payloads (`testdata/samples/`, copied from `shared/samples/alibaba/`, see its
//! README for sources) load as they are and give the verdicts their rules call for.

use sgsim::model::{Action, Flow, Reason, RuleRef};
use sgsim::{Engine, Snapshot};
use std::path::{Path, PathBuf};
use std::process::Command;

const SAMPLES: [&str; 4] = [
    "describe-sg-attribute.aliyun-cli-2022.json",
    "describe-sg-attribute.docs-2021.json",
    "describe-sg-attribute.docs-2026.json",
    "permissions.go-sdk-collector.json",
];

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The copies CI reads (a fresh clone has no `/work/shared`).
fn testdata_samples() -> PathBuf {
    crate_dir().join("testdata/samples")
}

/// The shared originals, when this checkout sits beside them.
fn shared_samples() -> Option<PathBuf> {
    let dir = crate_dir().join("../shared/samples/alibaba");
    dir.is_dir().then_some(dir)
}

fn sample_text(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Where the samples are read from: the copies always, the shared originals when present.
fn sample_dirs() -> Vec<PathBuf> {
    std::iter::once(testdata_samples())
        .chain(shared_samples())
        .collect()
}

/// One engine per copy of the sample.
fn engines(name: &str) -> Vec<Engine> {
    sample_dirs()
        .iter()
        .map(|dir| {
            let snapshot = Snapshot::from_json_str(&sample_text(dir, name))
                .unwrap_or_else(|err| panic!("{}/{name}: {err}", dir.display()));
            Engine::new(snapshot)
        })
        .collect()
}

/// A verdict as action, reason and the deciding rule's position in its group.
type Outcome = (Action, Reason, Option<u32>);

/// The verdict at the sample's only group.
fn ask(engine: &Engine, fields: [&str; 6]) -> Outcome {
    let [direction, protocol, src, sport, dst, dport] = fields;
    let flow = Flow::parse(direction, protocol, src, sport, dst, dport).unwrap();
    let verdict = engine.check(engine.target("").unwrap(), &flow);
    (
        verdict.action,
        verdict.reason,
        verdict.deciding_rule().map(|r| r.rule),
    )
}

fn accepted_by_rule(position: u32) -> Outcome {
    // The sample is one group: group 0.
    let rule = RuleRef {
        group: 0,
        rule: position,
    };
    (Action::Accept, Reason::Rule(rule), Some(position))
}
/// An ingress flow from `src` (source port 40000 when the protocol has ports) to 10.0.0.5.
fn ingress(engine: &Engine, protocol: &str, src: &str, dport: &str) -> Outcome {
    let sport = if dport.is_empty() { "" } else { "40000" };
    ask(engine, ["ingress", protocol, src, sport, "10.0.0.5", dport])
}

const DROP_DEFAULT: Outcome = (Action::Drop, Reason::Default, None);
const ACCEPT_DEFAULT: Outcome = (Action::Accept, Reason::Default, None);

#[test]
fn testdata_copies_match_the_shared_samples() {
    let Some(shared) = shared_samples() else {
        eprintln!("no ../shared/samples/alibaba beside this checkout: nothing to compare");
        return;
    };
    for name in SAMPLES.iter().chain(&["README.md"]) {
        assert_eq!(
            sample_text(&testdata_samples(), name),
            sample_text(&shared, name),
            "testdata/samples/{name} differs from the shared sample"
        );
    }
}

// June-2022 wire shape: every field present as "", no rule ids, Priority a number.
#[test]
fn aliyun_cli_2022_opens_every_tcp_port_to_the_world() {
    for e in engines("describe-sg-attribute.aliyun-cli-2022.json") {
        let group = &e.snapshot().groups()[0];
        assert_eq!(group.id, "sg-2zebb34geaa1x63gtkor");
        assert_eq!(group.rules.len(), 1);
        assert!(
            group.rules[0].id.starts_with("sgr-"),
            "a derived rule id: {}",
            group.rules[0].id
        );

        assert_eq!(ingress(&e, "tcp", "203.0.113.9", "22"), accepted_by_rule(0));
        assert_eq!(
            ask(
                &e,
                ["ingress", "tcp", "198.51.100.1", "1", "10.0.0.5", "65535"]
            ),
            accepted_by_rule(0)
        );
        // S3: port 0 is in no range; S5: the IPv4 rule says nothing about IPv6; S1: UDP is not TCP.
        assert_eq!(ingress(&e, "tcp", "203.0.113.9", "0"), DROP_DEFAULT);
        assert_eq!(
            ask(
                &e,
                [
                    "ingress",
                    "tcp",
                    "2001:db8::1",
                    "40000",
                    "2001:db8::5",
                    "22"
                ]
            ),
            DROP_DEFAULT
        );
        assert_eq!(ingress(&e, "udp", "203.0.113.9", "53"), DROP_DEFAULT);
        assert_eq!(
            ask(&e, ["egress", "udp", "10.0.0.5", "40000", "8.8.8.8", "53"]),
            ACCEPT_DEFAULT
        );
    }
}

// The 2020 documentation sample: four ingress rules without ids, ICMP with SourcePortRange -1/-1.
#[test]
fn docs_2021_gives_ssh_and_ping_to_the_private_range_and_web_to_all() {
    for e in engines("describe-sg-attribute.docs-2021.json") {
        let group = &e.snapshot().groups()[0];
        assert_eq!(group.id, "sg-bp1gxw6bznjjvhu3****");
        let ids: std::collections::HashSet<&str> =
            group.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), 4, "derived rule ids are distinct: {ids:?}");

        assert_eq!(ingress(&e, "tcp", "10.1.2.3", "22"), accepted_by_rule(0));
        assert_eq!(ingress(&e, "tcp", "203.0.113.9", "22"), DROP_DEFAULT);
        assert_eq!(
            ingress(&e, "tcp", "203.0.113.9", "443"),
            accepted_by_rule(1)
        );
        assert_eq!(ingress(&e, "tcp", "203.0.113.9", "80"), accepted_by_rule(2));
        assert_eq!(ingress(&e, "tcp", "203.0.113.9", "8080"), DROP_DEFAULT);
        assert_eq!(ingress(&e, "icmp", "10.9.9.9", ""), accepted_by_rule(3));
        assert_eq!(ingress(&e, "icmp", "203.0.113.9", ""), DROP_DEFAULT);
    }
}

// Derived rule ids are stable: loading the same response twice names the same rules.
#[test]
fn derived_rule_ids_are_stable() {
    let ids = |e: &Engine| {
        e.snapshot().groups()[0]
            .rules
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    };
    let all: Vec<Vec<String>> = engines("describe-sg-attribute.docs-2021.json")
        .iter()
        .chain(&engines("describe-sg-attribute.docs-2021.json"))
        .map(ids)
        .collect();
    assert!(all.windows(2).all(|pair| pair[0] == pair[1]), "{all:?}");
}

// A bare Permission array from a Go-SDK collector: Priority as a string, a bare source address,
// and a cross-account group reference, which no NIC in the snapshot carries (S6).
#[test]
fn go_sdk_collector_permissions_load_as_one_unnamed_group() {
    for e in engines("permissions.go-sdk-collector.json") {
        let group = &e.snapshot().groups()[0];
        assert_eq!(group.id, sgsim::input::ecs::UNNAMED_GROUP_ID);
        assert_eq!(e.target(sgsim::input::ecs::UNNAMED_GROUP_ID), e.target(""));
        assert_eq!(group.rules[0].id, "sgr-somesecuritygroupruleid");

        // S8: 119.110.100.86 is a /32.
        assert_eq!(
            ask(
                &e,
                [
                    "ingress",
                    "tcp",
                    "119.110.100.86",
                    "40000",
                    "10.0.0.5",
                    "22"
                ]
            ),
            accepted_by_rule(0)
        );
        assert_eq!(
            ask(
                &e,
                [
                    "ingress",
                    "tcp",
                    "119.110.100.87",
                    "40000",
                    "10.0.0.5",
                    "22"
                ]
            ),
            DROP_DEFAULT
        );
        // The ALL rule from sg-somesecuritygroupid matches nothing here.
        assert_eq!(ingress(&e, "udp", "10.0.0.9", "53"), DROP_DEFAULT);
    }
}

// The current documentation sample fills every field with masked placeholders at once; it is
// refused at the first value that cannot be an address, not silently skipped.
#[test]
fn docs_2026_is_refused_at_the_masked_ipv6_source() {
    for dir in sample_dirs() {
        let text = sample_text(&dir, "describe-sg-attribute.docs-2026.json");
        let err = Snapshot::from_json_str(&text).expect_err("masked addresses cannot load");
        assert_eq!(err.path, "Permissions.Permission[0].Ipv6SourceCidrIp");
        assert_eq!(err.value, "\"2001:db8:1234:1a00::***\"");
        assert_eq!(
            err.to_string(),
            "Permissions.Permission[0].Ipv6SourceCidrIp: \"2001:db8:1234:1a00::***\": not an IPv6 \
             address or CIDR block (it looks like a documentation placeholder with masked digits)"
        );
    }
}

// The README's example of a refused file, through the binary.
#[test]
fn sgsim_names_the_file_path_and_value_of_the_docs_2026_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_sgsim"))
        .current_dir(testdata_samples())
        .args([
            "check",
            "describe-sg-attribute.docs-2026.json",
            "--direction",
            "ingress",
            "--protocol",
            "tcp",
            "--src",
            "203.0.113.9",
            "--dst",
            "10.0.0.5",
            "--dport",
            "80",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: describe-sg-attribute.docs-2026.json: Permissions.Permission[0].Ipv6SourceCidrIp: \
         \"2001:db8:1234:1a00::***\": not an IPv6 address or CIDR block (it looks like a \
         documentation placeholder with masked digits)\n"
    );
    assert!(output.stdout.is_empty());
}

//! The ClassBench importer: exact conversion of hand-written lines, errors with file and line,
//! gzip input, and equality with what shared/baselines/classbench_to_sg.py writes.

use sgsim::input::classbench::{self, ClassBenchRule, TraceHeader};
use sgsim::model::{Action, DestPorts, Direction, PortRange, Protocol, RemoteObject, Rule};
use sgsim::Snapshot;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/classbench")
        .join(name)
}

fn net(text: &str) -> ipnet::IpNet {
    text.parse().unwrap()
}

fn range(lo: u16, hi: u16) -> PortRange {
    PortRange { lo, hi }
}

/// Eight lines covering the edge cases of the conversion.
const RULES: &str = "\
@10.1.2.3/8\t0.0.0.0/0\t0 : 65535\t0 : 1023\t0x06/0xFF\t0x0000/0x0000\t
@192.168.1.0/24\t10.0.0.0/16\t1024 : 65535\t80 : 80\t0x11/0xFF\t0x0000/0x0200\t
@0.0.0.0/0\t1.2.3.4/32\t0 : 100\t53 : 53\t0x00/0x00\t0x0000/0x0000\t
@5.6.7.8/32\t0.0.0.0/0\t0 : 1000\t0 : 65535\t0x06/0xFF\t0x0000/0x0000\t
@5.6.7.0/24\t9.9.9.0/24\t0 : 65535\t0 : 65535\t0x01/0xFF\t0x0000/0x0000\t

@5.6.0.0/16\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x2F/0xFF\t0x0000/0x0000\t
@5.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x33/0xFF\t0x0000/0x0000\t
@4.0.0.0/8\t3.3.3.3/32\t1 : 65535\t1 : 1\t0x11/0xFF
";

fn rules() -> Vec<ClassBenchRule> {
    classbench::parse_rules_str(RULES, "rules.txt").unwrap()
}

#[test]
fn parses_fields_as_written() {
    let rules = rules();
    assert_eq!(rules.len(), 8, "the blank line is skipped");
    assert_eq!(
        rules[0],
        ClassBenchRule {
            // Host bits are cleared, as ipaddress.ip_network(strict=False) does.
            src: "10.0.0.0/8".parse().unwrap(),
            dst: "0.0.0.0/0".parse().unwrap(),
            src_ports: (0, 65535),
            dst_ports: (0, 1023),
            proto: 6,
            proto_mask: 0xFF,
        }
    );
    assert_eq!((rules[2].proto, rules[2].proto_mask), (0, 0));
    assert_eq!(rules[5].proto, 47);
    // The last line has no flags field and no trailing tab.
    assert_eq!(rules[7].dst_ports, (1, 1));
}

#[test]
fn converts_exactly() {
    let snapshot = classbench::snapshot(&rules());
    assert_eq!(snapshot.groups().len(), 1);
    let group = &snapshot.groups()[0];
    assert_eq!(group.id, classbench::GROUP_ID);
    assert_eq!(group.vpc_id, classbench::VPC_ID);
    let r = &group.rules;
    let n = 8;

    // Priorities 1 + floor(100 i / N); drop exactly when i % 4 == 3; ids sgr-i; all ingress.
    for (i, rule) in r.iter().enumerate() {
        assert_eq!(rule.id, format!("sgr-{i}"));
        assert_eq!(rule.priority as usize, 1 + 100 * i / n);
        assert_eq!(rule.direction, Direction::Ingress);
        let expected = if i % 4 == 3 {
            Action::Drop
        } else {
            Action::Accept
        };
        assert_eq!(rule.action, expected, "rule {i}");
    }
    assert_eq!(
        r.iter().map(|x| x.priority).collect::<Vec<_>>(),
        [1, 13, 26, 38, 51, 63, 76, 88]
    );

    // Line 0: TCP, dport low end 0 raised to 1, sport 0 : 65535 dropped, /0 destination dropped.
    assert_eq!(r[0].protocol, Protocol::Number(6));
    assert_eq!(r[0].dest_ports, DestPorts::Range(range(1, 1023)));
    assert_eq!(r[0].source_ports, None);
    assert_eq!(r[0].remote, RemoteObject::Cidr(net("10.0.0.0/8")));
    assert_eq!(r[0].local, None);
    assert_eq!(r[0].summary(), "accept tcp 1/1023 from 10.0.0.0/8");

    // Line 1: UDP with a source range kept and a destination CIDR.
    assert_eq!(r[1].protocol, Protocol::Number(17));
    assert_eq!(r[1].dest_ports, DestPorts::Range(range(80, 80)));
    assert_eq!(r[1].source_ports, Some(range(1024, 65535)));
    assert_eq!(r[1].local, Some(net("10.0.0.0/16")));

    // Line 2: protocol mask 0 = ALL, which has no ports: both ranges dropped.
    assert_eq!(r[2].protocol, Protocol::All);
    assert_eq!(r[2].dest_ports, DestPorts::Any);
    assert_eq!(r[2].source_ports, None);
    assert_eq!(r[2].remote, RemoteObject::Cidr(net("0.0.0.0/0")));
    assert_eq!(r[2].local, Some(net("1.2.3.4/32")));

    // Line 3: source 0 : 1000 becomes 1/1000; destination 0 : 65535 becomes 1/65535.
    assert_eq!(r[3].source_ports, Some(range(1, 1000)));
    assert_eq!(r[3].dest_ports, DestPorts::Range(range(1, 65535)));
    assert_eq!(r[3].action, Action::Drop);

    // ICMP, GRE and a bare number: no ports.
    assert_eq!(r[4].protocol, Protocol::Number(1));
    assert_eq!(r[4].dest_ports, DestPorts::Any);
    assert_eq!(r[4].local, Some(net("9.9.9.0/24")));
    assert_eq!(r[5].protocol, Protocol::Number(47));
    assert_eq!(r[6].protocol, Protocol::Number(0x33));
    assert_eq!(r[6].summary(), "accept 51 from 5.0.0.0/8");

    // Line 7: a source range 1 : 65535 is not the wildcard, so it stays.
    assert_eq!(r[7].source_ports, Some(range(1, 65535)));
    assert_eq!(r[7].action, Action::Drop);

    let nic = &snapshot.nics()[0];
    assert_eq!(nic.id, classbench::NIC_ID);
    assert_eq!(nic.addresses, [IpAddr::V4(classbench::NIC_ADDRESS)]);
    assert_eq!(nic.groups, [0]);
}

#[test]
fn priority_formula_at_scale() {
    let line = "@1.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x06/0xFF\t0x0000/0x0000\t\n";
    let rules = classbench::parse_rules_str(&line.repeat(1000), "r").unwrap();
    let converted: Vec<Rule> = (0..1000)
        .map(|i| classbench::convert_rule(i, 1000, &rules[i]))
        .collect();
    assert_eq!(converted[0].priority, 1);
    assert_eq!(converted[9].priority, 1);
    assert_eq!(converted[10].priority, 2);
    assert_eq!(converted[999].priority, 100);
}

#[test]
fn trace_lines_become_ingress_flows() {
    let trace = classbench::parse_trace_str(
        "1923697128\t2273746465\t0\t1221\t6\t4294967295\t261\n\n16909060 167772161 5 6 1 0 0\n",
        "trace.txt",
    )
    .unwrap();
    assert_eq!(trace.len(), 2);
    assert_eq!(
        trace[1],
        TraceHeader {
            src: Ipv4Addr::new(1, 2, 3, 4),
            dst: Ipv4Addr::new(10, 0, 0, 1),
            src_port: 5,
            dst_port: 6,
            proto: 1,
        }
    );
    let queries = classbench::queries(&trace);
    assert_eq!(queries[0].target, classbench::TARGET);
    let flow = queries[0].flow;
    assert_eq!(flow.direction, Direction::Ingress);
    assert_eq!(flow.src, IpAddr::V4(Ipv4Addr::from(1923697128u32)));
    assert_eq!(flow.dst, IpAddr::V4(Ipv4Addr::from(2273746465u32)));
    assert_eq!((flow.src_port, flow.dst_port, flow.protocol), (0, 1221, 6));
}

fn rule_error(text: &str) -> String {
    classbench::parse_rules_str(text, "bad.rules")
        .unwrap_err()
        .to_string()
}

#[test]
fn malformed_rules_name_file_line_value_and_expectation() {
    let good = "@1.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x06/0xFF\t0x0000/0x0000\t\n";
    let cases = [
        (
            "@1.0.0.0/33\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x06/0xFF\t0x0000/0x0000\t\n",
            "bad.rules:2: source prefix \"1.0.0.0/33\": expected an IPv4 prefix a.b.c.d/len with len 0..32",
        ),
        (
            "@1.0.0.0/8\t0.0.0.300/0\t0 : 65535\t0 : 65535\t0x06/0xFF\t0x0000/0x0000\t\n",
            "bad.rules:2: destination prefix \"0.0.0.300/0\"",
        ),
        (
            "@1.0.0.0/8\t0.0.0.0/0\t0 : 65535\t90 : 80\t0x06/0xFF\t0x0000/0x0000\t\n",
            "bad.rules:2: destination ports \"90 : 80\": expected a port range lo : hi with 0 <= lo <= hi <= 65535",
        ),
        (
            "@1.0.0.0/8\t0.0.0.0/0\t0 - 65535\t0 : 65535\t0x06/0xFF\t0x0000/0x0000\t\n",
            "bad.rules:2: source ports \"0 - 65535\"",
        ),
        (
            "@1.0.0.0/8\t0.0.0.0/0\t0 : 65536\t0 : 65535\t0x06/0xFF\t0x0000/0x0000\t\n",
            "bad.rules:2: source ports \"0 : 65536\"",
        ),
        (
            "@1.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x06/0x0F\t0x0000/0x0000\t\n",
            "bad.rules:2: protocol \"0x06/0x0F\": expected protocol value/mask in hex with mask 0x00 (any protocol) or 0xFF",
        ),
        (
            "@1.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x106/0xFF\t0x0000/0x0000\t\n",
            "bad.rules:2: protocol \"0x106/0xFF\"",
        ),
        (
            "@1.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x3a/0xFF\t0x0000/0x0000\t\n",
            "bad.rules:2: protocol \"0x3a/0xFF\": expected a protocol other than ICMPv6 (58)",
        ),
        (
            "@1.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 0\t0x06/0xFF\t0x0000/0x0000\t\n",
            "bad.rules:2: destination ports \"0 : 0\": expected a TCP/UDP range that includes a port 1..65535",
        ),
        (
            "@1.0.0.0/8\t0.0.0.0/0\t0 : 0\t0 : 65535\t0x11/0xFF\t0x0000/0x0000\t\n",
            "bad.rules:2: source ports \"0 : 0\"",
        ),
        (
            "@1.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x06/0xFF\tzz\t\n",
            "bad.rules:2: flags \"zz\"",
        ),
        (
            "1.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x06/0xFF\t0x0000/0x0000\t\n",
            "bad.rules:2: line \"1.0.0.0/8",
        ),
        (
            "@1.0.0.0/8\t0.0.0.0/0\t0 : 65535\n",
            "bad.rules:2: line \"@1.0.0.0/8\\t0.0.0.0/0\\t0 : 65535\": expected 5 or 6 tab-separated fields",
        ),
    ];
    for (bad, expected) in cases {
        let message = rule_error(&format!("{good}{bad}"));
        assert!(
            message.starts_with(expected),
            "for {bad:?}:\n  got      {message}\n  expected {expected}…"
        );
    }
    // ICMP and ALL ignore their ports, so 0 : 0 is fine there.
    let portless = "@1.0.0.0/8\t0.0.0.0/0\t0 : 0\t0 : 0\t0x01/0xFF\t0x0000/0x0000\t\n\
                    @1.0.0.0/8\t0.0.0.0/0\t0 : 0\t0 : 0\t0x06/0x00\t0x0000/0x0000\t\n";
    assert_eq!(
        classbench::parse_rules_str(portless, "ok").unwrap().len(),
        2
    );
    assert_eq!(
        rule_error("\n\n"),
        "bad.rules: no filters: expected tab-separated lines like @10.0.0.0/8 0.0.0.0/0 0 : 65535 80 : 80 0x06/0xFF 0x0000/0x0000"
    );
}

#[test]
fn malformed_traces_name_file_line_value_and_expectation() {
    let error = |text: &str| {
        classbench::parse_trace_str(text, "bad.trace")
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        error("1 2 3 4 6 0 0\n1 2 3 4\n"),
        "bad.trace:2: protocol \"1 2 3 4\": expected at least 5 whitespace-separated columns: sip dip sport dport proto [flags rule_idx]"
    );
    assert_eq!(
        error("4294967296 2 3 4 6 0 0\n"),
        "bad.trace:1: source address \"4294967296\": expected an IPv4 address as a decimal integer 0..4294967295"
    );
    assert_eq!(
        error("1 2 3 65536 6 0 0\n"),
        "bad.trace:1: destination port \"65536\": expected a port number 0..65535"
    );
    assert_eq!(
        error("1 2 3 4 256 0 0\n"),
        "bad.trace:1: protocol \"256\": expected a protocol number 0..255"
    );
    assert_eq!(
        error("1 2 -3 4 6 0 0\n"),
        "bad.trace:1: source port \"-3\": expected a port number 0..65535"
    );
}

#[test]
fn missing_and_corrupt_files_are_errors() {
    let missing = classbench::read_rules("/nonexistent/rules").unwrap_err();
    assert_eq!(missing.file, "/nonexistent/rules");
    assert_eq!(missing.line, 0);
    assert!(missing.to_string().starts_with("/nonexistent/rules: "));

    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.gz");
    // The gzip magic, then garbage.
    std::fs::write(&corrupt, [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap();
    let err = classbench::read_trace(&corrupt).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: read error", corrupt.display())),
        "{err}"
    );
}

fn gzip(src: &Path, dst: &Path) {
    let data = std::fs::read(src).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(dst).unwrap(),
        flate2::Compression::fast(),
    );
    encoder.write_all(&data).unwrap();
    encoder.finish().unwrap();
}

#[test]
fn gzip_input_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    // A name without .gz: gzip is recognised by its magic bytes.
    let rules_gz = dir.path().join("acl1_1k.compressed");
    let trace_gz = dir.path().join("acl1_1k_trace.gz");
    gzip(&testdata("acl1_1k"), &rules_gz);
    gzip(&testdata("acl1_1k_trace"), &trace_gz);
    assert_eq!(
        classbench::read_rules(&rules_gz).unwrap(),
        classbench::read_rules(testdata("acl1_1k")).unwrap()
    );
    let plain = classbench::load(testdata("acl1_1k"), testdata("acl1_1k_trace")).unwrap();
    let zipped = classbench::load(&rules_gz, &trace_gz).unwrap();
    assert_eq!(plain.queries, zipped.queries);
    assert_eq!(plain.snapshot.groups(), zipped.snapshot.groups());
    assert_eq!(plain.queries.len(), 8780);
    assert_eq!(plain.snapshot.groups()[0].rules.len(), 878);
}

/// Runs shared/baselines/classbench_to_sg.py (the copy in testdata, or the shared one) on
/// acl1_1k and compares its snapshot and flows with ours, rule by rule. Skipped only when
/// python3 is missing.
#[test]
fn identical_to_the_python_converter() {
    let python = std::process::Command::new("python3")
        .arg("--version")
        .output();
    if !python.is_ok_and(|o| o.status.success()) {
        eprintln!("python3 not found: skipping the comparison with classbench_to_sg.py");
        return;
    }
    // The shared script when it is beside the repository (developers' machines, CI), else the
    // copy kept in testdata for fresh clones.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = [
        manifest.join("../shared/baselines/classbench_to_sg.py"),
        PathBuf::from("/work/shared/baselines/classbench_to_sg.py"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .unwrap_or_else(|| testdata("classbench_to_sg.py"));
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("python3")
        .arg(&script)
        .arg(testdata("acl1_1k"))
        .arg(testdata("acl1_1k_trace"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "{} failed", script.display());

    let text = std::fs::read_to_string(dir.path().join("snapshot.json")).unwrap();
    let theirs = Snapshot::from_json_str(&text).unwrap();
    let ours = classbench::load(testdata("acl1_1k"), testdata("acl1_1k_trace")).unwrap();

    assert_eq!(theirs.groups().len(), 1);
    let (a, b) = (&theirs.groups()[0], &ours.snapshot.groups()[0]);
    assert_eq!(a.rules.len(), b.rules.len());
    for (x, y) in a.rules.iter().zip(&b.rules) {
        assert_eq!(x, y, "rule {}", x.id);
    }
    assert_eq!(a, b);
    assert_eq!(theirs.nics(), ours.snapshot.nics());
    assert!(theirs.prefix_lists().is_empty() && theirs.port_lists().is_empty());

    let flows = std::fs::read(dir.path().join("flows.csv")).unwrap();
    let their_queries =
        sgsim::bench::read_flows_csv(&theirs, flows.as_slice(), "flows.csv").unwrap();
    assert_eq!(their_queries.len(), ours.queries.len());
    assert_eq!(their_queries, ours.queries);
}

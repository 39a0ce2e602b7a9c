//! `sgsim reach`, `sgsim search` and `sgsim check --explain` end to end on the shipped example,
//! the HTML page and the SVG graph in headless Chromium (skipped, with a message, where no
//! Chromium is installed; CI installs it), and the matrix on a generated account checked pair by
//! pair against the direct computation.

use serde_json::Value;
use sgsim::analysis::reach::{pair_services, reach, Endpoint, ReachSelection};
use sgsim::model::Family;
use sgsim::{Engine, Snapshot};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::{example, sgsim, sgsim_ok as run_ok};

fn vpc_web() -> String {
    example("vpc-web.json").display().to_string()
}

#[test]
fn reach_text_groups_nics_and_names_services() {
    let out = run_ok(&["reach", &vpc_web()]);
    for line in [
        "5 NIC(s) in 4 class(es); `internet` is every public address",
        "web+ops (1 NIC) -> db (2 NICs): tcp 5432",
        "web (1 NIC) -> vault (1 NIC): tcp 8200",
        "vault (1 NIC) -> internet: tcp 443",
        "web (1 NIC) -> internet: all except tcp 25",
        "internet -> web (1 NIC): tcp 22,443",
        "internet -> web+ops (1 NIC) [IPv6]: tcp 443",
        "  db (2 NICs): eni-db1, eni-db2",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    // The db NICs drop all egress: nothing leaves them.
    assert!(
        !out.lines().any(|l| l.starts_with("db (2 NICs) ->")),
        "{out}"
    );
}

#[test]
fn reach_selectors_narrow_the_edges() {
    let out = run_ok(&["reach", &vpc_web(), "--from", "internet", "--to", "sg-web"]);
    let edges: Vec<&str> = out.lines().filter(|l| l.contains(" -> ")).collect();
    assert_eq!(
        edges,
        [
            "internet -> web+ops (1 NIC): tcp 22,443,8080,9000-9100",
            "internet -> web+ops (1 NIC) [IPv6]: tcp 443",
            "internet -> web (1 NIC): tcp 22,443"
        ],
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.json");
    std::fs::write(
        &bare,
        r#"{"SecurityGroups": [{"SecurityGroupId": "sg-1", "VpcId": "vpc-1"}]}"#,
    )
    .unwrap();
    let no_nics = sgsim(&["reach", bare.to_str().unwrap()]);
    assert_eq!(no_nics.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_nics.stderr)
        .contains("reach is about network interfaces, and the snapshot has none"));
    let bad = sgsim(&["reach", &vpc_web(), "--from", "eni-nope"]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains(
            "--from: selector \"eni-nope\": not a NIC id, a security group id or `internet`"
        ),
        "{err}"
    );
}

#[test]
fn reach_json_has_the_documented_shape() {
    let value: Value = serde_json::from_str(&run_ok(&["reach", &vpc_web(), "--json"])).unwrap();
    assert_eq!(value["schema_version"], 1);
    assert_eq!(
        value["classes"]["db"],
        serde_json::json!(["eni-db1", "eni-db2"])
    );
    let edges = value["edges"].as_array().unwrap();
    let to_db = edges
        .iter()
        .find(|e| e["from"] == "web" && e["to"] == "db")
        .expect("web -> db");
    assert_eq!(to_db["family"], "IPv4");
    assert_eq!(
        to_db["allowed"],
        serde_json::json!([{"protocol": "tcp", "dst_ports": ["5432-5432"], "src_ports": ["0-65535"]}])
    );
    assert_eq!(
        to_db["egress_rules"],
        serde_json::json!(["sg-web/sgr-web-to-db"])
    );
    assert_eq!(
        to_db["ingress_rules"],
        serde_json::json!(["sg-db/sgr-db-pg"])
    );
    // Every edge names real classes and carries at least one service.
    for edge in edges {
        for end in [&edge["from"], &edge["to"]] {
            let id = end.as_str().unwrap();
            assert!(
                id == "internet" || value["classes"].get(id).is_some(),
                "{id}"
            );
        }
        assert!(!edge["allowed"].as_array().unwrap().is_empty());
    }
}

#[test]
fn search_finds_a_witness_or_proves_there_is_none() {
    let ok = sgsim(&[
        "search",
        &vpc_web(),
        "--nic",
        "eni-web2",
        "--direction",
        "ingress",
        "--src",
        "0.0.0.0/0",
        "--protocol",
        "tcp",
        "--dport",
        "22",
        "--verdict",
        "accept",
    ]);
    assert_eq!(ok.status.code(), Some(0));
    let out = String::from_utf8(ok.stdout).unwrap();
    assert!(out.starts_with("ACCEPT tcp "), "{out}");
    assert!(out.contains("witness re-checked with the engine"), "{out}");

    // Nothing from outside 10.0.1.0/24 reaches vault's API: exit 1, and the statement says so.
    let none = sgsim(&[
        "search",
        &vpc_web(),
        "--nic",
        "eni-vault",
        "--direction",
        "ingress",
        "--src",
        "10.0.2.0/24",
        "--verdict",
        "accept",
    ]);
    assert_eq!(none.status.code(), Some(1));
    let out = String::from_utf8(none.stdout).unwrap();
    assert_eq!(
        out,
        "NONE   no IPv4 flow in the space of ingress at eni-vault has verdict accept\n"
    );

    // A connection: web2 to db1 on 5432 is open, and --all lists each part with its deciders.
    let json: Value = serde_json::from_str(&run_ok(&[
        "search",
        &vpc_web(),
        "--from",
        "eni-web2",
        "--to",
        "eni-db1",
        "--verdict",
        "accept",
        "--all",
        "--json",
    ]))
    .unwrap();
    assert_eq!(json["found"], true);
    let regions = json["regions"].as_array().unwrap();
    assert!(!regions.is_empty());
    for region in regions {
        assert_eq!(region["verified"], true);
        assert_eq!(region["sides"][1]["decided_by"], "sg-db/sgr-db-pg");
    }

    let bad = sgsim(&[
        "search",
        &vpc_web(),
        "--nic",
        "eni-web2",
        "--direction",
        "ingress",
        "--dport",
        "9-1",
        "--verdict",
        "accept",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("--dport \"9-1\": expected a port 0..65535 or a range a-b with a <= b"));
}

#[test]
fn check_explain_lists_every_matching_rule_and_why_it_lost() {
    let args = [
        "check",
        &vpc_web(),
        "--nic",
        "eni-web1",
        "--direction",
        "ingress",
        "--protocol",
        "tcp",
        "--src",
        "192.0.2.7",
        "--dport",
        "22",
        "--explain",
    ];
    let out = run_ok(&args);
    assert!(
        out.starts_with("ACCEPT by sg-web/sgr-web-ssh-office"),
        "{out}"
    );
    assert!(out.contains("sg-web/sgr-web-ssh-deny (priority 50, drop tcp 22/22 from 0.0.0.0/0; group 1, rule 4): lost: lower priority (50 after the winner's 5)"), "{out}");
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let value: Value = serde_json::from_str(&run_ok(&json_args)).unwrap();
    let rules = value["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0]["rule_id"], "sgr-web-ssh-office");
    assert_eq!(rules[0]["decides"], true);
    assert_eq!(rules[1]["decides"], false);
    let steps: Vec<&str> = value["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["platform", "inner_access", "rules", "default"]);
}

/// The matrix on a generated account (group references, inner access, IPv6, enterprise groups)
/// equals the direct pair computation for every ordered pair and the internet.
#[test]
fn reach_on_a_generated_account_equals_the_direct_computation() {
    let json = sgsim::bench::account::generate(36, 12, 3);
    let engine = Engine::new(Snapshot::from_json_value(json).unwrap());
    let report = reach(&engine, &ReachSelection::default());
    assert!(report.classes.len() < 36, "some NICs share a class");
    let ends: Vec<Endpoint> = (0..36)
        .map(Endpoint::Nic)
        .chain([Endpoint::Internet])
        .collect();
    let mut allowed = 0;
    for &from in &ends {
        for &to in &ends {
            if from == to {
                continue;
            }
            for family in [Family::V4, Family::V6] {
                let direct = match family {
                    Family::V4 => pair_services::<u32>(&engine, from, to),
                    Family::V6 => pair_services::<u128>(&engine, from, to),
                };
                assert_eq!(
                    report.services(from, to, family),
                    direct,
                    "{from:?} -> {to:?} {family:?}"
                );
                allowed += !direct.is_empty() as usize;
            }
        }
    }
    assert!(allowed > 100, "{allowed}");
}

/// A Chromium binary on PATH, if any.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium with a fresh profile; gives up after a minute.
fn headless(browser: &Path, profile: &Path, args: &[String]) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    // Read while it runs: a DOM larger than the pipe's buffer would otherwise block it.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
        out
    });
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("chromium {args:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap()
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 5_000,
        "{} is no screenshot",
        path.display()
    );
}

#[test]
fn the_html_page_and_the_svg_render_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let html_path = dir.path().join("reach.html");
    let svg_path = dir.path().join("reach.svg");
    std::fs::write(&html_path, run_ok(&["reach", &vpc_web(), "--html"])).unwrap();
    let svg = run_ok(&["reach", &vpc_web(), "--svg"]);
    std::fs::write(&svg_path, &svg).unwrap();

    // The SVG is well-formed XML with a node per class and the internet.
    let document = roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
    let nodes = document
        .descendants()
        .filter(|n| n.attribute("class") == Some("node"))
        .count();
    assert_eq!(nodes, 5);

    let Some(browser) = chromium() else {
        println!("SKIPPED: no chromium on PATH; install it (apt-get install -y chromium) to render the HTML and SVG");
        return;
    };
    let url = |p: &Path| format!("file://{}", p.display());
    let dom = headless(
        &browser,
        &dir.path().join("p1"),
        &["--dump-dom".into(), url(&html_path)],
    );
    assert!(
        dom.contains("data-selftest=\"ok\""),
        "the page's self-test did not pass:\n{}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("<title>sgsim reach: self-test ok</title>"));
    let shot = dir.path().join("reach.png");
    headless(
        &browser,
        &dir.path().join("p2"),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000".into(),
            url(&html_path),
        ],
    );
    assert_png(&shot);
    let svg_shot = dir.path().join("svg.png");
    headless(
        &browser,
        &dir.path().join("p3"),
        &[
            format!("--screenshot={}", svg_shot.display()),
            "--window-size=900,900".into(),
            url(&svg_path),
        ],
    );
    assert_png(&svg_shot);
    let svg_dom = headless(
        &browser,
        &dir.path().join("p4"),
        &["--dump-dom".into(), url(&svg_path)],
    );
    assert!(
        !svg_dom.contains("parsererror"),
        "chromium could not parse the SVG"
    );
}

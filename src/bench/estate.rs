//! Whole accounts ("estates"), generated from a fixed seed: thousands of NICs, thousands of
//! basic groups, and rules that reference a few popular groups — the shape that costs most
//! when every NIC is compiled on its own.
//!
//! Shape ([`EstateShape`]):
//! - `groups` groups of `rules_per_group` rules each; the first `popular_groups` are the
//!   popular ones (think "k8s-nodes"); the last 3 % of the others are enterprise groups, the
//!   rest basic, about 30 % of those giving inner access (`InnerAccessPolicy` Accept).
//! - Each NIC carries 1–4 basic groups (one popular, the rest drawn from the others), or (3 %)
//!   1–3 enterprise groups; NICs either share `group_sets` distinct sets, or each draws its
//!   own distinct set (2–4 groups).
//!   Every NIC has a private IPv4 address in 10.0.16.0/12 and every tenth an IPv6 address.
//! - Rules: 75 % ingress, 15 % drop, priorities 1..100; TCP, UDP, ICMP, ALL; a share
//!   `group_ref_share` references one of the popular groups, the rest name CIDRs (private,
//!   public, the whole internet for a service port, ~8 % IPv6).
//!
//! Flows pick a NIC uniformly and a remote end from the NIC's popular group (so group
//! references and inner access decide), a private or a public address, on common service ports.
//!
//! ```
//! use sgsim::bench::estate::{generate, EstateShape};
//! let shape = EstateShape { nics: 200, groups: 40, rules_per_group: 5, popular_groups: 4, ..EstateShape::default() };
//! let estate = generate(&shape, 1000);
//! assert_eq!(estate.snapshot.nics().len(), 200);
//! assert_eq!(sgsim::bench::rule_count(&estate.snapshot), 200);
//! assert_eq!(estate.queries.len(), 1000);
//! ```

use super::synth::client_and_service_ports;
use crate::model::{
    proto, Action, DestPorts, Direction, Flow, GroupIndex, GroupKind, InnerAccessPolicy, Nic,
    PortRange, Protocol, RemoteObject, Rule, SecurityGroup, Snapshot, Target,
};
use crate::rng::Rng;
use crate::Query;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The size and mix of a generated account.
#[derive(Clone, Debug, PartialEq)]
pub struct EstateShape {
    /// Network interfaces.
    pub nics: usize,
    /// Security groups.
    pub groups: usize,
    /// Rules in each group.
    pub rules_per_group: usize,
    /// Share of rules whose remote side is one of the popular groups.
    pub group_ref_share: f64,
    /// How many groups are popular (each NIC carries one of them).
    pub popular_groups: usize,
    /// `Some(k)`: the NICs share `k` distinct group sets; `None`: every NIC its own set.
    pub group_sets: Option<usize>,
    /// The seed: the same shape and seed give the same account.
    pub seed: u64,
}

impl Default for EstateShape {
    /// The account of issue 15: 20,000 NICs, 2,000 groups of 40 rules, 25 % of rules
    /// referencing one of 100 popular groups, 300 group sets.
    fn default() -> Self {
        EstateShape {
            nics: 20_000,
            groups: 2_000,
            rules_per_group: 40,
            group_ref_share: 0.25,
            popular_groups: 100,
            group_sets: Some(300),
            seed: 1,
        }
    }
}

impl EstateShape {
    /// Why this shape cannot be generated, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.nics == 0 || self.groups == 0 {
            return Err("an estate needs at least one NIC and one group".to_string());
        }
        if self.popular_groups == 0 || self.popular_groups > self.groups {
            return Err(format!(
                "popular groups {}: expected 1 up to the number of groups ({})",
                self.popular_groups, self.groups
            ));
        }
        if !(0.0..=1.0).contains(&self.group_ref_share) {
            return Err(format!(
                "group reference share {}: expected a number from 0 to 1",
                self.group_ref_share
            ));
        }
        if self.nics > (1 << 20) {
            return Err(format!(
                "{} NICs: at most {} fit the generator's address plan",
                self.nics,
                1 << 20
            ));
        }
        if self.group_sets == Some(0) {
            return Err("group sets 0: expected at least 1".to_string());
        }
        if self.group_sets.is_none() && self.groups == self.popular_groups {
            return Err(
                "every NIC its own group set needs groups besides the popular ones".to_string(),
            );
        }
        Ok(())
    }
}

/// A generated account and flows on it.
#[derive(Clone, Debug)]
pub struct Estate {
    /// The account.
    pub snapshot: Snapshot,
    /// Flows on its NICs, in both directions.
    pub queries: Vec<Query>,
}

const SERVICE_PORTS: [u16; 13] = [
    22, 80, 443, 3306, 5432, 6379, 8080, 9000, 9090, 9100, 3389, 53, 25,
];

/// The NIC's IPv4 address: 10.0.16.0 + index (the first 4096 addresses stay free).
fn nic_v4(index: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 16, 0)) + index as u32)
}

fn nic_v6(index: usize) -> Ipv6Addr {
    Ipv6Addr::from(0xfd00_0000_0000_0000_0000_0000_0000_0000u128 | (index as u128 + 1))
}

fn group_id(index: usize, popular: usize) -> String {
    if index < popular {
        format!("sg-popular-{index:04}")
    } else {
        format!("sg-app-{index:05}")
    }
}

/// Generates the account of `shape` and `flows` flows on it. The same arguments always give
/// the same estate.
///
/// # Panics
/// When `shape.check()` fails.
pub fn generate(shape: &EstateShape, flows: usize) -> Estate {
    if let Err(why) = shape.check() {
        panic!("{why}");
    }
    let mut rng = Rng::new(shape.seed);
    let groups: Vec<SecurityGroup> = (0..shape.groups)
        .map(|g| random_group(&mut rng, shape, g))
        .collect();

    let enterprise = enterprise_groups(shape);
    let others = enterprise.start - shape.popular_groups;
    // A NIC's groups are all basic or all enterprise (the API refuses a mix).
    let draw_set = |rng: &mut Rng, min_others: usize| -> Vec<GroupIndex> {
        if !enterprise.is_empty() && rng.chance(0.03) {
            let count = rng.range(1, 3).min(enterprise.len() as u64) as usize;
            let mut set = Vec::new();
            while set.len() < count {
                let g =
                    (enterprise.start as u64 + rng.below(enterprise.len() as u64)) as GroupIndex;
                if !set.contains(&g) {
                    set.push(g);
                }
            }
            return set;
        }
        let mut set = vec![rng.below(shape.popular_groups as u64) as GroupIndex];
        let extra = if others == 0 {
            0
        } else {
            rng.range(min_others as u64, 3).min(others as u64) as usize
        };
        while set.len() < 1 + extra {
            let g = (shape.popular_groups as u64 + rng.below(others as u64)) as GroupIndex;
            if !set.contains(&g) {
                set.push(g);
            }
        }
        set
    };
    let nic_sets: Vec<Vec<GroupIndex>> = match shape.group_sets {
        Some(k) => {
            let sets: Vec<Vec<GroupIndex>> = (0..k).map(|_| draw_set(&mut rng, 0)).collect();
            (0..shape.nics)
                .map(|i| {
                    let pick = if i < k {
                        i
                    } else {
                        rng.below(k as u64) as usize
                    };
                    sets[pick].clone()
                })
                .collect()
        }
        None => {
            // Distinct sets; a shape too small for that (few groups) repeats some after many
            // tries rather than looping forever.
            let mut seen = HashSet::new();
            (0..shape.nics)
                .map(|_| {
                    let mut set = draw_set(&mut rng, 1);
                    for _ in 0..1000 {
                        let mut key = set.clone();
                        key.sort_unstable();
                        if seen.insert(key) {
                            break;
                        }
                        set = draw_set(&mut rng, 1);
                    }
                    set
                })
                .collect()
        }
    };
    let nics: Vec<Nic> = nic_sets
        .into_iter()
        .enumerate()
        .map(|(i, groups)| {
            let mut addresses = vec![IpAddr::V4(nic_v4(i))];
            if i % 10 == 0 {
                addresses.push(IpAddr::V6(nic_v6(i)));
            }
            Nic {
                id: format!("eni-{i:06}"),
                instance_id: format!("i-{i:06}"),
                vpc_id: "vpc-estate".to_string(),
                addresses,
                groups,
                extra: Default::default(),
            }
        })
        .collect();
    let snapshot = Snapshot::new(groups, nics, Vec::new(), Vec::new());
    let queries = (0..flows)
        .map(|_| random_query(&mut rng, &snapshot, shape))
        .collect();
    Estate { snapshot, queries }
}

/// The enterprise groups: the last 3 % (none when fewer than 20 groups are not popular).
fn enterprise_groups(shape: &EstateShape) -> std::ops::Range<usize> {
    let others = shape.groups - shape.popular_groups;
    let count = if others >= 20 {
        (others * 3 / 100).max(1)
    } else {
        0
    };
    shape.groups - count..shape.groups
}

fn random_group(rng: &mut Rng, shape: &EstateShape, g: usize) -> SecurityGroup {
    let id = group_id(g, shape.popular_groups);
    let kind = if enterprise_groups(shape).contains(&g) {
        GroupKind::Enterprise
    } else {
        GroupKind::Normal
    };
    let inner_access = if kind == GroupKind::Normal && rng.chance(0.3) {
        InnerAccessPolicy::Accept
    } else {
        InnerAccessPolicy::Drop
    };
    let rules = (0..shape.rules_per_group)
        .map(|r| random_rule(rng, shape, format!("sgr-{g:05}-{r:03}")))
        .collect();
    SecurityGroup {
        id,
        name: String::new(),
        kind,
        vpc_id: "vpc-estate".to_string(),
        inner_access,
        rules,
        description: String::new(),
        region_id: "cn-hangzhou".to_string(),
        extra: Default::default(),
    }
}

fn random_rule(rng: &mut Rng, shape: &EstateShape, id: String) -> Rule {
    let direction = rng.either(0.75, Direction::Ingress, Direction::Egress);
    let action = rng.either(0.15, Action::Drop, Action::Accept);
    let priority = rng.range(1, 100) as u8;
    let mut protocol = match rng.below(10) {
        0..=5 => Protocol::Number(proto::TCP),
        6..=7 => Protocol::Number(proto::UDP),
        8 => Protocol::Number(proto::ICMP),
        _ => Protocol::All,
    };
    let remote = if rng.chance(shape.group_ref_share) {
        let g = rng.below(shape.popular_groups as u64) as usize;
        RemoteObject::Group(group_id(g, shape.popular_groups))
    } else {
        let net = match rng.below(100) {
            0..=9 => IpNet::V4(Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0).expect("valid")),
            10..=49 => {
                let len = rng.range(12, 28) as u8;
                let addr = u32::from(nic_v4(rng.below(shape.nics as u64) as usize));
                IpNet::V4(
                    Ipv4Net::new(Ipv4Addr::from(addr), len)
                        .expect("valid")
                        .trunc(),
                )
            }
            50..=91 => {
                let len = rng.range(16, 32) as u8;
                let addr = (rng.next_u64() as u32 % 0xdf00_0000) | 0x0100_0000;
                IpNet::V4(
                    Ipv4Net::new(Ipv4Addr::from(addr), len)
                        .expect("valid")
                        .trunc(),
                )
            }
            92..=95 => IpNet::V6(Ipv6Net::new(Ipv6Addr::UNSPECIFIED, 0).expect("valid")),
            _ => IpNet::V6(Ipv6Net::new(Ipv6Addr::from(0xfd00u128 << 112), 64).expect("valid")),
        };
        if net.addr().is_ipv6() && protocol == Protocol::Number(proto::ICMP) {
            protocol = Protocol::Number(proto::ICMPV6);
        }
        // The whole internet is opened for a service, not for everything.
        if net.prefix_len() == 0 && !protocol.has_ports() {
            protocol = Protocol::Number(proto::TCP);
        }
        RemoteObject::Cidr(net)
    };
    let dest_ports = if protocol.has_ports() {
        if rng.chance(0.7) {
            let port = *rng.pick(&SERVICE_PORTS);
            DestPorts::Range(PortRange { lo: port, hi: port })
        } else {
            let lo = rng.range(1, 40_000) as u16;
            DestPorts::Range(PortRange {
                lo,
                hi: lo.saturating_add(rng.range(0, 2_000) as u16),
            })
        }
    } else {
        DestPorts::Any
    };
    Rule::new(direction, action, protocol, remote)
        .with_id(id)
        .with_priority(priority)
        .with_ports(dest_ports, None)
}

fn random_query(rng: &mut Rng, snapshot: &Snapshot, shape: &EstateShape) -> Query {
    let nic_index = rng.below(snapshot.nics().len() as u64) as u32;
    let nic = snapshot.nic(nic_index);
    let direction = rng.either(0.7, Direction::Ingress, Direction::Egress);
    let v6 = nic.addresses.len() > 1 && rng.chance(0.3);
    let local = nic.addresses[usize::from(v6)];
    let remote = match rng.below(10) {
        // A member of a popular group: group references and inner access decide these.
        0..=4 => {
            let popular = rng.below(shape.popular_groups as u64) as usize;
            let members = snapshot.group_member_addresses(&group_id(popular, shape.popular_groups));
            let same_family: Vec<&IpAddr> = members.iter().filter(|a| a.is_ipv6() == v6).collect();
            match same_family.is_empty() {
                false => *same_family[rng.below(same_family.len() as u64) as usize],
                true => random_remote(rng, v6, shape),
            }
        }
        _ => random_remote(rng, v6, shape),
    };
    let protocol = match rng.below(10) {
        0..=6 => proto::TCP,
        7..=8 => proto::UDP,
        _ if v6 => proto::ICMPV6,
        _ => proto::ICMP,
    };
    let (src_port, dst_port) = client_and_service_ports(rng, protocol, |rng| {
        if rng.chance(0.8) {
            *rng.pick(&SERVICE_PORTS)
        } else {
            rng.range(1, 65535) as u16
        }
    });
    Query {
        target: Target::Nic(nic_index),
        flow: Flow::between(direction, protocol, remote, local, src_port, dst_port),
    }
}

fn random_remote(rng: &mut Rng, v6: bool, shape: &EstateShape) -> IpAddr {
    match (v6, rng.chance(0.5)) {
        (false, true) => IpAddr::V4(nic_v4(rng.below(shape.nics as u64 + 4096) as usize)),
        (false, false) => IpAddr::V4(Ipv4Addr::from(
            (rng.next_u64() as u32 % 0xdf00_0000) | 0x0100_0000,
        )),
        (true, true) => IpAddr::V6(nic_v6(rng.below(shape.nics as u64) as usize)),
        (true, false) => IpAddr::V6(Ipv6Addr::from(
            0x2408_0000u128 << 96 | rng.next_u64() as u128,
        )),
    }
}

/// The flows as the CSV that `sgsim eval` reads.
pub fn flows_csv(snapshot: &Snapshot, queries: &[Query]) -> String {
    let mut out = String::from("nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port\n");
    for query in queries {
        let flow = &query.flow;
        let protocol = crate::model::protocol_name(flow.protocol)
            .map(str::to_string)
            .unwrap_or_else(|| flow.protocol.to_string());
        let ported = matches!(flow.protocol, proto::TCP | proto::UDP);
        let port = |p: u16| if ported { p.to_string() } else { String::new() };
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            snapshot.target_id(query.target),
            flow.direction.as_str(),
            protocol,
            flow.src,
            port(flow.src_port),
            flow.dst,
            port(flow.dst_port)
        ));
    }
    out
}

/// What [`measure`] does besides the engine: where to keep the files, whether to audit.
#[derive(Clone, Debug)]
pub struct EstateSettings {
    /// The account to generate.
    pub shape: EstateShape,
    /// Flows to generate and evaluate.
    pub flows: usize,
    /// Keep `snapshot.json` and `flows.csv` here (else the snapshot goes to a temporary file
    /// that is removed afterwards).
    pub write: Option<std::path::PathBuf>,
    /// Also time `audit` over the whole account.
    pub audit: bool,
    /// Threads of the bulk pass.
    pub threads: usize,
}

/// One measured estate. Times in seconds unless named otherwise.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EstateRow {
    /// Network interfaces.
    pub nics: usize,
    /// Security groups.
    pub groups: usize,
    /// Rules in all groups.
    pub rules: usize,
    /// Distinct lists of groups carried by the NICs.
    pub group_sets: usize,
    /// Size of the written snapshot JSON.
    pub snapshot_bytes: usize,
    /// `python3 -c 'import json,sys; json.load(open(sys.argv[1]))' FILE`, process included;
    /// `None` when python3 could not be run.
    pub python_json_load_s: Option<f64>,
    /// Reading and loading the snapshot file (what every command does first).
    pub load_s: f64,
    /// Planning an interactive engine (what `check` builds before its question).
    pub plan_s: f64,
    /// The first `check` on that engine, then the mean of `check_flows` more.
    pub check_first_ms: f64,
    /// Mean of the later checks, in microseconds.
    pub check_mean_us: f64,
    /// How many checks the mean is of.
    pub check_flows: usize,
    /// A bulk engine's first pass over the flows, group lists compiled as they become due.
    pub bulk_flows: usize,
    /// Threads of the bulk pass.
    pub bulk_threads: usize,
    /// Time of the pass, building tables included.
    pub bulk_first_pass_s: f64,
    /// `bulk_flows` over `bulk_first_pass_s`.
    pub bulk_flows_per_sec: f64,
    /// Distinct group lists with tables after the pass.
    pub bulk_built_sets: usize,
    /// Flows checked against the reference evaluator (all of the single checks and a sample
    /// of the bulk pass) before any figure was reported.
    pub verified_flows: usize,
    /// Time of `audit` over the whole account, when asked for.
    pub audit_s: Option<f64>,
    /// Size of that audit's JSON report.
    pub audit_json_bytes: Option<usize>,
    /// The process's peak resident memory (VmHWM) at the end, generator included.
    pub peak_rss_bytes: Option<u64>,
    /// The processor the figures were measured on ([`super::processor_model`]).
    pub processor: String,
}

/// The peak resident memory of this process, from `/proc/self/status` (Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Generates the estate, writes it, and measures loading, one question, a bulk pass and
/// (optionally) an audit; every verdict timed is checked against the reference evaluator
/// first (all single checks, a sample of the bulk pass).
pub fn measure(
    settings: &EstateSettings,
    progress: &mut dyn super::Progress,
) -> Result<EstateRow, String> {
    use std::time::Instant;
    let shape = &settings.shape;
    shape.check()?;
    progress.note(&format!(
        "estate: generating {} NICs, {} groups x {} rules, {} flows",
        shape.nics, shape.groups, shape.rules_per_group, settings.flows
    ));
    let estate = generate(shape, settings.flows);
    let text = crate::input::ecs::write::snapshot_to_string(&estate.snapshot);
    let (dir, temporary) = match &settings.write {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            (dir.clone(), false)
        }
        None => (std::env::temp_dir(), true),
    };
    let file_name = if temporary {
        format!("sgsim-estate-{}.json", std::process::id())
    } else {
        "snapshot.json".to_string()
    };
    let path = dir.join(file_name);
    std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    if !temporary {
        let csv_path = dir.join("flows.csv");
        std::fs::write(&csv_path, flows_csv(&estate.snapshot, &estate.queries))
            .map_err(|e| format!("{}: {e}", csv_path.display()))?;
        progress.note(&format!(
            "wrote {} and {}",
            path.display(),
            csv_path.display()
        ));
    }
    let snapshot_bytes = text.len();
    let group_sets = {
        let sets: HashSet<&[GroupIndex]> = estate
            .snapshot
            .nics()
            .iter()
            .map(|n| n.groups.as_slice())
            .collect();
        sets.len()
    };
    let rules = super::rule_count(&estate.snapshot);
    let queries = estate.queries;
    drop(text);
    drop(estate.snapshot);

    progress.note("estate: python3 json.load of the same file");
    let python_json_load_s = {
        let start = Instant::now();
        std::process::Command::new("python3")
            .args(["-c", "import json,sys; json.load(open(sys.argv[1]))"])
            .arg(&path)
            .status()
            .ok()
            .filter(|status| status.success())
            .map(|_| start.elapsed().as_secs_f64())
    };

    progress.note("estate: loading the snapshot");
    let start = Instant::now();
    let loaded = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e}", path.display()))
        .and_then(|text| {
            Snapshot::from_json_str(&text).map_err(|e| format!("{}: {e}", path.display()))
        });
    let load_s = start.elapsed().as_secs_f64();
    if temporary {
        let _ = std::fs::remove_file(&path);
    }
    let snapshot = loaded?;

    let start = Instant::now();
    let engine = crate::Engine::new(snapshot);
    let plan_s = start.elapsed().as_secs_f64();
    let check_flows = queries.len().min(1000);
    let mut verified_flows = 0;
    let mut check_one = |query: &Query| -> Result<(crate::model::Verdict, f64), String> {
        let start = Instant::now();
        let verdict = engine.check(query.target, &query.flow);
        let seconds = start.elapsed().as_secs_f64();
        let reference = engine.check_reference(query.target, &query.flow);
        if verdict != reference {
            return Err(format!(
                "verification failed: {} at {}: reference {reference:?}, engine {verdict:?}",
                query.flow,
                engine.snapshot().target_id(query.target)
            ));
        }
        verified_flows += 1;
        Ok((verdict, seconds))
    };
    let check_first_ms = match queries.first() {
        Some(query) => check_one(query)?.1 * 1000.0,
        None => 0.0,
    };
    let mut check_total = 0.0;
    for query in queries.iter().skip(1).take(check_flows) {
        check_total += check_one(query)?.1;
    }
    let check_mean_us = check_total * 1e6 / check_flows.max(1) as f64;

    progress.note(&format!(
        "estate: bulk pass over {} flows on {} threads",
        queries.len(),
        settings.threads
    ));
    let bulk = crate::Engine::builder(engine.snapshot().clone())
        .options(*engine.options())
        .bulk()
        .build();
    let executor = super::Executor::new(settings.threads)?;
    let mut out = super::verdict_buffer(queries.len());
    let start = Instant::now();
    executor.run(&bulk, &queries, &mut out);
    let bulk_first_pass_s = start.elapsed().as_secs_f64();
    let sample = super::verification_sample(rules, queries.len(), super::SAMPLE_SEED);
    let verification = super::verify(&bulk, &queries, &out, &sample, &executor)
        .map_err(|err| format!("verification failed: {err}"))?;
    verified_flows += verification.checked;
    let bulk_built_sets = bulk.built_rule_sets().0;
    drop(bulk);

    let (audit_s, audit_json_bytes) = if settings.audit {
        progress.note("estate: audit of the account");
        let start = Instant::now();
        let report = crate::analysis::audit::audit_account(&engine, &Default::default());
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        (Some(start.elapsed().as_secs_f64()), Some(json.len()))
    } else {
        (None, None)
    };
    Ok(EstateRow {
        nics: shape.nics,
        groups: shape.groups,
        rules,
        group_sets,
        snapshot_bytes,
        python_json_load_s,
        load_s,
        plan_s,
        check_first_ms,
        check_mean_us,
        check_flows,
        bulk_flows: queries.len(),
        bulk_threads: settings.threads,
        bulk_first_pass_s,
        bulk_flows_per_sec: queries.len() as f64 / bulk_first_pass_s.max(1e-9),
        bulk_built_sets,
        verified_flows,
        audit_s,
        audit_json_bytes,
        peak_rss_bytes: peak_rss_bytes(),
        processor: super::processor_model(),
    })
}

/// A log-log SVG chart of an estate sweep: the time of each step and peak memory against the
/// number of NICs.
pub fn estate_svg(rows: &[EstateRow]) -> String {
    let points = |f: &dyn Fn(&EstateRow) -> Option<f64>| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|r| Some((r.nics as f64, f(r)?)))
            .filter(|&(x, y)| x > 0.0 && y > 0.0 && y.is_finite())
            .collect()
    };
    let series: Vec<super::Series> = vec![
        (
            "python3 json.load (s)".to_string(),
            "#7f7f7f",
            false,
            points(&|r| r.python_json_load_s),
        ),
        (
            "load (s)".to_string(),
            "#1f77b4",
            false,
            points(&|r| Some(r.load_s)),
        ),
        (
            "plan + first check (s)".to_string(),
            "#2ca02c",
            false,
            points(&|r| Some(r.plan_s + r.check_first_ms / 1000.0)),
        ),
        (
            "bulk first pass (s)".to_string(),
            "#ff7f0e",
            false,
            points(&|r| Some(r.bulk_first_pass_s)),
        ),
        (
            "audit (s)".to_string(),
            "#d62728",
            false,
            points(&|r| r.audit_s),
        ),
        (
            "peak memory (bytes, right axis)".to_string(),
            "#9467bd",
            true,
            points(&|r| r.peak_rss_bytes.map(|b| b as f64)),
        ),
    ];
    super::log_log_svg(
        &format!(
            "sgsim bench --estate: seconds and peak memory vs. NICs (log-log), {}",
            rows.first()
                .map_or_else(super::processor_model, |r| r.processor.clone())
        ),
        "NICs",
        ("seconds", "peak memory (bytes)"),
        &series,
    )
}

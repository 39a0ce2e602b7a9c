//! The answers `sgsim check` gives — one flow on one target, or a connection between two NICs
//! (S15) — with their text and JSON, for every front end (the command line and the Python
//! package) to share.
//!
//! A TCP or UDP question may leave the source port open: the answer then covers every source
//! port, as one verdict when all agree, else one per range of ports ([`by_source_port`]), so
//! nobody is silently told about port 0.

use super::open_port::{by_source_port, SourcePortRange};
use crate::eval::explain::{explanation, verdict_line};
use crate::model::{protocol_label, Action, Direction, Flow, NicIndex, Protocol, Target, Verdict};
use crate::{ConnectionVerdict, Engine};
use serde_json::{json, Value};

/// The JSON `schema_version` of check's output (docs/json.md).
pub const SCHEMA_VERSION: u32 = 1;

/// Whether a question that gave no source port is left open: only TCP and UDP have ports (S2).
pub fn source_port_open(sport_given: bool, protocol: u8) -> bool {
    !sport_given && matches!(protocol, 6 | 17)
}

/// The verdicts on one flow at one target: one range for a given source port, else every range
/// of source ports with its own verdict.
#[derive(Clone, Debug)]
pub struct CheckAnswer {
    /// The NIC or group asked about.
    pub target: Target,
    /// The flow asked about (its `src_port` is meaningless when `sport_open`).
    pub flow: Flow,
    /// The source port was left open (see [`source_port_open`]).
    pub sport_open: bool,
    /// In port order, neighbours with equal verdicts merged; never empty.
    pub ranges: Vec<SourcePortRange>,
}

/// Answers `flow` at `target`, for every source port when `sport_open`.
pub fn check(engine: &Engine, target: Target, flow: &Flow, sport_open: bool) -> CheckAnswer {
    let ranges = if sport_open {
        by_source_port(engine, target, flow)
    } else {
        vec![SourcePortRange {
            from: flow.src_port,
            to: flow.src_port,
            verdict: engine.check(target, flow),
        }]
    };
    CheckAnswer {
        target,
        flow: *flow,
        sport_open,
        ranges,
    }
}

impl CheckAnswer {
    /// The verdict when every source port asked about gets the same one, else `None`
    /// ("depends").
    pub fn single(&self) -> Option<&Verdict> {
        match self.ranges.as_slice() {
            [only] => Some(&only.verdict),
            _ => None,
        }
    }

    /// Accepted for every source port asked about.
    pub fn accepted(&self) -> bool {
        self.ranges.iter().all(|r| r.verdict.is_accept())
    }

    /// The flow as `sgsim check` shows it, `:any` for an open source port.
    pub fn flow_text(&self) -> String {
        flow_text(&self.flow, self.sport_open)
    }

    /// The text `sgsim check` prints.
    pub fn text(&self, engine: &Engine) -> String {
        let (target, flow) = (self.target, &self.flow);
        let where_ = engine.snapshot().target_id(target);
        let flow_line = format!("  flow: {} on {where_}\n", self.flow_text());
        match self.ranges.as_slice() {
            [only] => {
                let line = verdict_line(engine, target, flow, &only.verdict);
                let every = if self.sport_open {
                    "  for every source port (--sport not given)\n"
                } else {
                    ""
                };
                format!("{line}\n{every}{flow_line}")
            }
            ranges => {
                let mut out = "DEPENDS on the source port (--sport not given):\n".to_string();
                for r in ranges {
                    out += &format!(
                        "  {:<12} {}\n",
                        port_span(r.from, r.to),
                        verdict_line(engine, target, &at_port(flow, r.from), &r.verdict)
                    );
                }
                out + &flow_line
            }
        }
    }

    /// The JSON `sgsim check --json` prints (docs/json.md).
    pub fn json(&self, engine: &Engine) -> Value {
        let (target, flow) = (self.target, &self.flow);
        let mut out = match self.ranges.as_slice() {
            [only] => verdict_json(engine, target, flow, &only.verdict),
            _ => json!({
                "target": engine.snapshot().target_id(target),
                "flow": flow_json(flow),
                "verdict": "depends",
                "reason": Value::Null,
                "security_group_id": Value::Null,
                "rule_id": Value::Null,
                "explanation": "the verdict depends on the source port: see source_ports",
            }),
        };
        if self.sport_open {
            out["flow"]["src_port"] = Value::Null;
            out["source_ports"] = self
                .ranges
                .iter()
                .map(|r| {
                    let mut range =
                        verdict_json(engine, target, &at_port(flow, r.from), &r.verdict);
                    let range_map = range.as_object_mut().expect("verdict_json is an object");
                    range_map.remove("target");
                    range_map.remove("flow");
                    let mut entry = json!({"from": r.from, "to": r.to});
                    entry.as_object_mut().expect("an object").append(range_map);
                    entry
                })
                .collect();
        }
        with_schema_version(out)
    }
}

/// Source ports `from..=to` and the two-NIC verdict every one of them gets.
#[derive(Clone, Debug)]
pub struct ConnectionRange {
    /// First source port, inclusive.
    pub from: u16,
    /// Last source port, inclusive.
    pub to: u16,
    /// The verdict of every port in the range (computed at `from`).
    pub verdict: ConnectionVerdict,
}

/// The two-NIC answer (S15): the connection leaves `ends.0` (its egress rules) and enters
/// `ends.1` (its ingress rules).
#[derive(Clone, Debug)]
pub struct ConnectionAnswer {
    /// The source NIC and the destination NIC.
    pub ends: (NicIndex, NicIndex),
    /// The flow asked about; its direction is not used.
    pub flow: Flow,
    /// The source port was left open (see [`source_port_open`]).
    pub sport_open: bool,
    /// In port order, neighbours with equal verdicts merged; never empty.
    pub ranges: Vec<ConnectionRange>,
}

/// Answers the connection `from` → `to`, for every source port when `sport_open`: the ranges
/// are the union of both sides' ranges, neighbours with the same verdicts merged.
pub fn check_connection(
    engine: &Engine,
    from: NicIndex,
    to: NicIndex,
    flow: &Flow,
    sport_open: bool,
) -> ConnectionAnswer {
    let mut ranges: Vec<ConnectionRange> = Vec::new();
    if !sport_open {
        ranges.push(ConnectionRange {
            from: flow.src_port,
            to: flow.src_port,
            verdict: engine.check_connection(from, to, flow),
        });
    } else {
        let side = |nic: NicIndex, direction: Direction| {
            by_source_port(engine, Target::Nic(nic), &Flow { direction, ..*flow })
        };
        let mut starts: Vec<u16> = side(from, Direction::Egress)
            .into_iter()
            .chain(side(to, Direction::Ingress))
            .map(|r| r.from)
            .collect();
        starts.sort_unstable();
        starts.dedup();
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map_or(u16::MAX, |next| next - 1);
            let verdict = engine.check_connection(from, to, &at_port(flow, start));
            match ranges.last_mut() {
                Some(last) if last.verdict == verdict => last.to = end,
                _ => ranges.push(ConnectionRange {
                    from: start,
                    to: end,
                    verdict,
                }),
            }
        }
    }
    ConnectionAnswer {
        ends: (from, to),
        flow: *flow,
        sport_open,
        ranges,
    }
}

impl ConnectionAnswer {
    /// The verdict when every source port asked about gets the same one, else `None`.
    pub fn single(&self) -> Option<&ConnectionVerdict> {
        match self.ranges.as_slice() {
            [only] => Some(&only.verdict),
            _ => None,
        }
    }

    /// Accepted (both sides) for every source port asked about.
    pub fn accepted(&self) -> bool {
        self.ranges
            .iter()
            .all(|r| r.verdict.action() == Action::Accept)
    }

    /// The flow as `sgsim check --from --to` shows it (no direction), `:any` for an open source
    /// port.
    pub fn flow_text(&self) -> String {
        let egress = Flow {
            direction: Direction::Egress,
            ..self.flow
        };
        flow_text(&egress, self.sport_open)
            .trim_start_matches("egress ")
            .to_string()
    }

    /// The flow as one side sees it, at source port `port`.
    fn side_flow(&self, direction: Direction, port: u16) -> Flow {
        Flow {
            direction,
            src_port: port,
            ..self.flow
        }
    }

    /// The text `sgsim check --from --to` prints: the overall verdict, then each side's
    /// verdict line, egress first, then the flow.
    pub fn text(&self, engine: &Engine) -> String {
        let snapshot = engine.snapshot();
        let (from, to) = self.ends;
        let side = |indent: &str, nic: NicIndex, direction: Direction, v: &Verdict, port: u16| {
            format!(
                "{indent}{:<7} {}: {}\n",
                direction.as_str(),
                snapshot.nic(nic).id,
                verdict_line(
                    engine,
                    Target::Nic(nic),
                    &self.side_flow(direction, port),
                    v
                )
            )
        };
        let (from_id, to_id) = (&snapshot.nic(from).id, &snapshot.nic(to).id);
        let mut out = String::new();
        match self.ranges.as_slice() {
            [only] => {
                let word = only.verdict.action().as_str().to_uppercase();
                out += &format!("{word:<6} connection {from_id} -> {to_id}\n");
                out += &side(
                    "  ",
                    from,
                    Direction::Egress,
                    &only.verdict.egress,
                    only.from,
                );
                out += &side(
                    "  ",
                    to,
                    Direction::Ingress,
                    &only.verdict.ingress,
                    only.from,
                );
                if self.sport_open {
                    out += "  for every source port (--sport not given)\n";
                }
            }
            ranges => {
                out += &format!(
                    "DEPENDS connection {from_id} -> {to_id} on the source port (--sport not given):\n"
                );
                for r in ranges {
                    let word = r.verdict.action().as_str().to_uppercase();
                    out += &format!("  {:<12} {word}\n", port_span(r.from, r.to));
                    out += &side("    ", from, Direction::Egress, &r.verdict.egress, r.from);
                    out += &side("    ", to, Direction::Ingress, &r.verdict.ingress, r.from);
                }
            }
        }
        out + &format!("  flow: {}\n", self.flow_text())
    }

    /// The JSON `sgsim check --from --to --json` prints (docs/json.md).
    pub fn json(&self, engine: &Engine) -> Value {
        let one = |r: &ConnectionRange| {
            let side = |nic: NicIndex, direction: Direction, v: &Verdict| {
                let at = self.side_flow(direction, r.from);
                let mut value = verdict_json(engine, Target::Nic(nic), &at, v);
                if self.sport_open {
                    value["flow"]["src_port"] = Value::Null;
                }
                value
            };
            json!({
                "verdict": r.verdict.action().as_str(),
                "blocked_by": r.verdict.blocking_sides().iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
                "egress": side(self.ends.0, Direction::Egress, &r.verdict.egress),
                "ingress": side(self.ends.1, Direction::Ingress, &r.verdict.ingress),
            })
        };
        let mut out = match self.ranges.as_slice() {
            [only] => one(only),
            _ => json!({
                "verdict": "depends",
                "blocked_by": Value::Null,
                "egress": Value::Null,
                "ingress": Value::Null,
            }),
        };
        if self.sport_open {
            out["source_ports"] = self
                .ranges
                .iter()
                .map(|r| {
                    let mut entry = json!({"from": r.from, "to": r.to});
                    if let (Value::Object(entry), Value::Object(verdict)) = (&mut entry, one(r)) {
                        entry.extend(verdict);
                    }
                    entry
                })
                .collect();
        }
        with_schema_version(out)
    }
}

/// `flow` at source port `port`.
fn at_port(flow: &Flow, port: u16) -> Flow {
    Flow {
        src_port: port,
        ..*flow
    }
}

/// `0-1023` or `22`.
fn port_span(from: u16, to: u16) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from}-{to}")
    }
}

/// The flow as text, its source port `any` when left open (only TCP and UDP flows, which show
/// ports, are left open).
fn flow_text(flow: &Flow, sport_open: bool) -> String {
    if !sport_open {
        return flow.to_string();
    }
    let end = |addr: std::net::IpAddr, port: &str| match addr {
        std::net::IpAddr::V4(v4) => format!("{v4}:{port}"),
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    };
    format!(
        "{} {} {} -> {}",
        flow.direction,
        protocol_label(flow.protocol),
        end(flow.src, "any"),
        end(flow.dst, &flow.dst_port.to_string())
    )
}

/// `{"schema_version": 1, …}`: the version first, for readers of the raw text.
fn with_schema_version(value: Value) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("schema_version".into(), json!(SCHEMA_VERSION));
    if let Value::Object(map) = value {
        out.extend(map);
    }
    Value::Object(out)
}

fn verdict_json(engine: &Engine, target: Target, flow: &Flow, verdict: &Verdict) -> Value {
    let mut out = json!({
        "target": engine.snapshot().target_id(target),
        "flow": flow_json(flow),
        "verdict": verdict.action.as_str(),
        "reason": verdict.reason.as_str(),
        "security_group_id": Value::Null,
        "rule_id": Value::Null,
        "explanation": explanation(engine, target, flow, verdict),
    });
    if let Some(rule_ref) = verdict.deciding_rule() {
        let (group, rule) = engine.rule(rule_ref);
        out["security_group_id"] = json!(group.id);
        out["rule_id"] = json!(rule.id);
        out["rule"] = json!({
            "priority": rule.priority,
            "policy": rule.action.as_str(),
            "protocol": rule.protocol.to_string(),
            "protocol_number": match rule.protocol {
                Protocol::All => Value::Null,
                Protocol::Number(n) => json!(n),
            },
            "summary": rule.summary(),
            "description": rule.description,
        });
    }
    out
}

fn flow_json(flow: &Flow) -> Value {
    json!({
        "direction": flow.direction.as_str(),
        "protocol": protocol_label(flow.protocol),
        "protocol_number": flow.protocol,
        "src_ip": flow.src.to_string(),
        "src_port": flow.src_port,
        "dst_ip": flow.dst.to_string(),
        "dst_port": flow.dst_port,
    })
}

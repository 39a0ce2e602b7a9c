//! The compiled engine (every tier) against the reference evaluator, on snapshots and flows
//! decoded from the fuzzer's bytes. Values come from small pools so that rules overlap and
//! flows hit them; every feature of the spec can appear.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use sgsim::compile::Tier;
use sgsim::model::{Direction, EvalOptions, Flow, NicType, Target, Verdict};
use sgsim::{Engine, Query, Snapshot};

const V4: [&str; 8] = [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.9",
    "192.168.1.5",
    "8.8.8.8",
    "100.64.0.7",
    "203.0.113.5",
    "10.1.0.1",
];
const V6: [&str; 4] = ["fd00::1", "fd00::2", "2001:db8::5", "2001:db8::9"];
const V4_NETS: [&str; 8] = [
    "0.0.0.0/0",
    "10.0.0.0/8",
    "10.0.0.0/30",
    "10.0.0.2",
    "10.0.0.8/29",
    "192.168.0.0/16",
    "8.8.8.8/32",
    "203.0.113.0/24",
];
const V6_NETS: [&str; 4] = ["::/0", "fd00::/64", "2001:db8::/32", "2001:db8::9"];
const PROTOCOLS: [&str; 8] = ["TCP", "UDP", "ICMP", "ICMPv6", "ALL", "GRE", "6", "udp"];

fn port_range(u: &mut Unstructured) -> Result<String> {
    let lo = u.int_in_range(1..=9u16)?;
    Ok(format!("{lo}/{}", lo + u.int_in_range(0..=5u16)?))
}

fn rule(u: &mut Unstructured, groups: usize, lists: usize, port_lists: usize) -> Result<Value> {
    let ingress: bool = u.arbitrary()?;
    let protocol = *u.choose(&PROTOCOLS)?;
    let v6 = match protocol {
        "ICMP" => false,
        "ICMPv6" => true,
        _ => u.arbitrary()?,
    };
    let mut rule = json!({
        "Direction": if ingress { "ingress" } else { "egress" },
        "Policy": if u.arbitrary()? { "Drop" } else { "Accept" },
        "Priority": u.int_in_range(1..=3u8)?,
        "IpProtocol": protocol, "PortRange": "-1/-1",
        "NicType": if u.ratio(1, 5)? { "internet" } else { "intranet" },
    });
    if matches!(protocol, "TCP" | "UDP" | "6" | "udp") {
        if u.ratio(1, 4)? {
            rule["PortRange"] = json!("");
            rule["PortRangeListId"] = json!(format!("prl-{}", u.int_in_range(0..=port_lists)?));
        } else {
            rule["PortRange"] = json!(port_range(u)?);
        }
        if u.ratio(1, 4)? {
            rule["SourcePortRange"] = json!(port_range(u)?);
        }
    }
    let (v4_field, v6_field, group_field, list_field, local_v4, local_v6) = if ingress {
        (
            "SourceCidrIp",
            "Ipv6SourceCidrIp",
            "SourceGroupId",
            "SourcePrefixListId",
            "DestCidrIp",
            "Ipv6DestCidrIp",
        )
    } else {
        (
            "DestCidrIp",
            "Ipv6DestCidrIp",
            "DestGroupId",
            "DestPrefixListId",
            "SourceCidrIp",
            "Ipv6SourceCidrIp",
        )
    };
    let net = |u: &mut Unstructured| -> Result<&'static str> {
        if v6 {
            u.choose(&V6_NETS).copied()
        } else {
            u.choose(&V4_NETS).copied()
        }
    };
    let pinned = matches!(protocol, "ICMP" | "ICMPv6");
    match u.int_in_range(0..=3u8)? {
        0 | 1 => rule[if v6 { v6_field } else { v4_field }] = json!(net(u)?),
        2 => rule[group_field] = json!(format!("sg-{}", u.int_in_range(0..=groups)?)),
        _ if pinned || lists == 0 => rule[if v6 { v6_field } else { v4_field }] = json!(net(u)?),
        // Prefix list i has family i % 2; an index past the end is a missing list.
        _ => {
            rule[list_field] = json!(format!(
                "pl-{}",
                (2 * u.int_in_range(0..=lists / 2)? + usize::from(v6)).min(lists)
            ))
        }
    }
    if u.ratio(1, 4)? && rule[list_field].is_null() {
        rule[if v6 { local_v6 } else { local_v4 }] = json!(net(u)?);
    }
    Ok(rule)
}

fn snapshot(u: &mut Unstructured) -> Result<Value> {
    let groups = u.int_in_range(1..=4usize)?;
    let lists = u.int_in_range(0..=3usize)?;
    let port_lists = u.int_in_range(0..=2usize)?;
    let enterprise_world: bool = u.arbitrary()?;
    let mut kinds = Vec::new();
    let mut groups_json = Vec::new();
    for i in 0..groups {
        let kind = if enterprise_world && u.arbitrary()? {
            "enterprise"
        } else {
            "normal"
        };
        kinds.push(kind);
        let rules = (0..u.int_in_range(0..=10usize)?)
            .map(|_| rule(u, groups, lists, port_lists))
            .collect::<Result<Vec<_>>>()?;
        groups_json.push(json!({
            "SecurityGroupId": format!("sg-{i}"), "SecurityGroupType": kind,
            "VpcId": if u.ratio(1, 5)? { "" } else { "vpc-1" },
            "InnerAccessPolicy": if u.arbitrary()? { "Drop" } else { "Accept" },
            "Permissions": {"Permission": rules},
        }));
    }
    let mut nics = Vec::new();
    for i in 0..u.int_in_range(0..=4usize)? {
        let first = u.int_in_range(0..=groups - 1)?;
        let mut ids = vec![format!("sg-{first}")];
        for _ in 0..u.int_in_range(0..=2usize)? {
            let g = u.int_in_range(0..=groups - 1)?;
            let id = format!("sg-{g}");
            if kinds[g] == kinds[first] && !ids.contains(&id) {
                ids.push(id);
            }
        }
        let v4: Vec<Value> = (0..u.int_in_range(0..=2usize)?)
            .map(|_| Ok(json!({"PrivateIpAddress": *u.choose(&V4)?})))
            .collect::<Result<_>>()?;
        let v6: Vec<Value> = (0..u.int_in_range(0..=1usize)?)
            .map(|_| Ok(json!({"Ipv6Address": *u.choose(&V6)?})))
            .collect::<Result<_>>()?;
        nics.push(json!({
            "NetworkInterfaceId": format!("eni-{i}"),
            "PrivateIpSets": {"PrivateIpSet": v4}, "Ipv6Sets": {"Ipv6Set": v6},
            "SecurityGroupIds": {"SecurityGroupId": ids},
        }));
    }
    let prefix_lists: Vec<Value> = (0..lists)
        .map(|i| {
            let nets = if i % 2 == 1 { &V6_NETS[..] } else { &V4_NETS[..] };
            let entries: Vec<Value> = (0..u.int_in_range(0..=3usize)?).map(|_| Ok(json!({"Cidr": *u.choose(nets)?}))).collect::<Result<_>>()?;
            Ok(json!({"PrefixListId": format!("pl-{i}"), "AddressFamily": if i % 2 == 1 { "IPv6" } else { "IPv4" }, "MaxEntries": 5, "Entries": {"Entry": entries}}))
        })
        .collect::<Result<_>>()?;
    let port_range_lists: Vec<Value> = (0..port_lists)
        .map(|i| {
            let entries: Vec<Value> = (0..u.int_in_range(0..=3usize)?).map(|_| Ok(json!({"PortRange": port_range(u)?}))).collect::<Result<_>>()?;
            Ok(json!({"PortRangeListId": format!("prl-{i}"), "MaxEntries": 5, "Entries": {"Entry": entries}}))
        })
        .collect::<Result<_>>()?;
    Ok(
        json!({"SecurityGroups": groups_json, "NetworkInterfaces": nics, "PrefixLists": prefix_lists, "PortRangeLists": port_range_lists}),
    )
}

fn flow(u: &mut Unstructured) -> Result<Flow> {
    let v6: bool = u.arbitrary()?;
    let mut addr = || -> Result<std::net::IpAddr> {
        Ok(if v6 {
            u.choose(&V6)?.parse().unwrap()
        } else {
            u.choose(&V4)?.parse().unwrap()
        })
    };
    let (src, dst) = (addr()?, addr()?);
    Ok(Flow {
        direction: if u.arbitrary()? {
            Direction::Ingress
        } else {
            Direction::Egress
        },
        protocol: *u.choose(&[6u8, 17, 1, 58, 47, 0])?,
        src,
        src_port: u.int_in_range(0..=11u16)?,
        dst,
        dst_port: *u.choose(&[0u16, 1, 2, 3, 5, 8, 9, 12, 25])?,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(json) = snapshot(&mut u) else { return };
    let snapshot = Snapshot::from_json_value(json.clone())
        .unwrap_or_else(|err| panic!("generated an invalid snapshot: {err}\n{json:#}"));
    let options = EvalOptions {
        platform_rules: u.arbitrary().unwrap_or(true),
        nic_type: if u.ratio(1, 5).unwrap_or(false) {
            NicType::Internet
        } else {
            NicType::Intranet
        },
    };
    let mut targets: Vec<Target> = (0..snapshot.nics().len() as u32).map(Target::Nic).collect();
    targets.extend((0..snapshot.groups().len() as u32).map(Target::Group));
    let mut queries = Vec::new();
    // Unstructured hands out defaults once the bytes run out: stop there.
    while !u.is_empty() && queries.len() < 64 {
        let (Ok(target), Ok(flow)) = (u.choose(&targets).copied(), flow(&mut u)) else {
            break;
        };
        queries.push((target, flow));
    }
    let batch: Vec<Query> = queries
        .iter()
        .map(|&(target, flow)| Query { target, flow })
        .collect();
    for tier in [
        Tier::Auto,
        Tier::Flat,
        Tier::FlatDense,
        Tier::CrossProduct,
        Tier::CrossVector,
        Tier::CrossList,
        Tier::Partitioned { leaf_max_rules: 1 },
        Tier::Partitioned { leaf_max_rules: 2 },
    ] {
        let engine = Engine::builder(snapshot.clone()).options(options).tier(tier).eager().build();
        // `check_batch` runs the fastest kernel the CPU has (AVX-512 here), `check` the
        // portable one.
        let expected: Vec<Verdict> = batch
            .iter()
            .map(|q| engine.check_reference(q.target, &q.flow))
            .collect();
        // Its placeholder equals no real verdict, so a slot the batch skips cannot pass.
        let mut verdicts = sgsim::bench::verdict_buffer(batch.len());
        engine.check_batch(&batch, &mut verdicts);
        for ((query, reference), from_batch) in batch.iter().zip(&expected).zip(&verdicts) {
            let (target, flow) = (query.target, &query.flow);
            assert_eq!(
                &engine.check(target, flow),
                reference,
                "{tier:?} {target:?} {flow}"
            );
            assert_eq!(from_batch, reference, "{tier:?} batch {target:?} {flow}");
        }
    }
});

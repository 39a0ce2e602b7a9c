//! A synthetic account for whole-account analyses (`sgsim reach`): many NICs over a number of
//! distinct group sets, with rules that name other groups (`SourceGroupId` / `DestGroupId`),
//! CIDRs, prefix-free public ranges, drops and IPv6. Written as the ECS API's JSON, so it goes
//! through the same loader as real data.
//!
//! ```
//! let json = sgsim::bench::account::generate(40, 8, 1);
//! let snapshot = sgsim::Snapshot::from_json_value(json).unwrap();
//! assert_eq!(snapshot.nics().len(), 40);
//! ```

use crate::rng::Rng;
use serde_json::{json, Value};

/// Ports real tiers open to each other.
const PORTS: [u16; 12] = [
    22, 80, 443, 3306, 5432, 6379, 8080, 8443, 9000, 9200, 11211, 27017,
];

/// `nics` NICs over `group_sets` distinct sets of 1–3 groups (drawn from `group_sets / 2 + 4`
/// groups of 4–14 rules each), every NIC with a private IPv4 address in its set's subnet, the
/// NICs of a third of the sets with IPv6 too.
pub fn generate(nics: usize, group_sets: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let group_count = group_sets / 2 + 4;
    let group_id = |g: usize| format!("sg-acct-{g}");
    // A NIC's groups are all basic or all advanced (the API refuses a mix).
    let enterprise = |g: usize| g % 10 == 9;
    let groups: Vec<Value> = (0..group_count)
        .map(|g| {
            let rules: Vec<Value> = (0..rng.range(4, 14))
                .map(|r| {
                    rule(
                        &mut rng,
                        format!("sgr-acct-{g}-{r}"),
                        group_count,
                        &group_id,
                    )
                })
                .collect();
            json!({
                "SecurityGroupId": group_id(g),
                "SecurityGroupName": format!("tier{g}"),
                "VpcId": "vpc-acct",
                "SecurityGroupType": if enterprise(g) { "enterprise" } else { "normal" },
                "InnerAccessPolicy": if rng.chance(0.5) { "Accept" } else { "Drop" },
                "Permissions": {"Permission": rules},
            })
        })
        .collect();
    // Distinct sets: the first group is the set's own tier, the others are drawn.
    let mut sets: Vec<Vec<String>> = Vec::new();
    while sets.len() < group_sets {
        let first = sets.len() % group_count;
        let mut set = vec![group_id(first)];
        for _ in 0..rng.below(3) {
            let extra = rng.below(group_count as u64) as usize;
            if enterprise(extra) == enterprise(first) && !set.contains(&group_id(extra)) {
                set.push(group_id(extra));
            }
        }
        if !sets.contains(&set) {
            sets.push(set);
        }
    }
    // As tiers are deployed: the NICs of one group set share a subnet (10.1.<set>.0/24 and on),
    // and a third of the tiers are dual-stack.
    let nic_list: Vec<Value> = (0..nics)
        .map(|n| {
            let (set, member) = (n % group_sets, n / group_sets);
            let subnet = 256 + set * (1 + nics / group_sets / 250);
            let host = 1 + member % 250;
            let mut nic = json!({
                "NetworkInterfaceId": format!("eni-acct-{n}"),
                "VpcId": "vpc-acct",
                "PrivateIpAddress": format!("10.{}.{}.{host}", subnet / 256, (subnet + member / 250) % 256),
                "SecurityGroupIds": {"SecurityGroupId": sets[set]},
            });
            if set % 3 == 0 {
                nic["Ipv6Sets"] = json!({"Ipv6Set": [{"Ipv6Address": format!("2001:db8:1:{set:x}::{host:x}")}]});
            }
            nic
        })
        .collect();
    json!({"SecurityGroups": groups, "NetworkInterfaces": nic_list})
}

fn rule(rng: &mut Rng, id: String, groups: usize, group_id: &impl Fn(usize) -> String) -> Value {
    let ingress = rng.chance(0.65);
    let (protocol, ports) = match rng.below(10) {
        0 => ("ICMP", "-1/-1".to_string()),
        1 => ("ALL", "-1/-1".to_string()),
        2 => ("UDP", "53/53".to_string()),
        3 => {
            let lo = rng.range(1000, 9000);
            ("TCP", format!("{lo}/{}", lo + rng.range(0, 999)))
        }
        _ => {
            let port = *rng.pick(&PORTS);
            ("TCP", format!("{port}/{port}"))
        }
    };
    let mut out = json!({
        "SecurityGroupRuleId": id,
        "Direction": if ingress { "ingress" } else { "egress" },
        "IpProtocol": protocol,
        "PortRange": ports,
        "Policy": if rng.chance(0.15) { "Drop" } else { "Accept" },
        "Priority": rng.range(1, 100),
        "NicType": "intranet",
    });
    let (group_key, cidr_key, cidr6_key) = if ingress {
        ("SourceGroupId", "SourceCidrIp", "Ipv6SourceCidrIp")
    } else {
        ("DestGroupId", "DestCidrIp", "Ipv6DestCidrIp")
    };
    match rng.below(10) {
        // Half the rules name another group: the references reach needs to resolve.
        0..=4 if protocol != "ICMP" => {
            out[group_key] = json!(group_id(rng.below(groups as u64) as usize));
        }
        5 => out[cidr_key] = json!("0.0.0.0/0"),
        6 if protocol != "ICMP" => out[cidr6_key] = json!("::/0"),
        7 => out[cidr_key] = json!(format!("10.{}.0.0/16", rng.range(1, 2))),
        8 => out[cidr_key] = json!(format!("10.1.{}.0/24", rng.below(groups as u64))),
        _ => out[cidr_key] = json!(format!("203.0.113.{}/32", rng.below(256))),
    }
    out
}

//! Sets of services — protocol × destination ports × source ports — in one canonical form, so
//! that equal sets compare (and hash) equal. `reach` answers are such sets: the addresses of
//! both ends are fixed, so a region of flows between them is exactly the set of its services.

use super::region::{format_numbers, Intervals};
use crate::model::protocol_name;
use serde::Serialize;
use std::collections::HashMap;

/// One box of services: the flows whose protocol, destination port and source port lie in the
/// three sets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceBox {
    /// IP protocol numbers.
    pub protocol: Intervals<u8>,
    /// Destination ports.
    pub dest_port: Intervals<u16>,
    /// Source ports.
    pub source_port: Intervals<u16>,
}

/// Destination ports that share one set of source ports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortPair {
    /// The destination ports.
    pub dst_ports: Intervals<u16>,
    /// The source ports allowed with each of them.
    pub src_ports: Intervals<u16>,
}

/// Protocols that share one set of port pairs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceClass {
    /// The protocols (IP numbers).
    pub protocols: Intervals<u8>,
    /// Disjoint destination-port sets, in order of their first port.
    pub ports: Vec<PortPair>,
}

/// A set of services in canonical form: protocols grouped by identical port pairs, destination
/// ports grouped by identical source-port sets, both in ascending order. Two equal sets have
/// the same form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Services {
    /// Protocol classes with disjoint protocol sets, in order of their first protocol.
    pub classes: Vec<ServiceClass>,
}

/// The start of every elementary interval that the given interval sets cut `K`'s domain into.
fn cuts<'a, K: crate::compile::key::Key + 'a>(
    sets: impl Iterator<Item = &'a Intervals<K>>,
) -> Vec<K> {
    let mut out = vec![K::default()];
    for set in sets {
        for &(lo, hi) in set.as_slice() {
            out.push(lo);
            if let Some(after) = hi.successor() {
                out.push(after);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// `[cut_i, cut_{i+1} - 1]` for each cut.
fn elementary<K: crate::compile::key::Key>(cuts: &[K]) -> Vec<(K, K)> {
    cuts.iter()
        .enumerate()
        .map(|(i, &lo)| {
            let hi = cuts
                .get(i + 1)
                .map_or(K::MAX, |&next| next.predecessor().expect("above a cut"));
            (lo, hi)
        })
        .collect()
}

impl Services {
    /// No service.
    pub fn empty() -> Services {
        Services::default()
    }

    /// Whether the set holds no service.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// The union of any boxes, in canonical form.
    pub fn from_boxes(boxes: &[ServiceBox]) -> Services {
        let boxes: Vec<&ServiceBox> = boxes
            .iter()
            .filter(|b| {
                !(b.protocol.is_empty() || b.dest_port.is_empty() || b.source_port.is_empty())
            })
            .collect();
        if boxes.is_empty() {
            return Services::empty();
        }
        // Protocol by protocol class: the destination ports, each with its source ports.
        let mut by_ports: HashMap<Vec<PortPair>, Vec<(u8, u8)>> = HashMap::new();
        for (lo, hi) in elementary(&cuts(boxes.iter().map(|b| &b.protocol))) {
            let here: Vec<&ServiceBox> = boxes
                .iter()
                .copied()
                .filter(|b| b.protocol.contains(lo))
                .collect();
            let ports = port_pairs(&here);
            if !ports.is_empty() {
                by_ports.entry(ports).or_default().push((lo, hi));
            }
        }
        let mut classes: Vec<ServiceClass> = by_ports
            .into_iter()
            .map(|(ports, protocols)| ServiceClass {
                protocols: Intervals::from_unsorted(protocols),
                ports,
            })
            .collect();
        classes.sort_by_key(|c| c.protocols.first());
        Services { classes }
    }

    /// The boxes of this set (disjoint).
    pub fn boxes(&self) -> Vec<ServiceBox> {
        let mut out = Vec::new();
        for class in &self.classes {
            for pair in &class.ports {
                out.push(ServiceBox {
                    protocol: class.protocols.clone(),
                    dest_port: pair.dst_ports.clone(),
                    source_port: pair.src_ports.clone(),
                });
            }
        }
        out
    }

    /// The services in both sets.
    pub fn intersect(&self, other: &Services) -> Services {
        if self.is_empty() || other.is_empty() {
            return Services::empty();
        }
        let mut out = Vec::new();
        for a in self.boxes() {
            for b in other.boxes() {
                out.push(ServiceBox {
                    protocol: a.protocol.intersect(&b.protocol),
                    dest_port: a.dest_port.intersect(&b.dest_port),
                    source_port: a.source_port.intersect(&b.source_port),
                });
            }
        }
        Services::from_boxes(&out)
    }

    /// Whether the set shares a service with `other`.
    pub fn intersects_box(&self, other: &ServiceBox) -> bool {
        self.classes.iter().any(|c| {
            c.protocols.intersects(&other.protocol)
                && c.ports.iter().any(|p| {
                    p.dst_ports.intersects(&other.dest_port)
                        && p.src_ports.intersects(&other.source_port)
                })
        })
    }

    /// Whether the set holds this protocol, destination port and source port.
    pub fn contains(&self, protocol: u8, dst_port: u16, src_port: u16) -> bool {
        self.classes.iter().any(|c| {
            c.protocols.contains(protocol)
                && c.ports
                    .iter()
                    .any(|p| p.dst_ports.contains(dst_port) && p.src_ports.contains(src_port))
        })
    }

    /// Every protocol, every port.
    pub fn is_everything(&self) -> bool {
        matches!(&self.classes[..], [c] if c.protocols.is_full()
            && matches!(&c.ports[..], [p] if p.dst_ports.is_full() && p.src_ports.is_full()))
    }

    /// Every service not in this set.
    pub fn complement(&self) -> Services {
        let mut boxes = Vec::new();
        let mut protocols = Intervals::empty();
        for class in &self.classes {
            protocols = protocols.union(&class.protocols);
            let mut dst_ports = Intervals::empty();
            for pair in &class.ports {
                dst_ports = dst_ports.union(&pair.dst_ports);
                boxes.push(ServiceBox {
                    protocol: class.protocols.clone(),
                    dest_port: pair.dst_ports.clone(),
                    source_port: pair.src_ports.complement(),
                });
            }
            boxes.push(ServiceBox {
                protocol: class.protocols.clone(),
                dest_port: dst_ports.complement(),
                source_port: Intervals::full(),
            });
        }
        boxes.push(ServiceBox {
            protocol: protocols.complement(),
            dest_port: Intervals::full(),
            source_port: Intervals::full(),
        });
        Services::from_boxes(&boxes)
    }

    /// `tcp 22,443, udp 53, icmp`: protocols by name, destination ports when not all of them,
    /// source ports when not all of them; `all` for everything, `all except tcp 25` when that
    /// is shorter.
    pub fn text(&self) -> String {
        if self.is_empty() {
            return "nothing".to_string();
        }
        if self.is_everything() {
            return "all".to_string();
        }
        let listed = self.listed_text();
        let except = format!("all except {}", self.complement().listed_text());
        if except.len() < listed.len() {
            except
        } else {
            listed
        }
    }

    fn listed_text(&self) -> String {
        let mut parts = Vec::new();
        for class in &self.classes {
            for &(lo, hi) in class.protocols.as_slice() {
                let names: Vec<String> = if lo == hi {
                    vec![protocol_text(lo)]
                } else if hi - lo < 8 {
                    (lo..=hi).map(protocol_text).collect()
                } else {
                    vec![format!("protocols {lo}-{hi}")]
                };
                for name in names {
                    for pair in &class.ports {
                        let mut part = name.clone();
                        if !pair.dst_ports.is_full() {
                            part += &format!(" {}", format_numbers(&pair.dst_ports));
                        }
                        if !pair.src_ports.is_full() {
                            part += &format!(" from port {}", format_numbers(&pair.src_ports));
                        }
                        parts.push(part);
                    }
                }
            }
        }
        parts.join(", ")
    }

    /// One item per protocol interval and port pair, for JSON.
    pub fn items(&self) -> Vec<ServiceItem> {
        let ranges = |set: &Intervals<u16>| -> Vec<String> {
            set.as_slice()
                .iter()
                .map(|&(lo, hi)| format!("{lo}-{hi}"))
                .collect()
        };
        let mut out = Vec::new();
        for class in &self.classes {
            for &(lo, hi) in class.protocols.as_slice() {
                let protocol = if lo == hi {
                    protocol_text(lo)
                } else {
                    format!("{lo}-{hi}")
                };
                for pair in &class.ports {
                    out.push(ServiceItem {
                        protocol: protocol.clone(),
                        dst_ports: ranges(&pair.dst_ports),
                        src_ports: ranges(&pair.src_ports),
                    });
                }
            }
        }
        out
    }
}

/// `tcp`, `icmp`, or the number.
fn protocol_text(n: u8) -> String {
    protocol_name(n).map_or_else(|| n.to_string(), str::to_string)
}

/// The destination ports of boxes (all holding one protocol), grouped by their source ports.
fn port_pairs(boxes: &[&ServiceBox]) -> Vec<PortPair> {
    let mut by_sources: HashMap<Intervals<u16>, Vec<(u16, u16)>> = HashMap::new();
    for (lo, hi) in elementary(&cuts(boxes.iter().map(|b| &b.dest_port))) {
        let mut sources = Intervals::empty();
        for b in boxes.iter().filter(|b| b.dest_port.contains(lo)) {
            sources = sources.union(&b.source_port);
        }
        if !sources.is_empty() {
            by_sources.entry(sources).or_default().push((lo, hi));
        }
    }
    let mut pairs: Vec<PortPair> = by_sources
        .into_iter()
        .map(|(src_ports, dst)| PortPair {
            dst_ports: Intervals::from_unsorted(dst),
            src_ports,
        })
        .collect();
    pairs.sort_by_key(|p| p.dst_ports.first());
    pairs
}

/// A service set item in JSON: `{"protocol": "tcp", "dst_ports": ["5432-5432"], "src_ports":
/// ["0-65535"]}`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ServiceItem {
    /// A protocol name (`tcp`), a number, or a range of numbers `a-b`.
    pub protocol: String,
    /// Destination port ranges `lo-hi`, inclusive.
    pub dst_ports: Vec<String>,
    /// Source port ranges `lo-hi`, inclusive.
    pub src_ports: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sbox(p: (u8, u8), d: &[(u16, u16)], s: (u16, u16)) -> ServiceBox {
        ServiceBox {
            protocol: Intervals::single(p.0, p.1),
            dest_port: Intervals::from_unsorted(d.to_vec()),
            source_port: Intervals::single(s.0, s.1),
        }
    }

    #[test]
    fn equal_sets_have_one_form() {
        // The same set, cut two ways.
        let a = Services::from_boxes(&[sbox((6, 6), &[(1, 10)], (0, 65535))]);
        let b = Services::from_boxes(&[
            sbox((6, 6), &[(1, 4)], (0, 65535)),
            sbox((6, 6), &[(3, 10)], (0, 65535)),
        ]);
        assert_eq!(a, b);
        let c = Services::from_boxes(&[
            sbox((6, 6), &[(22, 22)], (0, 65535)),
            sbox((17, 17), &[(22, 22)], (0, 65535)),
        ]);
        assert_eq!(c.classes.len(), 1);
        assert_eq!(c.text(), "tcp 22, udp 22");
        assert_eq!(c.items()[0].dst_ports, vec!["22-22".to_string()]);
    }

    #[test]
    fn membership_and_intersection_follow_the_sets() {
        let a = Services::from_boxes(&[
            sbox((6, 6), &[(1, 100)], (0, 65535)),
            sbox((1, 1), &[(0, 65535)], (0, 65535)),
        ]);
        let b = Services::from_boxes(&[sbox((0, 255), &[(50, 200)], (1000, 2000))]);
        let both = a.intersect(&b);
        for p in [1u8, 6, 17] {
            for d in [0u16, 1, 50, 100, 101, 200] {
                for s in [0u16, 999, 1000, 2000, 2001] {
                    assert_eq!(
                        both.contains(p, d, s),
                        a.contains(p, d, s) && b.contains(p, d, s),
                        "{p} {d} {s}"
                    );
                }
            }
        }
        assert_eq!(
            both.text(),
            "icmp 50-200 from port 1000-2000, tcp 50-100 from port 1000-2000"
        );
        let all = Services::from_boxes(&[sbox((0, 255), &[(0, 65535)], (0, 65535))]);
        assert!(all.is_everything());
        let no_smtp = Services::from_boxes(&[sbox((6, 6), &[(25, 25)], (0, 65535))]).complement();
        assert_eq!(no_smtp.text(), "all except tcp 25");
        assert_eq!(no_smtp.complement().text(), "tcp 25");
        assert!(no_smtp.intersect(&no_smtp.complement()).is_empty());
    }
}

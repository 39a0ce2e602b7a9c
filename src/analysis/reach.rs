//! `sgsim reach`: who can reach whom on what, for every ordered pair of NICs and the internet.
//!
//! For NICs A and B and a family, the answer is the exact set of services (protocol ×
//! destination ports × source ports) of flows from A's first address of that family to B's
//! that A's egress and B's ingress both accept (S15). "The internet" is every public address
//! (outside `audit::NON_PUBLIC_V4` / `NON_PUBLIC_V6`): from the internet to B are the services
//! B's ingress accepts from *some* public address, and from A to the internet those A's egress
//! accepts to some public address (the internet has no security group of its own).
//!
//! How it stays fast on thousands of NICs: with the local address fixed, a NIC's decision list
//! gives the same answer for every remote address in one elementary interval of its rules'
//! remote boundaries, so each NIC computes one service set per interval that some NIC's address
//! falls in, and sets are interned (equal sets share an id). A pair is then two look-ups and one
//! memoised intersection.
//!
//! NICs are grouped into classes of *interchangeable* NICs: A and B are in one class when every
//! other NIC and the internet get the same answers to and from A as to and from B (both
//! families), and A → B gets the same answer as B → A. That relation is transitive, so every
//! class pair has one answer, and between two members of a class there is one answer too.
//! Candidates are bucketed by a key that interchangeable NICs share (their answers as sorted
//! lists, which swapping A and B does not change), then compared exactly.

use super::audit::{NON_PUBLIC_V4, NON_PUBLIC_V6};
use super::region::{FlowBox, Intervals, Region};
use super::services::{ServiceBox, ServiceItem, Services};
use super::{DecisionList, DirectionLists, FamilyKey, ListFamily};
use crate::model::Reason;
use crate::model::{Action, Direction, Family, NicIndex, Snapshot, Target};
use crate::Engine;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// One end of a reach question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// A NIC of the snapshot, by index.
    Nic(NicIndex),
    /// Every public address.
    Internet,
}

/// The reserved class id of the internet.
pub const INTERNET: &str = "internet";

/// The whole matrix, grouped.
#[derive(Clone, Debug, Serialize)]
pub struct ReachReport {
    /// [`REACH_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// NIC classes in order of their first NIC; the internet is not listed (its id is
    /// `internet`). In JSON: an object, class id → NIC ids.
    #[serde(serialize_with = "classes_as_map")]
    pub classes: Vec<ReachClass>,
    /// What each class (or the internet) may open to each other one, per family.
    pub edges: Vec<ReachEdge>,
}

fn classes_as_map<S: serde::Serializer>(
    classes: &[ReachClass],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(classes.len()))?;
    for class in classes {
        map.serialize_entry(&class.id, &class.nics)?;
    }
    map.end()
}

/// The schema of [`ReachReport`]'s JSON.
pub const REACH_SCHEMA_VERSION: u32 = 1;

/// NICs with the same answers to and from everyone.
#[derive(Clone, Debug, Serialize)]
pub struct ReachClass {
    /// Named after the first NIC's groups (`web`, `web+ops`), made unique with `#2`, `#3`.
    pub id: String,
    /// The NIC ids of the class.
    pub nics: Vec<String>,
    #[serde(skip)]
    /// The same NICs, by index (not serialized).
    pub members: Vec<NicIndex>,
}

/// What one class (or the internet) may open to another, in one family.
#[derive(Clone, Debug, Serialize)]
pub struct ReachEdge {
    /// The class id that opens the connections, or `internet`.
    pub from: String,
    /// The class id they go to, or `internet`.
    pub to: String,
    /// `IPv4` or `IPv6`.
    pub family: &'static str,
    /// The services `from` may open to `to`.
    pub allowed: Vec<ServiceItem>,
    /// `tcp 5432, icmp`.
    pub summary: String,
    /// The rules (or steps) on the source's egress that accept these services; empty from the
    /// internet.
    pub egress_rules: Vec<String>,
    /// The rules (or steps) on the destination's ingress that accept them; empty to the
    /// internet.
    pub ingress_rules: Vec<String>,
    #[serde(skip)]
    /// The same services, as a set (not serialized).
    pub services: Services,
    /// A NIC of each end the answer was computed for (`None` for the internet).
    #[serde(skip)]
    pub sample: (Option<NicIndex>, Option<NicIndex>),
}

/// Which pairs to report; the matrix and the classes are always the whole snapshot's.
#[derive(Clone, Debug, Default)]
pub struct ReachSelection {
    /// Sources (see [`select`]); an edge from a class is reported when the class holds one of
    /// them. `None` = everyone.
    pub from: Option<BTreeSet<Endpoint>>,
    /// Destinations, likewise.
    pub to: Option<BTreeSet<Endpoint>>,
    /// Name the rules that accept each edge's services (for JSON and HTML).
    pub deciding_rules: bool,
}

/// Resolves selectors: NIC ids, group ids (the NICs carrying the group) and `internet`.
pub fn select(snapshot: &Snapshot, selectors: &[String]) -> Result<BTreeSet<Endpoint>, String> {
    let mut out = BTreeSet::new();
    for selector in selectors {
        let selector = selector.trim();
        if selector == INTERNET {
            out.insert(Endpoint::Internet);
        } else if let Some(nic) = snapshot.nic_index(selector) {
            out.insert(Endpoint::Nic(nic));
        } else if let Some(group) = snapshot.group_index(selector) {
            out.extend(
                (0..snapshot.nics().len() as NicIndex)
                    .filter(|&n| snapshot.nic(n).groups.contains(&group))
                    .map(Endpoint::Nic),
            );
        } else {
            return Err(format!(
                "selector {selector:?}: not a NIC id, a security group id or `internet`"
            ));
        }
    }
    Ok(out)
}

/// The first address of a family of a NIC (its primary IPv4 address, its first IPv6 one).
pub(crate) fn first_address<A: FamilyKey>(snapshot: &Snapshot, nic: NicIndex) -> Option<A> {
    snapshot
        .nic(nic)
        .addresses
        .iter()
        .find_map(|&a| A::from_ip(a))
}

fn public<A: FamilyKey>() -> Intervals<A> {
    match A::FAMILY {
        Family::V4 => A::interval_set(&NON_PUBLIC_V4).complement(),
        Family::V6 => A::interval_set(&NON_PUBLIC_V6).complement(),
    }
}

/// The entries of a list that can hold a flow whose local address is `own`.
fn restricted_to_local<A: FamilyKey>(list: &DecisionList<A>, own: A) -> DecisionList<A> {
    DecisionList {
        direction: list.direction,
        entries: list
            .entries
            .iter()
            .filter(|e| e.flows.local.contains(own))
            .cloned()
            .collect(),
        default: list.default,
    }
}

/// The accepted pieces of flows between `own` (local) and `remote`, with what accepts each.
fn accepted_pieces<A: FamilyKey>(
    list: &DecisionList<A>,
    own: A,
    remote: Intervals<A>,
) -> Vec<(Reason, Services)> {
    let query = FlowBox {
        remote,
        local: Intervals::single(own, own),
        ..FlowBox::full()
    };
    list.decide(Region::from_box(query))
        .into_iter()
        .filter(|piece| piece.action == Action::Accept)
        .map(|piece| {
            let boxes: Vec<ServiceBox> = piece
                .flows
                .boxes
                .into_iter()
                .map(|b| ServiceBox {
                    protocol: b.protocol,
                    dest_port: b.dest_port,
                    source_port: b.source_port,
                })
                .collect();
            (piece.decider, Services::from_boxes(&boxes))
        })
        .collect()
}

fn accepted<A: FamilyKey>(list: &DecisionList<A>, own: A, remote: Intervals<A>) -> Services {
    let boxes: Vec<ServiceBox> = accepted_pieces(list, own, remote)
        .into_iter()
        .flat_map(|(_, services)| services.boxes())
        .collect();
    Services::from_boxes(&boxes)
}

/// The one side of an end: a NIC's list in a direction, restricted to its own address.
fn side<A: ListFamily>(
    engine: &Engine,
    nic: NicIndex,
    direction: Direction,
) -> Option<(DecisionList<A>, A)> {
    let snapshot = engine.snapshot();
    let own = first_address::<A>(snapshot, nic)?;
    let lists = DirectionLists::build(snapshot, engine.options(), Target::Nic(nic), direction);
    let list = A::into_list(lists);
    Some((restricted_to_local(&list, own), own))
}

/// The services `from` may open to `to` in one family, computed directly (no tables): the
/// definition the matrix is tested against. Empty when an end has no address of the family.
/// `from == to` is no flow between two NICs: empty.
pub fn pair_services<A: ListFamily>(engine: &Engine, from: Endpoint, to: Endpoint) -> Services {
    match (from, to) {
        (Endpoint::Internet, Endpoint::Internet) => Services::empty(),
        (Endpoint::Internet, Endpoint::Nic(b)) => match side::<A>(engine, b, Direction::Ingress) {
            Some((list, own)) => accepted(&list, own, public::<A>()),
            None => Services::empty(),
        },
        (Endpoint::Nic(a), Endpoint::Internet) => match side::<A>(engine, a, Direction::Egress) {
            Some((list, own)) => accepted(&list, own, public::<A>()),
            None => Services::empty(),
        },
        (Endpoint::Nic(a), Endpoint::Nic(b)) if a == b => Services::empty(),
        (Endpoint::Nic(a), Endpoint::Nic(b)) => {
            let (Some((egress, a_addr)), Some((ingress, b_addr))) = (
                side::<A>(engine, a, Direction::Egress),
                side::<A>(engine, b, Direction::Ingress),
            ) else {
                return Services::empty();
            };
            let e = accepted(&egress, a_addr, point(b_addr));
            let i = accepted(&ingress, b_addr, point(a_addr));
            e.intersect(&i)
        }
    }
}

fn point<A: FamilyKey>(a: A) -> Intervals<A> {
    Intervals::single(a, a)
}

/// Equal service sets share an id; id 0 is the empty set.
struct Interner {
    ids: HashMap<Services, u32>,
    sets: Vec<Services>,
    meets: HashMap<(u32, u32), u32>,
}

const NOTHING: u32 = 0;

impl Interner {
    fn new() -> Interner {
        let mut interner = Interner {
            ids: HashMap::new(),
            sets: Vec::new(),
            meets: HashMap::new(),
        };
        interner.intern(Services::empty());
        interner
    }

    fn intern(&mut self, set: Services) -> u32 {
        if let Some(&id) = self.ids.get(&set) {
            return id;
        }
        let id = self.sets.len() as u32;
        self.sets.push(set.clone());
        self.ids.insert(set, id);
        id
    }

    fn meet(&mut self, a: u32, b: u32) -> u32 {
        if a == NOTHING || b == NOTHING {
            return NOTHING;
        }
        if let Some(&id) = self.meets.get(&(a, b)) {
            return id;
        }
        let set = self.sets[a as usize].intersect(&self.sets[b as usize]);
        let id = self.intern(set);
        self.meets.insert((a, b), id);
        id
    }
}

/// One NIC's side answers in one family, before interning: per other NIC (by index) a local
/// set index, plus the internet.
struct SideAnswers {
    sets: Vec<Services>,
    /// Per NIC: index into `sets`, or `None` when that NIC has no address of the family.
    per_nic: Vec<Option<usize>>,
    internet: usize,
}

/// A NIC's answers in one direction: the accepted services toward every NIC's address (as the
/// remote end) and the internet.
fn side_answers<A: ListFamily>(
    engine: &Engine,
    nic: NicIndex,
    direction: Direction,
    addresses: &[Option<A>],
) -> Option<SideAnswers> {
    let (list, own) = side::<A>(engine, nic, direction)?;
    // Remote addresses held by the same entries get the same answer: compute it once per set
    // of entries (with group references, most addresses are boundaries of their own, but few
    // entry sets are distinct).
    let mut sets = Vec::new();
    // Equal answers share a slot: a NIC has few distinct ones, and all NICs' are held at once.
    let mut local_ids: HashMap<Services, usize> = HashMap::new();
    let mut by_entries: HashMap<Vec<u32>, usize> = HashMap::new();
    let mut holding = Vec::new();
    let per_nic: Vec<Option<usize>> = addresses
        .iter()
        .map(|address| {
            let remote = (*address)?;
            holding.clear();
            holding.extend(
                (0..list.entries.len() as u32)
                    .filter(|&i| list.entries[i as usize].flows.remote.contains(remote)),
            );
            if let Some(&set) = by_entries.get(&holding) {
                return Some(set);
            }
            let set = local_intern(
                &mut sets,
                &mut local_ids,
                accepted(&list, own, point(remote)),
            );
            by_entries.insert(holding.clone(), set);
            Some(set)
        })
        .collect();
    let internet = local_intern(
        &mut sets,
        &mut local_ids,
        accepted(&list, own, public::<A>()),
    );
    Some(SideAnswers {
        sets,
        per_nic,
        internet,
    })
}

fn local_intern(
    sets: &mut Vec<Services>,
    ids: &mut HashMap<Services, usize>,
    set: Services,
) -> usize {
    *ids.entry(set).or_insert_with_key(|set| {
        sets.push(set.clone());
        sets.len() - 1
    })
}

/// The matrix of one family, as interned ids.
struct FamilyMatrix {
    n: usize,
    /// `pair[a * n + b]`: from a to b; the diagonal is empty.
    pair: Vec<u32>,
    to_internet: Vec<u32>,
    from_internet: Vec<u32>,
}

fn family_matrix<A: ListFamily>(engine: &Engine, interner: &mut Interner) -> FamilyMatrix {
    let snapshot = engine.snapshot();
    let n = snapshot.nics().len();
    let addresses: Vec<Option<A>> = (0..n as NicIndex)
        .map(|nic| first_address::<A>(snapshot, nic))
        .collect();
    let answers: Vec<(Option<SideAnswers>, Option<SideAnswers>)> = (0..n as NicIndex)
        .into_par_iter()
        .map(|nic| {
            (
                side_answers(engine, nic, Direction::Egress, &addresses),
                side_answers(engine, nic, Direction::Ingress, &addresses),
            )
        })
        .collect();
    // Per NIC and direction: local index -> global id.
    let mut global = |side: &Option<SideAnswers>| -> Vec<u32> {
        side.as_ref().map_or_else(Vec::new, |s| {
            s.sets
                .iter()
                .map(|set| interner.intern(set.clone()))
                .collect()
        })
    };
    let ids: Vec<(Vec<u32>, Vec<u32>)> = answers
        .iter()
        .map(|(egress, ingress)| (global(egress), global(ingress)))
        .collect();
    let mut pair = vec![NOTHING; n * n];
    for a in 0..n {
        let (Some(egress), egress_ids) = (&answers[a].0, &ids[a].0) else {
            continue;
        };
        for b in 0..n {
            let (Some(ingress), ingress_ids) = (&answers[b].1, &ids[b].1) else {
                continue;
            };
            if a == b {
                continue;
            }
            let (Some(e), Some(i)) = (egress.per_nic[b], ingress.per_nic[a]) else {
                continue;
            };
            let (e, i) = (egress_ids[e], ingress_ids[i]);
            pair[a * n + b] = interner.meet(e, i);
        }
    }
    let internet = |side: &Option<SideAnswers>, ids: &Vec<u32>| {
        side.as_ref().map_or(NOTHING, |s| ids[s.internet])
    };
    FamilyMatrix {
        n,
        to_internet: (0..n).map(|a| internet(&answers[a].0, &ids[a].0)).collect(),
        from_internet: (0..n).map(|b| internet(&answers[b].1, &ids[b].1)).collect(),
        pair,
    }
}

impl FamilyMatrix {
    fn get(&self, a: usize, b: usize) -> u32 {
        self.pair[a * self.n + b]
    }

    /// What interchangeable NICs share: the internet both ways and, sorted, the answers to
    /// and from the other NICs.
    fn bucket_key_into(&self, a: usize, key: &mut Vec<u32>) {
        let mut row: Vec<u32> = (0..self.n)
            .filter(|&c| c != a)
            .map(|c| self.get(a, c))
            .collect();
        let mut column: Vec<u32> = (0..self.n)
            .filter(|&c| c != a)
            .map(|c| self.get(c, a))
            .collect();
        row.sort_unstable();
        column.sort_unstable();
        key.extend_from_slice(&row);
        key.extend_from_slice(&column);
        key.push(self.to_internet[a]);
        key.push(self.from_internet[a]);
    }

    /// A and B are interchangeable in this family (see the module notes).
    fn interchangeable(&self, a: usize, b: usize) -> bool {
        self.get(a, b) == self.get(b, a)
            && self.to_internet[a] == self.to_internet[b]
            && self.from_internet[a] == self.from_internet[b]
            && (0..self.n)
                .filter(|&c| c != a && c != b)
                .all(|c| self.get(a, c) == self.get(b, c) && self.get(c, a) == self.get(c, b))
    }
}

/// Classes of interchangeable NICs, in order of their first NIC.
fn group_nics(matrices: [&FamilyMatrix; 2], n: usize) -> Vec<Vec<NicIndex>> {
    let mut buckets: HashMap<Vec<u32>, Vec<Vec<NicIndex>>> = HashMap::new();
    let mut key = Vec::new();
    for a in 0..n {
        key.clear();
        for m in matrices {
            m.bucket_key_into(a, &mut key);
        }
        let classes = buckets.entry(key.clone()).or_default();
        // Interchangeability is transitive: comparing with one member of a class is enough.
        let home = classes.iter_mut().find(|class| {
            let b = class[0] as usize;
            matrices.iter().all(|m| m.interchangeable(a, b))
        });
        match home {
            Some(class) => class.push(a as NicIndex),
            None => classes.push(vec![a as NicIndex]),
        }
    }
    let mut classes: Vec<Vec<NicIndex>> = buckets.into_values().flatten().collect();
    classes.sort_unstable_by_key(|class| class[0]);
    classes
}

/// The reachability matrix of a snapshot's NICs and the internet, grouped into classes.
pub fn reach(engine: &Engine, selection: &ReachSelection) -> ReachReport {
    let snapshot = engine.snapshot();
    let mut interner = Interner::new();
    let v4 = family_matrix::<u32>(engine, &mut interner);
    let v6 = family_matrix::<u128>(engine, &mut interner);
    let n = snapshot.nics().len();

    let members = group_nics([&v4, &v6], n);
    let classes = name_classes(snapshot, members);

    let wanted = |set: &Option<BTreeSet<Endpoint>>, end: Endpoint, class: Option<&ReachClass>| {
        set.as_ref().is_none_or(|s| match class {
            Some(c) => c.members.iter().any(|&m| s.contains(&Endpoint::Nic(m))),
            None => s.contains(&end),
        })
    };
    let mut edges = Vec::new();
    let mut sides = (SideCache::new(), SideCache::new());
    // The internet is the last end, both ways.
    let ends: Vec<Option<&ReachClass>> = classes.iter().map(Some).chain([None]).collect();
    for from in &ends {
        if !wanted(&selection.from, Endpoint::Internet, *from) {
            continue;
        }
        for to in &ends {
            if !wanted(&selection.to, Endpoint::Internet, *to) {
                continue;
            }
            for (family, matrix) in [(Family::V4, &v4), (Family::V6, &v6)] {
                let (sample, id) = match (from, to) {
                    (None, None) => continue,
                    (None, Some(t)) => {
                        let b = t.members[0];
                        ((None, Some(b)), matrix.from_internet[b as usize])
                    }
                    (Some(f), None) => {
                        let a = f.members[0];
                        ((Some(a), None), matrix.to_internet[a as usize])
                    }
                    (Some(f), Some(t)) if std::ptr::eq(*f, *t) => {
                        // Within a class: two different members, if it has them.
                        let [a, b, ..] = f.members[..] else { continue };
                        ((Some(a), Some(b)), matrix.get(a as usize, b as usize))
                    }
                    (Some(f), Some(t)) => {
                        let (a, b) = (f.members[0], t.members[0]);
                        ((Some(a), Some(b)), matrix.get(a as usize, b as usize))
                    }
                };
                if id == NOTHING {
                    continue;
                }
                let services = interner.sets[id as usize].clone();
                let (egress_rules, ingress_rules) = if selection.deciding_rules {
                    deciding_rules(engine, family, sample, &services, &mut sides)
                } else {
                    (Vec::new(), Vec::new())
                };
                edges.push(ReachEdge {
                    from: from.map_or(INTERNET.to_string(), |c| c.id.clone()),
                    to: to.map_or(INTERNET.to_string(), |c| c.id.clone()),
                    family: family.as_str(),
                    allowed: services.items(),
                    summary: services.text(),
                    egress_rules,
                    ingress_rules,
                    services,
                    sample,
                });
            }
        }
    }
    // With both ends selected, only the classes holding a selected NIC are listed.
    let classes = match (&selection.from, &selection.to) {
        (Some(from), Some(to)) => classes
            .into_iter()
            .filter(|c| {
                c.members
                    .iter()
                    .any(|&m| from.contains(&Endpoint::Nic(m)) || to.contains(&Endpoint::Nic(m)))
            })
            .collect(),
        _ => classes,
    };
    ReachReport {
        schema_version: REACH_SCHEMA_VERSION,
        classes,
        edges,
    }
}

/// Names classes after their first NIC's groups (`SecurityGroupName`, else the id).
fn name_classes(snapshot: &Snapshot, members: Vec<Vec<NicIndex>>) -> Vec<ReachClass> {
    let mut used: HashMap<String, usize> = HashMap::new();
    used.insert(INTERNET.to_string(), 1);
    members
        .into_iter()
        .map(|members| {
            let groups = &snapshot.nic(members[0]).groups;
            let mut base: String = groups
                .iter()
                .map(|&g| {
                    let group = snapshot.group(g);
                    if group.name.is_empty() {
                        group.id.clone()
                    } else {
                        group.name.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join("+");
            if base.is_empty() {
                base = "no-groups".to_string();
            }
            let count = used.entry(base.clone()).or_insert(0);
            *count += 1;
            let id = if *count == 1 {
                base
            } else {
                format!("{base}#{count}")
            };
            ReachClass {
                id,
                nics: members
                    .iter()
                    .map(|&m| snapshot.nic(m).id.clone())
                    .collect(),
                members,
            }
        })
        .collect()
}

/// The rules (or steps) that accept some of `services` on each side of a sample pair.
fn deciding_rules(
    engine: &Engine,
    family: Family,
    sample: (Option<NicIndex>, Option<NicIndex>),
    services: &Services,
    sides: &mut (SideCache<u32>, SideCache<u128>),
) -> (Vec<String>, Vec<String>) {
    match family {
        Family::V4 => deciding_rules_in::<u32>(engine, sample, services, &mut sides.0),
        Family::V6 => deciding_rules_in::<u128>(engine, sample, services, &mut sides.1),
    }
}

/// Sample NICs' sides, built once each (a class is the sample of all its edges).
type SideCache<A> = HashMap<(NicIndex, Direction), Option<(DecisionList<A>, A)>>;

fn deciding_rules_in<A: ListFamily>(
    engine: &Engine,
    (from, to): (Option<NicIndex>, Option<NicIndex>),
    services: &Services,
    cache: &mut SideCache<A>,
) -> (Vec<String>, Vec<String>) {
    let snapshot = engine.snapshot();
    let address = |end: Option<NicIndex>| match end {
        Some(nic) => first_address::<A>(snapshot, nic).map(point),
        None => Some(public::<A>()),
    };
    let mut names = |nic: Option<NicIndex>, direction: Direction, remote: Option<Intervals<A>>| {
        let (Some(nic), Some(remote)) = (nic, remote) else {
            return Vec::new();
        };
        let built = cache
            .entry((nic, direction))
            .or_insert_with(|| side::<A>(engine, nic, direction));
        let Some((list, own)) = built.as_ref() else {
            return Vec::new();
        };
        let mut deciders: Vec<Reason> = accepted_pieces(list, *own, remote)
            .into_iter()
            .filter(|(_, piece)| piece.boxes().iter().any(|b| services.intersects_box(b)))
            .map(|(decider, _)| decider)
            .collect();
        deciders.sort();
        deciders.dedup();
        deciders.iter().map(|d| d.name(snapshot)).collect()
    };
    let egress = names(from, Direction::Egress, address(to));
    let ingress = names(to, Direction::Ingress, address(from));
    (egress, ingress)
}

impl ReachReport {
    /// The class with id `id`.
    pub fn class(&self, id: &str) -> Option<&ReachClass> {
        self.classes.iter().find(|c| c.id == id)
    }

    /// The class a NIC is in.
    pub fn class_of(&self, nic: NicIndex) -> Option<&ReachClass> {
        self.classes.iter().find(|c| c.members.contains(&nic))
    }

    /// The allowed services from one end to another in a family, as the report says.
    pub fn services(&self, from: Endpoint, to: Endpoint, family: Family) -> Services {
        let id = |end: Endpoint| match end {
            Endpoint::Internet => Some(INTERNET.to_string()),
            Endpoint::Nic(n) => self.class_of(n).map(|c| c.id.clone()),
        };
        let (Some(from), Some(to)) = (id(from), id(to)) else {
            return Services::empty();
        };
        self.edges
            .iter()
            .find(|e| e.from == from && e.to == to && e.family == family.as_str())
            .map_or_else(Services::empty, |e| e.services.clone())
    }
}

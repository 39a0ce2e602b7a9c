//! Every evaluator the library has, asked the same question: the clause tests and the case
//! table run each row through all of them, so a tier that breaks a clause is named.

use sgsim::bench::testkit::TIERS;
use sgsim::compile::CompilePolicy;
use sgsim::model::{Direction, EvalOptions, Flow, NicIndex, Target, Verdict};
use sgsim::{ConnectionVerdict, Engine, Query, Snapshot};

/// One snapshot behind every evaluator: `Engine::new`'s defaults (with `options`), each tier
/// forced eagerly, and the lazy linear path that never builds tables. The reference evaluator
/// is asked through the first.
pub struct Evaluators {
    engines: Vec<(String, Engine)>,
}

impl Evaluators {
    pub fn new(snapshot: Snapshot, options: EvalOptions) -> Evaluators {
        let mut engines = vec![(
            "Engine::new".to_string(),
            Engine::builder(snapshot.clone()).options(options).build(),
        )];
        for tier in TIERS {
            let engine = Engine::builder(snapshot.clone())
                .options(options)
                .tier(tier)
                .eager()
                .build();
            engines.push((format!("{tier:?} eager"), engine));
        }
        let lazy = CompilePolicy::OnDemand {
            min_flows: u32::MAX,
        };
        let engine = Engine::builder(snapshot)
            .options(options)
            .policy(lazy)
            .build();
        engines.push(("linear (never compiled)".to_string(), engine));
        Evaluators { engines }
    }

    /// The engine a user gets from `Engine::new` (or the builder with only options set).
    pub fn engine(&self) -> &Engine {
        &self.engines[0].1
    }

    /// The reference evaluator's verdict, after checking that every evaluator, one flow at a
    /// time and as a one-flow batch, gives the same verdict, reason and deciding rule; the error
    /// names the first that does not.
    pub fn check(&self, target: Target, flow: &Flow) -> Result<Verdict, String> {
        let reference = self.engine().check_reference(target, flow);
        let query = [Query {
            target,
            flow: *flow,
        }];
        for (name, engine) in &self.engines {
            let single = engine.check(target, flow);
            if single != reference {
                return Err(format!(
                    "{name}: {single:?}, the reference evaluator: {reference:?}"
                ));
            }
            let mut batch = sgsim::bench::verdict_buffer(1);
            engine.check_batch(&query, &mut batch);
            if batch[0] != reference {
                return Err(format!(
                    "{name} check_batch: {:?}, the reference evaluator: {reference:?}",
                    batch[0]
                ));
            }
        }
        Ok(reference)
    }

    /// The two-NIC verdict (S15) from the reference evaluator's two sides, after checking
    /// every evaluator's `check_connection` against it.
    pub fn check_connection(
        &self,
        from: NicIndex,
        to: NicIndex,
        flow: &Flow,
    ) -> Result<ConnectionVerdict, String> {
        let side = |direction, nic| {
            let flow = Flow { direction, ..*flow };
            self.engine().check_reference(Target::Nic(nic), &flow)
        };
        let reference = ConnectionVerdict {
            egress: side(Direction::Egress, from),
            ingress: side(Direction::Ingress, to),
        };
        for (name, engine) in &self.engines {
            let verdict = engine.check_connection(from, to, flow);
            if verdict != reference {
                return Err(format!(
                    "{name} check_connection: {verdict:?}, the reference evaluator: {reference:?}"
                ));
            }
        }
        Ok(reference)
    }
}

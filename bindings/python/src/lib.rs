//! The `sgsim` Python package's native module (`sgsim._sgsim`): a thin layer over the sgsim
//! library. Every answer comes from the library's own functions — `Engine::check`, the CSV
//! contract's row parsing (`sgsim::eval::bulk::FieldReader`), audit, diff and the API simulator — so
//! Python gets exactly what the `sgsim` command prints.

mod arrow_eval;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use sgsim::analysis::audit::{audit_account, audit_target, AuditOptions, AuditReport};
use sgsim::analysis::check::{
    check, check_connection, source_port_open, CheckAnswer, ConnectionAnswer, ConnectionRange,
};
use sgsim::eval::explain::{explanation, verdict_line};
use sgsim::input::ecs::preserve::rewritten_snapshot_text;
use sgsim::input::ecs::write::snapshot_to_string;
use sgsim::model::{DestPorts, Direction, EvalOptions, Flow, NicIndex, NicType, Target, Verdict};
use sgsim::ConnectionVerdict;
use sgsim::{LoadError, Simulator, Snapshot};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Raises `sgsim.LoadError(message, path, value, file)`; the class lives in Python
/// (`sgsim/_errors.py`) so that it carries documented attributes.
fn load_error(py: Python<'_>, err: &LoadError, file: Option<&str>) -> PyErr {
    raise(
        py,
        "LoadError",
        (
            err.message.as_str(),
            err.path.as_str(),
            err.value.as_str(),
            file,
        ),
    )
}

/// Raises `sgsim.FlowError(message, field, value)`.
fn flow_error(py: Python<'_>, message: &str, field: &str, value: &str) -> PyErr {
    raise(py, "FlowError", (message, field, value))
}

fn raise<'py, A: pyo3::call::PyCallArgs<'py>>(py: Python<'py>, class: &str, args: A) -> PyErr {
    match py
        .import("sgsim._errors")
        .and_then(|module| module.getattr(class))
        .and_then(|class| class.call1(args))
    {
        Ok(instance) => PyErr::from_value(instance),
        Err(err) => err,
    }
}

/// Reads a snapshot as the `sgsim` command does: a file, a directory of API responses (every
/// `*.json` below), or `-` for stdin.
fn snapshot_from_path(py: Python<'_>, path: &Path) -> PyResult<Snapshot> {
    py.detach(|| Snapshot::from_path(path)).map_err(|err| {
        // The file inside a directory that failed, else the path that was given.
        let file = if err.file.is_empty() {
            path.display().to_string()
        } else {
            err.file.clone()
        };
        load_error(py, &err, Some(file.as_str()))
    })
}

/// Loads a snapshot from JSON text or from a dict/list (serialized by Python's `json`).
fn snapshot_from_text_or_json(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
    let text: String = match source.extract::<String>() {
        Ok(text) => text,
        Err(_) if source.is_instance_of::<PyDict>() || source.is_instance_of::<PyList>() => py
            .import("json")?
            .call_method1("dumps", (source,))?
            .extract()?,
        Err(_) => {
            return Err(PyTypeError::new_err(format!(
                "a snapshot must be JSON text (str) or a parsed JSON dict or list, not {}",
                source.get_type().name()?
            )))
        }
    };
    py.detach(|| Snapshot::from_json_str(&text))
        .map_err(|err| load_error(py, &err, None))
}

fn options(platform_rules: bool, internet: bool) -> EvalOptions {
    EvalOptions {
        platform_rules,
        nic_type: if internet {
            NicType::Internet
        } else {
            NicType::Intranet
        },
    }
}

/// A flow field given as str, int or None (None is the empty field of the CSV contract).
fn field_text(value: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<String> {
    let Some(value) = value else {
        return Ok(String::new());
    };
    if value.is_none() {
        return Ok(String::new());
    }
    if let Ok(text) = value.extract::<String>() {
        return Ok(text);
    }
    if !value.is_instance_of::<pyo3::types::PyBool>() {
        if let Ok(number) = value.extract::<i128>() {
            return Ok(number.to_string());
        }
    }
    Err(PyTypeError::new_err(format!(
        "{name}: expected str, int or None, not {}",
        value.get_type().name()?
    )))
}

/// An evaluation engine over one snapshot: `Engine.load(path)` or `Engine.loads(text_or_dict)`.
///
/// `check` and `check_connection` answer one flow with its deciding rule; `evaluate` answers
/// a pyarrow Table of flows on all cores; `audit` finds shadowed, redundant and risky rules.
#[pyclass(frozen, module = "sgsim")]
struct Engine {
    /// The engine `sgsim check` builds (compiles in milliseconds).
    interactive: sgsim::Engine,
    /// The engine `sgsim eval` builds (faster tables, up to ~0.1 s to build), on first use.
    bulk: OnceLock<sgsim::Engine>,
}

impl Engine {
    fn new(py: Python<'_>, snapshot: Snapshot, options: EvalOptions) -> Engine {
        Engine {
            interactive: py.detach(|| sgsim::Engine::builder(snapshot).options(options).build()),
            bulk: OnceLock::new(),
        }
    }

    fn bulk(&self) -> &sgsim::Engine {
        self.bulk.get_or_init(|| {
            sgsim::Engine::builder(self.interactive.snapshot().clone())
                .options(*self.interactive.options())
                .bulk()
                .build()
        })
    }

    fn target(&self, py: Python<'_>, id: &str, field: &str) -> PyResult<Target> {
        self.interactive
            .target(id)
            .map_err(|why| flow_error(py, &format!("{field}: {why}"), field, id))
    }

    fn nic(&self, py: Python<'_>, id: &str, field: &str) -> PyResult<NicIndex> {
        match self.target(py, id, field)? {
            Target::Nic(nic) => Ok(nic),
            Target::Group(_) => Err(flow_error(
                py,
                &format!("{field}: {id}: check_connection needs network interfaces, and the snapshot has none"),
                field,
                id,
            )),
        }
    }

    /// The flow, and whether its source port is left open (TCP or UDP without `sport`: the
    /// answer then covers every source port, as `sgsim check` without `--sport` does).
    #[allow(clippy::too_many_arguments)]
    fn flow(
        py: Python<'_>,
        direction: &str,
        protocol: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
        dst: &Bound<'_, PyAny>,
        sport: Option<&Bound<'_, PyAny>>,
        dport: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(Flow, bool)> {
        let protocol = field_text(Some(protocol), "protocol")?;
        let src = field_text(Some(src), "src")?;
        let dst = field_text(Some(dst), "dst")?;
        let sport = field_text(sport, "sport")?;
        let dport = field_text(dport, "dport")?;
        let flow = Flow::parse(direction, &protocol, &src, &sport, &dst, &dport)
            .map_err(|err| flow_error(py, &err.to_string(), err.field, &err.value))?;
        Ok((flow, source_port_open(!sport.is_empty(), flow.protocol)))
    }

    fn verdict(&self, target: Target, flow: &Flow, verdict: &Verdict) -> PyVerdict {
        let engine = &self.interactive;
        let rule = verdict.deciding_rule().map(|rule_ref| {
            let (group, rule) = engine.rule(rule_ref);
            RuleFields {
                security_group_id: group.id.clone(),
                id: rule.id.clone(),
                direction: rule.direction.as_str(),
                policy: rule.action.as_str(),
                priority: rule.priority,
                protocol: rule.protocol.to_string(),
                ports: match &rule.dest_ports {
                    DestPorts::Any => None,
                    DestPorts::Range(range) => Some(range.to_string()),
                    DestPorts::List(id) => Some(id.clone()),
                },
                source_ports: rule.source_ports.map(|range| range.to_string()),
                remote: rule.remote.to_string(),
                local: rule.local.map(|net| net.to_string()),
                nic_type: rule.nic_type.as_str(),
                description: rule.description.clone(),
                create_time: rule.create_time.clone(),
                summary: rule.summary(),
            }
        });
        PyVerdict {
            target: engine.snapshot().target_id(target).to_string(),
            flow: flow.to_string(),
            verdict: verdict.action.as_str(),
            reason: Some(verdict.reason.as_str()),
            explanation: explanation(engine, target, flow, verdict),
            line: verdict_line(engine, target, flow, verdict),
            rule,
            source_ports: None,
        }
    }

    /// The answer as a Verdict: the one verdict when every source port asked about gets it,
    /// else "depends", with the ranges in `source_ports` whenever the source port was open.
    fn check_answer(&self, py: Python<'_>, answer: &CheckAnswer) -> PyResult<PyVerdict> {
        let engine = &self.interactive;
        let (target, flow) = (answer.target, &answer.flow);
        let mut out = match answer.single() {
            Some(verdict) => self.verdict(target, flow, verdict),
            None => PyVerdict {
                target: engine.snapshot().target_id(target).to_string(),
                flow: String::new(),
                verdict: "depends",
                reason: None,
                explanation: "the verdict depends on the source port: see source_ports".into(),
                line: answer.text(engine).trim_end().to_string(),
                rule: None,
                source_ports: None,
            },
        };
        out.flow = answer.flow_text();
        if answer.sport_open {
            let ranges = answer.ranges.iter().map(|r| {
                let at = Flow {
                    src_port: r.from,
                    ..*flow
                };
                Ok((
                    r.from,
                    r.to,
                    Py::new(py, self.verdict(target, &at, &r.verdict))?,
                ))
            });
            out.source_ports = Some(ranges.collect::<PyResult<_>>()?);
        }
        Ok(out)
    }

    /// One connection verdict (both sides at source port `port`) as a ConnectionVerdict.
    fn connection_verdict(
        &self,
        py: Python<'_>,
        answer: &ConnectionAnswer,
        verdict: &ConnectionVerdict,
        port: u16,
    ) -> PyResult<PyConnectionVerdict> {
        let (from, to) = answer.ends;
        let side = |nic, direction, verdict: &Verdict| {
            let flow = Flow {
                direction,
                src_port: port,
                ..answer.flow
            };
            Py::new(py, self.verdict(Target::Nic(nic), &flow, verdict))
        };
        Ok(PyConnectionVerdict {
            verdict: verdict.action().as_str(),
            blocked_by: Some(
                verdict
                    .blocking_sides()
                    .iter()
                    .map(|(direction, _)| direction.as_str())
                    .collect(),
            ),
            egress: Some(side(from, Direction::Egress, &verdict.egress)?),
            ingress: Some(side(to, Direction::Ingress, &verdict.ingress)?),
            text: String::new(),
            source_ports: None,
        })
    }

    /// The two-NIC answer as a ConnectionVerdict ("depends" as for `check_answer`).
    fn connection_answer(
        &self,
        py: Python<'_>,
        answer: &ConnectionAnswer,
    ) -> PyResult<PyConnectionVerdict> {
        let mut out = match answer.single() {
            Some(verdict) => self.connection_verdict(py, answer, verdict, answer.ranges[0].from)?,
            None => PyConnectionVerdict {
                verdict: "depends",
                blocked_by: None,
                egress: None,
                ingress: None,
                text: String::new(),
                source_ports: None,
            },
        };
        out.text = answer.text(&self.interactive);
        if answer.sport_open {
            let ranges = answer.ranges.iter().map(|r| {
                let mut one = self.connection_verdict(py, answer, &r.verdict, r.from)?;
                one.text = one_range_text(&self.interactive, answer, r);
                Ok((r.from, r.to, Py::new(py, one)?))
            });
            out.source_ports = Some(ranges.collect::<PyResult<_>>()?);
        }
        Ok(out)
    }
}

/// The text of one range's connection answer, as `sgsim check --from --to --sport FROM`
/// prints it.
fn one_range_text(
    engine: &sgsim::Engine,
    answer: &ConnectionAnswer,
    range: &ConnectionRange,
) -> String {
    let one = ConnectionAnswer {
        flow: Flow {
            src_port: range.from,
            ..answer.flow
        },
        sport_open: false,
        ranges: vec![range.clone()],
        ..*answer
    };
    one.text(engine)
}

#[pymethods]
impl Engine {
    /// Loads a snapshot file (the JSON the `sgsim` command reads) and compiles it.
    ///
    /// platform_rules=False turns off the platform's block of egress TCP 25 to public IPv4
    /// addresses (S13); internet=True asks about the internet side of classic-network groups.
    /// Raises LoadError naming the file, the JSON path, the value and what would be valid.
    #[staticmethod]
    #[pyo3(signature = (path, *, platform_rules = true, internet = false))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        platform_rules: bool,
        internet: bool,
    ) -> PyResult<Engine> {
        let snapshot = snapshot_from_path(py, &path)?;
        Ok(Engine::new(py, snapshot, options(platform_rules, internet)))
    }

    /// Loads a snapshot from JSON text or from its parsed form (a dict, or a list of
    /// Permission objects) and compiles it. Options as for Engine.load.
    #[staticmethod]
    #[pyo3(signature = (text_or_dict, *, platform_rules = true, internet = false))]
    fn loads(
        py: Python<'_>,
        text_or_dict: &Bound<'_, PyAny>,
        platform_rules: bool,
        internet: bool,
    ) -> PyResult<Engine> {
        let snapshot = snapshot_from_text_or_json(py, text_or_dict)?;
        Ok(Engine::new(py, snapshot, options(platform_rules, internet)))
    }

    /// The verdict on one flow at one NIC (or, for a snapshot of a bare group, the group id; ""
    /// picks its only group), as `sgsim check` gives it.
    ///
    /// protocol: tcp, udp, icmp, icmpv6, gre or a number; ports: int, str or None. Without
    /// sport (TCP, UDP) the answer covers every source port, as `sgsim check` without --sport:
    /// `source_ports` lists the ranges and `verdict` is "depends" when they disagree. Raises
    /// FlowError on a bad field or an unknown NIC.
    #[pyo3(signature = (nic, direction, protocol, src, dst, sport = None, dport = None))]
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        py: Python<'_>,
        nic: &str,
        direction: &str,
        protocol: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
        dst: &Bound<'_, PyAny>,
        sport: Option<&Bound<'_, PyAny>>,
        dport: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyVerdict> {
        let target = self.target(py, nic, "nic")?;
        let (flow, sport_open) = Engine::flow(py, direction, protocol, src, dst, sport, dport)?;
        let answer = check(&self.interactive, target, &flow, sport_open);
        self.check_answer(py, &answer)
    }

    /// The two-NIC question (S15): the flow leaves src_nic (its egress rules) and enters
    /// dst_nic (its ingress rules); accepted only when both sides accept. Without sport, every
    /// source port, as for check.
    #[pyo3(signature = (src_nic, dst_nic, protocol, src, dst, sport = None, dport = None))]
    #[allow(clippy::too_many_arguments)]
    fn check_connection(
        &self,
        py: Python<'_>,
        src_nic: &str,
        dst_nic: &str,
        protocol: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
        dst: &Bound<'_, PyAny>,
        sport: Option<&Bound<'_, PyAny>>,
        dport: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyConnectionVerdict> {
        let from = self.nic(py, src_nic, "src_nic")?;
        let to = self.nic(py, dst_nic, "dst_nic")?;
        let (flow, sport_open) = Engine::flow(py, "egress", protocol, src, dst, sport, dport)?;
        let answer = check_connection(&self.interactive, from, to, &flow, sport_open);
        self.connection_answer(py, &answer)
    }

    /// Evaluates a pyarrow Table or RecordBatch of flows (the columns of the `sgsim eval` CSV:
    /// nic_id, direction, protocol, src_ip, src_port, dst_ip, dst_port; strings or integers,
    /// null where the CSV would be empty; other columns are ignored) on `threads` threads
    /// (default: all cores), without the GIL.
    ///
    /// Returns a pyarrow Table, one row per input row in order, with the columns verdict
    /// ("accept", "drop", or "error" for a row that cannot be evaluated), reason,
    /// security_group_id, rule_id (null where `sgsim eval` writes an empty field) and error
    /// (the message `sgsim eval` reports for a bad row, else null). Raises FlowError when a
    /// column is missing or of a type that is neither strings nor integers.
    #[pyo3(signature = (data, threads = None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if threads == Some(0) {
            return Err(PyValueError::new_err("threads: expected at least 1"));
        }
        // Anything that speaks the Arrow PyCapsule interface (pyarrow >= 14, polars, …).
        if !data.hasattr("__arrow_c_stream__")? && !data.hasattr("__arrow_c_array__")? {
            return Err(PyTypeError::new_err(format!(
                "data: expected a pyarrow Table or RecordBatch (an object with \
                 __arrow_c_stream__ or __arrow_c_array__), not {}",
                data.get_type().name()?
            )));
        }
        let reader = data
            .extract::<pyo3_arrow::input::AnyRecordBatch>()?
            .into_reader()?;
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| PyValueError::new_err(format!("reading the Arrow input: {err}")))?;
        let engine = py.detach(|| self.bulk());
        let output = py
            .detach(|| arrow_eval::evaluate(engine, &batches, threads))
            .map_err(|err| match err {
                arrow_eval::EvalError::Column { column, message } => {
                    flow_error(py, &message, &column, "")
                }
                arrow_eval::EvalError::Threads(message) => PyValueError::new_err(message),
            })?;
        pyo3_arrow::PyTable::try_new(output, arrow_eval::output_schema())?.into_pyarrow(py)
    }

    /// Shadowed, redundant and risky rules per NIC and direction: the data of
    /// `sgsim audit --json`, as dicts and lists. nic: audit only this NIC; ports: more
    /// sensitive destination ports (added to 22, 3389, 3306, 5432, 6379, 27017, 9200, 11211,
    /// 2375, 5900).
    #[pyo3(signature = (nic = None, ports = None))]
    fn audit<'py>(
        &self,
        py: Python<'py>,
        nic: Option<&str>,
        ports: Option<Vec<u16>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut options = AuditOptions::default();
        options.sensitive_ports.extend(ports.unwrap_or_default());
        let engine = &self.interactive;
        let report = match nic {
            Some(id) => {
                let target = self.target(py, id, "nic")?;
                py.detach(|| AuditReport::of_targets(vec![audit_target(engine, target, &options)]))
            }
            None => py.detach(|| audit_account(engine, &options)),
        };
        to_python(py, &with_schema_version(&report)?)
    }

    /// The snapshot as the ECS API's JSON text (what `sgsim apply` writes).
    fn snapshot_json(&self) -> String {
        snapshot_to_string(self.interactive.snapshot())
    }

    /// The NIC ids of the snapshot, in its order.
    #[getter]
    fn nics(&self) -> Vec<String> {
        let snapshot = self.interactive.snapshot();
        snapshot.nics().iter().map(|nic| nic.id.clone()).collect()
    }

    /// The security group ids of the snapshot, in its order.
    #[getter]
    fn security_groups(&self) -> Vec<String> {
        let snapshot = self.interactive.snapshot();
        snapshot
            .groups()
            .iter()
            .map(|group| group.id.clone())
            .collect()
    }

    fn __repr__(&self) -> String {
        let snapshot = self.interactive.snapshot();
        format!(
            "<sgsim.Engine: {} security groups, {} NICs>",
            snapshot.groups().len(),
            snapshot.nics().len()
        )
    }
}

/// Serializable library data as Python dicts and lists, through JSON so that it is exactly
/// what `--json` prints.
/// `{"schema_version": 1, …}`: the CLI's `--json` of audit and diff (docs/json.md).
fn with_schema_version(report: &impl serde::Serialize) -> PyResult<serde_json::Value> {
    let mut value = serde_json::json!({ "schema_version": 1 });
    match serde_json::to_value(report) {
        Ok(serde_json::Value::Object(map)) => value.as_object_mut().expect("an object").extend(map),
        Ok(_) => {}
        Err(err) => return Err(PyValueError::new_err(err.to_string())),
    }
    Ok(value)
}

fn to_python<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|err| PyValueError::new_err(format!("serializing the report: {err}")))?;
    py.import("json")?.call_method1("loads", (text,))
}

struct RuleFields {
    security_group_id: String,
    id: String,
    direction: &'static str,
    policy: &'static str,
    priority: u8,
    protocol: String,
    ports: Option<String>,
    source_ports: Option<String>,
    remote: String,
    local: Option<String>,
    nic_type: &'static str,
    description: String,
    create_time: String,
    summary: String,
}

/// The answer for one flow: `.verdict` ("accept" or "drop"; "depends" when the source port
/// was left open and the ports disagree), `.reason` ("rule", "default", "inner_access" or
/// "platform"), the deciding rule's `.security_group_id`, `.rule_id` and `.rule` (its fields
/// as a dict; all None when no rule decided), `.source_ports` (when the source port was left
/// open: `(from, to, Verdict)` per range) and `str(v)`, the line `sgsim check` prints.
#[pyclass(frozen, name = "Verdict", module = "sgsim")]
struct PyVerdict {
    target: String,
    flow: String,
    verdict: &'static str,
    reason: Option<&'static str>,
    explanation: String,
    line: String,
    rule: Option<RuleFields>,
    source_ports: Option<Vec<SourcePorts<PyVerdict>>>,
}

/// `(from, to, answer)`: source ports `from..=to` and the answer each of them gets.
type SourcePorts<T> = (u16, u16, Py<T>);

#[pymethods]
impl PyVerdict {
    /// "accept" or "drop"; "depends" when the source port was left open and the ports get
    /// different verdicts (see `source_ports`).
    #[getter]
    fn verdict(&self) -> &'static str {
        self.verdict
    }

    /// "rule", "default", "inner_access" or "platform"; None for "depends".
    #[getter]
    fn reason(&self) -> Option<&'static str> {
        self.reason
    }

    /// When `sport` was not given (TCP or UDP): `[(from, to, Verdict), ...]`, every source
    /// port's verdict by ranges in port order; else None.
    #[getter]
    fn source_ports(&self, py: Python<'_>) -> Option<Vec<SourcePorts<PyVerdict>>> {
        clone_ranges(py, &self.source_ports)
    }

    /// The deciding rule's group, or None.
    #[getter]
    fn security_group_id(&self) -> Option<&str> {
        self.rule
            .as_ref()
            .map(|rule| rule.security_group_id.as_str())
    }

    /// The deciding rule's id, or None.
    #[getter]
    fn rule_id(&self) -> Option<&str> {
        self.rule.as_ref().map(|rule| rule.id.as_str())
    }

    /// The deciding rule's fields (id, security_group_id, direction, policy, priority,
    /// protocol, ports, source_ports, remote, local, nic_type, description, create_time,
    /// summary), or None.
    #[getter]
    fn rule<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(rule) = &self.rule else {
            return Ok(None);
        };
        let dict = PyDict::new(py);
        dict.set_item("id", &rule.id)?;
        dict.set_item("security_group_id", &rule.security_group_id)?;
        dict.set_item("direction", rule.direction)?;
        dict.set_item("policy", rule.policy)?;
        dict.set_item("priority", rule.priority)?;
        dict.set_item("protocol", &rule.protocol)?;
        dict.set_item("ports", &rule.ports)?;
        dict.set_item("source_ports", &rule.source_ports)?;
        dict.set_item("remote", &rule.remote)?;
        dict.set_item("local", &rule.local)?;
        dict.set_item("nic_type", rule.nic_type)?;
        dict.set_item("description", &rule.description)?;
        dict.set_item("create_time", &rule.create_time)?;
        dict.set_item("summary", &rule.summary)?;
        Ok(Some(dict))
    }

    /// What decided, without the verdict word (the text after "by").
    #[getter]
    fn explanation(&self) -> &str {
        &self.explanation
    }

    /// The NIC (or group) the flow was evaluated on.
    #[getter]
    fn target(&self) -> &str {
        &self.target
    }

    /// The flow as `sgsim check` shows it: `ingress tcp 203.0.113.9:0 -> 10.0.1.10:22`.
    #[getter]
    fn flow(&self) -> &str {
        &self.flow
    }

    fn __bool__(&self) -> bool {
        self.verdict == "accept"
    }

    fn __str__(&self) -> &str {
        &self.line
    }

    fn __repr__(&self) -> String {
        format!("<sgsim.Verdict {}: {}>", self.target, self.line)
    }
}

/// The answer to the two-NIC question: `.verdict`, `.blocked_by` (the sides that drop, egress
/// first), `.egress` and `.ingress` (each a Verdict), and `str(c)` as `sgsim check --from
/// --to` prints it.
#[pyclass(frozen, name = "ConnectionVerdict", module = "sgsim")]
struct PyConnectionVerdict {
    verdict: &'static str,
    blocked_by: Option<Vec<&'static str>>,
    egress: Option<Py<PyVerdict>>,
    ingress: Option<Py<PyVerdict>>,
    text: String,
    source_ports: Option<Vec<SourcePorts<PyConnectionVerdict>>>,
}

fn clone_ranges<T>(
    py: Python<'_>,
    ranges: &Option<Vec<SourcePorts<T>>>,
) -> Option<Vec<SourcePorts<T>>> {
    ranges.as_ref().map(|ranges| {
        ranges
            .iter()
            .map(|(from, to, answer)| (*from, *to, answer.clone_ref(py)))
            .collect()
    })
}

#[pymethods]
impl PyConnectionVerdict {
    /// "accept" when both sides accept, else "drop"; "depends" when the source port was left
    /// open and the ports get different answers (see `source_ports`).
    #[getter]
    fn verdict(&self) -> &'static str {
        self.verdict
    }

    /// The sides that drop: "egress", "ingress", both or none; None for "depends".
    #[getter]
    fn blocked_by(&self) -> Option<Vec<&'static str>> {
        self.blocked_by.clone()
    }

    /// The source NIC's egress verdict (None for "depends").
    #[getter]
    fn egress(&self, py: Python<'_>) -> Option<Py<PyVerdict>> {
        self.egress.as_ref().map(|v| v.clone_ref(py))
    }

    /// The destination NIC's ingress verdict (None for "depends").
    #[getter]
    fn ingress(&self, py: Python<'_>) -> Option<Py<PyVerdict>> {
        self.ingress.as_ref().map(|v| v.clone_ref(py))
    }

    /// When `sport` was not given (TCP or UDP): `[(from, to, ConnectionVerdict), ...]` by
    /// ranges of source ports in port order; else None.
    #[getter]
    fn source_ports(&self, py: Python<'_>) -> Option<Vec<SourcePorts<PyConnectionVerdict>>> {
        clone_ranges(py, &self.source_ports)
    }

    fn __bool__(&self) -> bool {
        self.verdict == "accept"
    }

    fn __str__(&self) -> &str {
        self.text.trim_end()
    }

    fn __repr__(&self) -> String {
        format!(
            "<sgsim.ConnectionVerdict {}>",
            self.text.lines().next().unwrap_or_default()
        )
    }
}

/// An Engine, or a snapshot to load into one (a path, JSON text, or a dict).
fn engine_of<'a>(
    py: Python<'_>,
    value: &'a Bound<'_, PyAny>,
    keep: &'a mut Option<sgsim::Engine>,
    options: EvalOptions,
) -> PyResult<&'a sgsim::Engine> {
    if let Ok(engine) = value.cast::<Engine>() {
        return Ok(&engine.get().interactive);
    }
    let snapshot = load_any(py, value)?;
    Ok(keep.insert(py.detach(|| sgsim::Engine::builder(snapshot).options(options).build())))
}

/// A snapshot given as a path (str or os.PathLike naming a file), JSON text (a str starting
/// with `{` or `[`), or a parsed dict or list.
fn load_any(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
    if let Ok(text) = value.extract::<String>() {
        let body = text.trim_start_matches('\u{feff}').trim_start();
        if body.starts_with('{') || body.starts_with('[') {
            return snapshot_from_text_or_json(py, value);
        }
        return snapshot_from_path(py, Path::new(&text));
    }
    if value.is_instance_of::<PyDict>() || value.is_instance_of::<PyList>() {
        return snapshot_from_text_or_json(py, value);
    }
    match value.extract::<PathBuf>() {
        Ok(path) => snapshot_from_path(py, &path),
        Err(_) => Err(PyTypeError::new_err(format!(
            "a snapshot must be an Engine, a path, JSON text or a dict, not {}",
            value.get_type().name()?
        ))),
    }
}

/// The regions of flows whose verdict changes from `old` to `new` (each an Engine, a snapshot
/// path, JSON text or a dict): the data of `sgsim diff --json`. Snapshots given as paths or
/// text are evaluated with the options platform_rules and internet.
#[pyfunction]
#[pyo3(signature = (old, new, *, platform_rules = true, internet = false))]
fn diff<'py>(
    py: Python<'py>,
    old: &Bound<'py, PyAny>,
    new: &Bound<'py, PyAny>,
    platform_rules: bool,
    internet: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let options = options(platform_rules, internet);
    let (mut old_kept, mut new_kept) = (None, None);
    let old = engine_of(py, old, &mut old_kept, options)?;
    let new = engine_of(py, new, &mut new_kept, options)?;
    let report = py.detach(|| sgsim::analysis::diff::diff(old, new));
    to_python(py, &with_schema_version(&report)?)
}

/// Applies ECS API calls to a snapshot, as `sgsim apply` does.
///
/// snapshot_path_or_text: a path, JSON text, a dict or an Engine. request: one call — a query
/// string (`Action=AuthorizeSecurityGroup&…`), JSON text or a dict of its parameters — or a
/// list of calls, applied in order. seed and now make new ids and CreateTimes reproducible.
///
/// Returns (answer, new_snapshot_text): the API's JSON answer as a dict (a list of them for a
/// list of calls, up to the first rejected one) and the new snapshot as JSON text, or None
/// when a call was rejected (then nothing changes, as with `sgsim apply`).
#[pyfunction]
#[pyo3(signature = (snapshot_path_or_text, request, *, seed = None, now = None))]
fn apply<'py>(
    py: Python<'py>,
    snapshot_path_or_text: &Bound<'py, PyAny>,
    request: &Bound<'py, PyAny>,
    seed: Option<u64>,
    now: Option<i64>,
) -> PyResult<(Bound<'py, PyAny>, Option<String>)> {
    let snapshot = match snapshot_path_or_text.cast::<Engine>() {
        Ok(engine) => engine.get().interactive.snapshot().clone(),
        Err(_) => load_any(py, snapshot_path_or_text)?,
    };
    // The text `sgsim apply` would patch: a snapshot file's, or JSON text given as such.
    let original: Option<String> = match snapshot_path_or_text.extract::<PathBuf>() {
        Ok(path) if path.is_file() => std::fs::read_to_string(&path).ok(),
        _ => snapshot_path_or_text
            .extract::<String>()
            .ok()
            .filter(|text| text.trim_start().starts_with('{')),
    };
    let single = !request.is_instance_of::<PyList>();
    let requests: Vec<Bound<'py, PyAny>> = if single {
        vec![request.clone()]
    } else {
        request.try_iter()?.collect::<PyResult<_>>()?
    };
    let texts = requests
        .iter()
        .enumerate()
        .map(|(index, request)| request_text(py, request, index))
        .collect::<PyResult<Vec<String>>>()?;
    let before = snapshot.clone();
    let mut sim = match seed {
        Some(seed) => Simulator::with_seed(snapshot, seed),
        None => Simulator::new(snapshot),
    };
    sim.set_clock(now);
    let mut answers = Vec::new();
    let mut rejected = false;
    for text in &texts {
        let answer = py.detach(|| sim.apply_text(text));
        rejected = answer.error.is_some();
        answers.push(answer.body);
        if rejected {
            break;
        }
    }
    let new_text = (!rejected).then(|| {
        py.detach(|| rewritten_snapshot_text(original.as_deref(), &before, sim.snapshot()))
    });
    let answer = if single {
        to_python(py, &answers[0])?
    } else {
        to_python(py, &answers)?
    };
    Ok((answer, new_text))
}

/// A request as text: a str as it is (query string or JSON), a dict as JSON.
fn request_text(py: Python<'_>, request: &Bound<'_, PyAny>, index: usize) -> PyResult<String> {
    if let Ok(text) = request.extract::<String>() {
        return Ok(text);
    }
    if request.is_instance_of::<PyDict>() {
        return py
            .import("json")?
            .call_method1("dumps", (request,))?
            .extract();
    }
    Err(PyTypeError::new_err(format!(
        "request {index}: expected a query string, JSON text or a dict of parameters, not {}",
        request.get_type().name()?
    )))
}

/// The native module; `sgsim/__init__.py` re-exports it with the exceptions.
#[pymodule]
fn _sgsim(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add_class::<PyVerdict>()?;
    m.add_class::<PyConnectionVerdict>()?;
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_function(wrap_pyfunction!(apply, m)?)?;
    m.add("INPUT_COLUMNS", sgsim::input::flows::INPUT_COLUMNS.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

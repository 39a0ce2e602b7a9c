//! Every input format, each with one home here and each reading into [`crate::model`] types:
//!
//! - [`ecs`]: the ECS API's JSON — single responses, whole-account dumps made with the
//!   `aliyun` CLI, the snapshot document — validated into a [`crate::Snapshot`], and written
//!   back in the same shapes (what `sgsim apply` saves).
//! - [`flows`]: the flows CSV of `sgsim eval` and `sgsim bench` (one five-tuple per row).
//! - [`classbench`]: ClassBench filter sets and traces, as a snapshot and flows.
//! - [`flowlog`]: Alibaba VPC flow-log records (SLS JSON, CSV, Parquet).
//!
//! A new format gets its own file or folder here; what it reads must end as `model` values, so
//! that nothing past `input` needs to know where a rule or a flow came from.

pub mod classbench;
pub mod ecs;
pub mod flowlog;
pub mod flows;

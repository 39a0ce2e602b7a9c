//! The control plane: the ECS security-group API, simulated (S17–S20).
//!
//! A [`Simulator`] holds a snapshot and applies API calls to it — typed ([`ApiCall`]) or raw
//! (the JSON or query-string parameters the real API takes). Each call is validated as the API
//! does and answered as the API answers: `{"RequestId": …}` on success, or the documented error
//! code, message and HTTP status. A rejected call changes nothing; a call with several
//! permissions is all-or-nothing.
//!
//! Actions: AuthorizeSecurityGroup(Egress), RevokeSecurityGroup(Egress),
//! ModifySecurityGroupRule, ModifySecurityGroupEgressRule, ModifySecurityGroupPolicy,
//! CreateSecurityGroup, DeleteSecurityGroup, ModifyNetworkInterfaceAttribute
//! (`SecurityGroupId.N`), CreateNetworkInterface and DeleteNetworkInterface.
//!
//! ```
//! use sgsim::control::{ErrorCode, Simulator};
//! use sgsim::Snapshot;
//!
//! let snapshot = Snapshot::from_json_str(r#"{"SecurityGroups": [
//!     {"SecurityGroupId": "sg-web", "VpcId": "vpc-1"}]}"#)?;
//! let mut sim = Simulator::new(snapshot);
//! let answer = sim.apply_text(r#"{"Action": "AuthorizeSecurityGroup", "RegionId": "cn-hangzhou",
//!     "SecurityGroupId": "sg-web", "Permissions": [
//!       {"IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0"}]}"#);
//! assert!(answer.is_ok());
//! assert_eq!(sim.snapshot().groups()[0].rules.len(), 1);
//!
//! let answer = sim.apply_text("Action=AuthorizeSecurityGroup&RegionId=cn-hangzhou\
//!     &SecurityGroupId=sg-web&Permissions.1.IpProtocol=TCP&Permissions.1.PortRange=0/80\
//!     &Permissions.1.SourceCidrIp=0.0.0.0/0");
//! let error = answer.error.unwrap();
//! assert_eq!(error.code, ErrorCode::PortRange);
//! assert_eq!((error.code.as_str(), error.http_status), ("InvalidParam.PortRange", 400));
//! assert_eq!(sim.snapshot().groups()[0].rules.len(), 1); // unchanged
//!
//! let engine = sim.engine(); // evaluate flows against the current state
//! # let _ = engine;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `docs/control-plane.md` lists every error code and the choices the documentation leaves open.

mod apply;
pub mod error;
mod ids;
pub mod request;
mod simulator;
mod validate;

pub use apply::MAX_GROUPS_PER_NIC;
pub use error::{ApiError, ErrorCode};
pub use ids::utc_timestamp;
pub use request::{
    ApiCall, NicRequest, PermissionParams, Request, MAX_PERMISSIONS, PERMISSION_FIELDS,
};
pub use simulator::{Answer, Simulator};
pub use validate::{MAX_GROUP_RULES, MAX_NIC_RULES, MAX_RULE_DESCRIPTION};

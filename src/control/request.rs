//! API calls as the ECS API takes them: a JSON object of parameters (`{"Action": …,
//! "Permissions": [ {…} ]}`) or the query-string form (`Action=…&Permissions.1.IpProtocol=tcp`),
//! parsed into a typed [`ApiCall`]. Only the shape is checked here; values are validated when
//! the call is applied, against the snapshot.

use super::error::{ApiError, ErrorCode};
use crate::model::Direction;
use serde_json::Value;
use std::collections::BTreeMap;

/// Most permissions (and rule ids) one call may carry (S19).
pub const MAX_PERMISSIONS: usize = 100;

/// The per-rule parameters, by their API names (`Permissions.N.<name>`, or the deprecated
/// top-level parameters of the same names).
pub const PERMISSION_FIELDS: [&str; 20] = [
    "Policy",
    "Priority",
    "IpProtocol",
    "PortRange",
    "PortRangeListId",
    "SourcePortRange",
    "SourceCidrIp",
    "Ipv6SourceCidrIp",
    "SourceGroupId",
    "SourceGroupOwnerAccount",
    "SourceGroupOwnerId",
    "SourcePrefixListId",
    "DestCidrIp",
    "Ipv6DestCidrIp",
    "DestGroupId",
    "DestGroupOwnerAccount",
    "DestGroupOwnerId",
    "DestPrefixListId",
    "NicType",
    "Description",
];

/// Parameters every API call may carry that say nothing about what it does (signature, format,
/// …). They are accepted and ignored, and are not part of a call's fingerprint.
const COMMON_PARAMETERS: [&str; 14] = [
    "Version",
    "Format",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Signature",
    "Timestamp",
    "SecurityToken",
    "OwnerId",
    "OwnerAccount",
    "ResourceOwnerId",
    "ResourceOwnerAccount",
    "ResourceGroupId",
];

/// One rule's parameters as given: present keys only, values as text (a JSON number `1` is
/// `"1"`). Present-but-empty is kept apart from absent: ModifySecurityGroupRule refuses to
/// clear a field (S20).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermissionParams {
    fields: BTreeMap<String, String>,
}

impl PermissionParams {
    /// No parameters.
    pub fn new() -> PermissionParams {
        PermissionParams::default()
    }

    /// Sets a parameter (builder style). Names outside [`PERMISSION_FIELDS`] are ignored, as the
    /// API ignores unknown parameters.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> PermissionParams {
        self.insert(name, value.into());
        self
    }

    /// Sets a parameter. Names outside [`PERMISSION_FIELDS`] are ignored, as the API ignores
    /// unknown parameters.
    pub fn insert(&mut self, name: &str, value: String) {
        if PERMISSION_FIELDS.contains(&name) {
            self.fields.insert(name.to_string(), value);
        }
    }

    /// The value when the parameter is present (possibly empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// The value when present and not empty: the API's `""` means unset.
    pub fn set(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// Whether no parameter is present.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The present parameters, `(name, value)`, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.fields.remove(name);
    }
}

/// What a call asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// AuthorizeSecurityGroup (ingress) / AuthorizeSecurityGroupEgress.
    Authorize {
        /// Ingress for AuthorizeSecurityGroup, egress for AuthorizeSecurityGroupEgress.
        direction: Direction,
        /// `SecurityGroupId`: the group the rules go into.
        group_id: String,
        /// `Permissions.N` (or the top-level rule parameters as one permission).
        permissions: Vec<PermissionParams>,
    },
    /// RevokeSecurityGroup / RevokeSecurityGroupEgress: by rule ids, or by fields (S18).
    Revoke {
        /// Ingress for RevokeSecurityGroup, egress for RevokeSecurityGroupEgress.
        direction: Direction,
        /// `SecurityGroupId`.
        group_id: String,
        /// `SecurityGroupRuleId.N`; empty when revoking by fields.
        rule_ids: Vec<String>,
        /// `Permissions.N` (or the top-level rule parameters); empty when revoking by id.
        permissions: Vec<PermissionParams>,
    },
    /// ModifySecurityGroupRule / ModifySecurityGroupEgressRule: by rule id (S20), or without one
    /// the legacy form that finds the rule by its fields and changes its priority and description.
    ModifyRule {
        /// Ingress for ModifySecurityGroupRule, egress for ModifySecurityGroupEgressRule.
        direction: Direction,
        /// `SecurityGroupId`.
        group_id: String,
        /// `SecurityGroupRuleId`; `None` is the legacy form.
        rule_id: Option<String>,
        /// The top-level rule parameters sent: only these are changed.
        params: PermissionParams,
    },
    /// ModifySecurityGroupPolicy.
    ModifyPolicy {
        /// `SecurityGroupId`.
        group_id: String,
        /// `InnerAccessPolicy` as given (`Accept` or `Drop`, any case).
        inner_access_policy: String,
    },
    /// CreateSecurityGroup. Empty strings mean not given.
    CreateGroup {
        /// `VpcId`; empty makes a classic-network group.
        vpc_id: String,
        /// `SecurityGroupName`.
        name: String,
        /// `Description`.
        description: String,
        /// `SecurityGroupType`: `normal` (default) or `enterprise`.
        group_type: String,
    },
    /// DeleteSecurityGroup.
    DeleteGroup {
        /// `SecurityGroupId`.
        group_id: String,
    },
    /// ModifyNetworkInterfaceAttribute: `SecurityGroupId.N` replaces the NIC's groups (`None`:
    /// the call changes no groups).
    ModifyNic {
        /// `NetworkInterfaceId`.
        nic_id: String,
        /// `SecurityGroupId.N`: the NIC's new group list.
        group_ids: Option<Vec<String>>,
    },
    /// CreateNetworkInterface: a NIC in the groups' VPC with the given addresses. The simulator
    /// cannot allocate addresses, so `PrimaryIpAddress` is required.
    CreateNic(NicRequest),
    /// DeleteNetworkInterface.
    DeleteNic {
        /// `NetworkInterfaceId`.
        nic_id: String,
    },
}

impl Request {
    /// The API action name of this request.
    pub fn action(&self) -> &'static str {
        match self {
            Request::Authorize {
                direction: Direction::Ingress,
                ..
            } => "AuthorizeSecurityGroup",
            Request::Authorize { .. } => "AuthorizeSecurityGroupEgress",
            Request::Revoke {
                direction: Direction::Ingress,
                ..
            } => "RevokeSecurityGroup",
            Request::Revoke { .. } => "RevokeSecurityGroupEgress",
            Request::ModifyRule {
                direction: Direction::Ingress,
                ..
            } => "ModifySecurityGroupRule",
            Request::ModifyRule { .. } => "ModifySecurityGroupEgressRule",
            Request::ModifyPolicy { .. } => "ModifySecurityGroupPolicy",
            Request::CreateGroup { .. } => "CreateSecurityGroup",
            Request::DeleteGroup { .. } => "DeleteSecurityGroup",
            Request::ModifyNic { .. } => "ModifyNetworkInterfaceAttribute",
            Request::CreateNic(_) => "CreateNetworkInterface",
            Request::DeleteNic { .. } => "DeleteNetworkInterface",
        }
    }
}

/// The parameters of a CreateNetworkInterface call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NicRequest {
    /// `VSwitchId` (kept, not checked: VSwitches are not in the model).
    pub vswitch_id: String,
    /// `SecurityGroupId` and `SecurityGroupIds.N`, in order.
    pub group_ids: Vec<String>,
    /// `PrimaryIpAddress`.
    pub primary_ip: String,
    /// `PrivateIpAddress.N`.
    pub secondary_ips: Vec<String>,
    /// `Ipv6Address.N`.
    pub ipv6_addresses: Vec<String>,
    /// `NetworkInterfaceName`.
    pub name: String,
    /// `Description`.
    pub description: String,
}

/// One API call: the request plus the parameters every call carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiCall {
    /// `RegionId`; the API requires it (`MissingParameter` otherwise).
    pub region_id: Option<String>,
    /// `ClientToken`, for idempotent retries.
    pub client_token: Option<String>,
    /// The action and its own parameters.
    pub request: Request,
}

impl ApiCall {
    /// A call in `region_id` without a client token.
    pub fn new(region_id: &str, request: Request) -> ApiCall {
        ApiCall {
            region_id: Some(region_id.to_string()),
            client_token: None,
            request,
        }
    }

    /// Parses either form: a JSON object (text starting with `{`), or a query string (optionally
    /// a whole URL, or starting with `?`).
    pub fn parse(text: &str) -> Result<ApiCall, ApiError> {
        let trimmed = text.trim_start_matches('\u{feff}').trim();
        if trimmed.starts_with('{') {
            ApiCall::from_json_str(trimmed)
        } else {
            ApiCall::from_query(trimmed)
        }
    }

    /// Parses the JSON form.
    pub fn from_json_str(text: &str) -> Result<ApiCall, ApiError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            ErrorCode::InvalidParameter
                .with(&format!("The request is not a valid JSON object: {e}"))
        })?;
        ApiCall::from_json(&value)
    }

    /// Parses an already parsed JSON object of parameters.
    pub fn from_json(value: &Value) -> Result<ApiCall, ApiError> {
        ApiCall::from_params(Params::from_json(value)?)
    }

    /// Parses the query-string form: `Action=AuthorizeSecurityGroup&RegionId=…&Permissions.1.…`.
    pub fn from_query(text: &str) -> Result<ApiCall, ApiError> {
        ApiCall::from_params(Params::from_query(text)?)
    }

    /// The call as query-string parameters, sorted: `Permissions.N.Field`, `SecurityGroupRuleId.N`
    /// and `SecurityGroupId.N`. Parsing them back gives the same call.
    pub fn to_query_pairs(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut put = |k: &str, v: &str| out.push((k.to_string(), v.to_string()));
        put("Action", self.request.action());
        if let Some(region) = &self.region_id {
            put("RegionId", region);
        }
        if let Some(token) = &self.client_token {
            put("ClientToken", token);
        }
        let permissions = |out: &mut Vec<(String, String)>, list: &[PermissionParams]| {
            for (i, p) in list.iter().enumerate() {
                for (k, v) in p.iter() {
                    out.push((format!("Permissions.{}.{k}", i + 1), v.to_string()));
                }
            }
        };
        match &self.request {
            Request::Authorize {
                group_id,
                permissions: list,
                ..
            } => {
                out.push(("SecurityGroupId".into(), group_id.clone()));
                permissions(&mut out, list);
            }
            Request::Revoke {
                group_id,
                rule_ids,
                permissions: list,
                ..
            } => {
                out.push(("SecurityGroupId".into(), group_id.clone()));
                for (i, id) in rule_ids.iter().enumerate() {
                    out.push((format!("SecurityGroupRuleId.{}", i + 1), id.clone()));
                }
                permissions(&mut out, list);
            }
            Request::ModifyRule {
                group_id,
                rule_id,
                params,
                ..
            } => {
                out.push(("SecurityGroupId".into(), group_id.clone()));
                if let Some(id) = rule_id {
                    out.push(("SecurityGroupRuleId".into(), id.clone()));
                }
                for (k, v) in params.iter() {
                    out.push((k.to_string(), v.to_string()));
                }
            }
            Request::ModifyPolicy {
                group_id,
                inner_access_policy,
            } => {
                out.push(("SecurityGroupId".into(), group_id.clone()));
                out.push(("InnerAccessPolicy".into(), inner_access_policy.clone()));
            }
            Request::CreateGroup {
                vpc_id,
                name,
                description,
                group_type,
            } => {
                for (k, v) in [
                    ("VpcId", vpc_id),
                    ("SecurityGroupName", name),
                    ("Description", description),
                    ("SecurityGroupType", group_type),
                ] {
                    if !v.is_empty() {
                        out.push((k.into(), v.clone()));
                    }
                }
            }
            Request::DeleteGroup { group_id } => {
                out.push(("SecurityGroupId".into(), group_id.clone()));
            }
            Request::ModifyNic { nic_id, group_ids } => {
                out.push(("NetworkInterfaceId".into(), nic_id.clone()));
                for (i, id) in group_ids.iter().flatten().enumerate() {
                    out.push((format!("SecurityGroupId.{}", i + 1), id.clone()));
                }
            }
            Request::CreateNic(nic) => {
                out.push(("VSwitchId".into(), nic.vswitch_id.clone()));
                out.push(("PrimaryIpAddress".into(), nic.primary_ip.clone()));
                for (list, items) in [
                    ("SecurityGroupIds", &nic.group_ids),
                    ("PrivateIpAddress", &nic.secondary_ips),
                    ("Ipv6Address", &nic.ipv6_addresses),
                ] {
                    for (i, item) in items.iter().enumerate() {
                        out.push((format!("{list}.{}", i + 1), item.clone()));
                    }
                }
                let named = [
                    ("NetworkInterfaceName", &nic.name),
                    ("Description", &nic.description),
                ];
                for (k, v) in named {
                    if !v.is_empty() {
                        out.push((k.into(), v.clone()));
                    }
                }
            }
            Request::DeleteNic { nic_id } => {
                out.push(("NetworkInterfaceId".into(), nic_id.clone()));
            }
        }
        out.sort();
        out
    }

    /// The query-string form, percent-encoded.
    pub fn to_query_string(&self) -> String {
        self.to_query_pairs()
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// A stable digest of everything but the client token: two calls with the same token must
    /// have the same fingerprint, or the second is `IdempotentParameterMismatch`.
    pub fn fingerprint(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for (k, v) in self.to_query_pairs() {
            if k == "ClientToken" {
                continue;
            }
            for byte in k.bytes().chain([0]).chain(v.bytes()).chain([0xff]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{hash:016x}")
    }

    fn from_params(mut params: Params) -> Result<ApiCall, ApiError> {
        let action = params
            .take_scalar("Action")
            .filter(|a| !a.is_empty())
            .ok_or_else(|| ErrorCode::MissingParameter.with("Action"))?;
        let region_id = params.take_scalar("RegionId").filter(|r| !r.is_empty());
        let client_token = params.take_scalar("ClientToken").filter(|t| !t.is_empty());
        for name in COMMON_PARAMETERS {
            params.take_scalar(name);
        }
        let direction = |ingress: &str| {
            if action == ingress {
                Direction::Ingress
            } else {
                Direction::Egress
            }
        };
        let request = match action.as_str() {
            "AuthorizeSecurityGroup" | "AuthorizeSecurityGroupEgress" => {
                let group_id = params.required("SecurityGroupId")?;
                let permissions = params.permissions()?;
                if permissions.is_empty() {
                    return Err(ErrorCode::MissingParameter.with("Permissions"));
                }
                Request::Authorize {
                    direction: direction("AuthorizeSecurityGroup"),
                    group_id,
                    permissions,
                }
            }
            "RevokeSecurityGroup" | "RevokeSecurityGroupEgress" => {
                let group_id = params.required("SecurityGroupId")?;
                let rule_ids = params.list("SecurityGroupRuleId")?.unwrap_or_default();
                let permissions = params.permissions()?;
                match (rule_ids.is_empty(), permissions.is_empty()) {
                    (false, false) => return Err(ErrorCode::PermissionsConflict.error()),
                    (true, true) => return Err(ErrorCode::MissingParameter.with("Permissions")),
                    _ => {}
                }
                if rule_ids.len() > MAX_PERMISSIONS {
                    return Err(too_many("SecurityGroupRuleId"));
                }
                Request::Revoke {
                    direction: direction("RevokeSecurityGroup"),
                    group_id,
                    rule_ids,
                    permissions,
                }
            }
            "ModifySecurityGroupRule" | "ModifySecurityGroupEgressRule" => {
                let group_id = params.required("SecurityGroupId")?;
                let rule_id = params
                    .take_scalar("SecurityGroupRuleId")
                    .filter(|id| !id.is_empty());
                Request::ModifyRule {
                    direction: direction("ModifySecurityGroupRule"),
                    group_id,
                    rule_id,
                    params: params.top_level_permission(),
                }
            }
            "ModifySecurityGroupPolicy" => Request::ModifyPolicy {
                group_id: params.required("SecurityGroupId")?,
                inner_access_policy: params.required("InnerAccessPolicy")?,
            },
            "CreateSecurityGroup" => Request::CreateGroup {
                vpc_id: params.take_scalar("VpcId").unwrap_or_default(),
                name: params.take_scalar("SecurityGroupName").unwrap_or_default(),
                description: params.take_scalar("Description").unwrap_or_default(),
                group_type: params.take_scalar("SecurityGroupType").unwrap_or_default(),
            },
            "DeleteSecurityGroup" => Request::DeleteGroup {
                group_id: params.required("SecurityGroupId")?,
            },
            "ModifyNetworkInterfaceAttribute" => Request::ModifyNic {
                nic_id: params.required("NetworkInterfaceId")?,
                group_ids: params.list("SecurityGroupId")?,
            },
            "CreateNetworkInterface" => {
                let vswitch_id = params.required("VSwitchId")?;
                let mut group_ids = params.list("SecurityGroupIds")?.unwrap_or_default();
                if let Some(single) = params.list("SecurityGroupId")? {
                    group_ids.splice(0..0, single);
                }
                if group_ids.is_empty() {
                    return Err(ErrorCode::MissingParameter.with("SecurityGroupId"));
                }
                Request::CreateNic(NicRequest {
                    vswitch_id,
                    group_ids,
                    primary_ip: params.required("PrimaryIpAddress")?,
                    secondary_ips: params.list("PrivateIpAddress")?.unwrap_or_default(),
                    ipv6_addresses: params.list("Ipv6Address")?.unwrap_or_default(),
                    name: params
                        .take_scalar("NetworkInterfaceName")
                        .unwrap_or_default(),
                    description: params.take_scalar("Description").unwrap_or_default(),
                })
            }
            "DeleteNetworkInterface" => Request::DeleteNic {
                nic_id: params.required("NetworkInterfaceId")?,
            },
            other => return Err(ErrorCode::ActionNotFound.with(other)),
        };
        Ok(ApiCall {
            region_id,
            client_token,
            request,
        })
    }
}

fn too_many(param: &str) -> ApiError {
    ErrorCode::InvalidParameter.with(&format!(
        "The parameter {param} has more than {MAX_PERMISSIONS} items."
    ))
}

/// The parameters of a call, normalized from either form.
#[derive(Debug, Default)]
struct Params {
    scalars: BTreeMap<String, String>,
    /// `Name.N` items (or JSON arrays), by name, ordered by N.
    lists: BTreeMap<String, BTreeMap<u32, String>>,
    /// `Permissions.N.Field` (or a JSON array of objects), ordered by N.
    permissions: Option<BTreeMap<u32, BTreeMap<String, String>>>,
}

impl Params {
    fn from_json(value: &Value) -> Result<Params, ApiError> {
        let Value::Object(map) = value else {
            return Err(ErrorCode::InvalidParameter
                .with("The request must be a JSON object of API parameters."));
        };
        let mut params = Params::default();
        for (key, value) in map {
            if key == "Permissions" {
                params.set_permissions_json(value)?;
                continue;
            }
            match value {
                Value::Null => {}
                Value::Array(items) => params.set_list_json(key, items)?,
                Value::Object(_) => {
                    return Err(ErrorCode::InvalidParameter.with(&format!(
                        "The parameter {key} is not valid: expected a string."
                    )))
                }
                scalar => {
                    params.scalars.insert(key.clone(), scalar_text(scalar));
                }
            }
        }
        Ok(params)
    }

    fn from_query(text: &str) -> Result<Params, ApiError> {
        // A whole URL or a leading `?`: the query starts after the first `?` that comes before
        // any `=` (a `?` inside a value is data).
        let query = match text.find('?') {
            Some(at) if !text[..at].contains('=') => &text[at + 1..],
            _ => text,
        };
        let mut params = Params::default();
        for pair in query.split('&').map(str::trim).filter(|p| !p.is_empty()) {
            let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(raw_key);
            let value = percent_decode(raw_value);
            if let Some(rest) = key.strip_prefix("Permissions.") {
                let (index, field) = rest.split_once('.').ok_or_else(|| bad_key(&key))?;
                let index = list_index(index).ok_or_else(|| bad_key(&key))?;
                params
                    .permissions
                    .get_or_insert_with(BTreeMap::new)
                    .entry(index)
                    .or_default()
                    .insert(field.to_string(), value);
                continue;
            }
            if key == "Permissions" {
                let json: Value = serde_json::from_str(&value).map_err(|_| {
                    ErrorCode::InvalidParameter
                        .with("The parameter Permissions is not a valid JSON array.")
                })?;
                params.set_permissions_json(&json)?;
                continue;
            }
            if let Some((name, index)) = key
                .rsplit_once('.')
                .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            {
                let index = list_index(index).ok_or_else(|| bad_key(&key))?;
                params
                    .lists
                    .entry(name.to_string())
                    .or_default()
                    .insert(index, value);
                continue;
            }
            // The API also takes a list as a JSON array in one parameter: SecurityGroupId=["sg-1"].
            if value.starts_with('[') {
                if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&value) {
                    params.set_list_json(&key, &items)?;
                    continue;
                }
            }
            params.scalars.insert(key, value);
        }
        Ok(params)
    }

    fn set_permissions_json(&mut self, value: &Value) -> Result<(), ApiError> {
        let items = match value {
            Value::Null => return Ok(()),
            Value::Array(items) => items,
            // A JSON array sent as one string parameter.
            Value::String(text) => {
                return match serde_json::from_str::<Value>(text) {
                    Ok(parsed @ Value::Array(_)) => self.set_permissions_json(&parsed),
                    _ => Err(ErrorCode::InvalidParameter
                        .with("The parameter Permissions is not a valid JSON array.")),
                }
            }
            _ => {
                return Err(ErrorCode::InvalidParameter
                    .with("The parameter Permissions must be an array of objects."))
            }
        };
        if items.len() > MAX_PERMISSIONS {
            return Err(too_many("Permissions"));
        }
        let mut out = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let Value::Object(map) = item else {
                return Err(ErrorCode::InvalidParameter.with(&format!(
                    "The parameter Permissions.{} must be an object.",
                    i + 1
                )));
            };
            let mut fields = BTreeMap::new();
            for (key, value) in map {
                match value {
                    Value::Null => {}
                    Value::Array(_) | Value::Object(_) => {
                        return Err(ErrorCode::InvalidParameter.with(&format!(
                            "The parameter Permissions.{}.{key} is not valid: expected a string.",
                            i + 1
                        )))
                    }
                    scalar => {
                        fields.insert(key.clone(), scalar_text(scalar));
                    }
                }
            }
            out.insert(i as u32 + 1, fields);
        }
        self.permissions = Some(out);
        Ok(())
    }

    fn set_list_json(&mut self, key: &str, items: &[Value]) -> Result<(), ApiError> {
        let mut list = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(_) | Value::Number(_) => {
                    list.insert(i as u32 + 1, scalar_text(item));
                }
                _ => {
                    return Err(ErrorCode::InvalidParameter.with(&format!(
                        "The parameter {key}.{} is not valid: expected a string.",
                        i + 1
                    )))
                }
            }
        }
        self.lists.insert(key.to_string(), list);
        Ok(())
    }

    fn take_scalar(&mut self, name: &str) -> Option<String> {
        self.scalars.remove(name)
    }

    fn required(&mut self, name: &str) -> Result<String, ApiError> {
        self.take_scalar(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ErrorCode::MissingParameter.with(name))
    }

    /// A list parameter given as `Name.N`, a JSON array, or a single scalar value.
    fn list(&mut self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        if let Some(items) = self.lists.remove(name) {
            if items.len() > MAX_PERMISSIONS {
                return Err(too_many(name));
            }
            return Ok(Some(
                items.into_values().filter(|v| !v.is_empty()).collect(),
            ));
        }
        Ok(self
            .take_scalar(name)
            .filter(|v| !v.is_empty())
            .map(|v| vec![v]))
    }

    /// `Permissions.N`, or the deprecated top-level rule parameters as one permission; both at
    /// once is `InvalidParam.Permissions`.
    fn permissions(&mut self) -> Result<Vec<PermissionParams>, ApiError> {
        let top = self.top_level_permission();
        let Some(items) = self.permissions.take() else {
            return Ok(if top.is_empty() {
                Vec::new()
            } else {
                vec![top]
            });
        };
        if top.iter().any(|(_, v)| !v.is_empty()) {
            return Err(ErrorCode::PermissionsConflict.error());
        }
        if items.len() > MAX_PERMISSIONS {
            return Err(too_many("Permissions"));
        }
        Ok(items
            .into_values()
            .map(|fields| {
                let mut p = PermissionParams::new();
                for (k, v) in fields {
                    p.insert(&k, v);
                }
                p
            })
            .collect())
    }

    fn top_level_permission(&mut self) -> PermissionParams {
        let mut p = PermissionParams::new();
        for name in PERMISSION_FIELDS {
            if let Some(v) = self.take_scalar(name) {
                p.insert(name, v);
            }
        }
        p
    }
}

fn bad_key(key: &str) -> ApiError {
    ErrorCode::InvalidParameter.with(&format!("The parameter {key} is not valid."))
}

/// `N` of `Name.N`: 1..=100 as the API numbers list items.
fn list_index(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PERMISSIONS as u32).contains(n))
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Decodes `%XX` and `+` (space); malformed escapes are kept as they are.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes everything but RFC 3986 unreserved characters, as the API's signing does.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

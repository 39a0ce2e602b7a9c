//! The API's error answers: code, message and HTTP status as the ECS documentation lists them.
//! Every constructor here is one documented error; `docs/control-plane.md` lists when each is
//! given.

use std::fmt;

/// A rejected API call: nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The API's error code, e.g. `InvalidParam.PortRange`.
    pub code: &'static str,
    /// The API's message, with the offending parameter filled in where the API has a `%s`.
    pub message: String,
    /// The HTTP status the API answers with.
    pub http_status: u16,
}

impl ApiError {
    pub fn new(code: &'static str, http_status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            http_status,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.http_status, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Shorthand constructors, one per documented error.
pub(crate) mod err {
    use super::ApiError;

    /// ModifySecurityGroupPolicy without RegionId: its API page lists this code, spelled so.
    pub fn missing_region_id_policy() -> ApiError {
        ApiError::new(
            "MissingParamter.RegionId",
            400,
            "The RegionId should not be null.",
        )
    }

    pub fn missing(param: &str) -> ApiError {
        ApiError::new(
            "MissingParameter",
            400,
            format!(
                "The input parameter \"{param}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }
    pub fn invalid_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new("InvalidParameter", 400, message)
    }
    pub fn action_not_found(action: &str) -> ApiError {
        ApiError::new(
            "InvalidAction.NotFound",
            404,
            format!("Specified api \"{action}\" is not found, please check your url and method."),
        )
    }
    pub fn client_token_malformed() -> ApiError {
        ApiError::new(
            "InvalidClientToken.Malformed",
            400,
            "The specified parameter ClientToken is not valid: it must be 1 to 64 ASCII characters.",
        )
    }
    pub fn idempotent_mismatch() -> ApiError {
        ApiError::new(
            "IdempotentParameterMismatch",
            400,
            "The request uses the same client token as a previous, but non-identical request.",
        )
    }
    pub fn permissions_conflict() -> ApiError {
        ApiError::new(
            "InvalidParam.Permissions",
            400,
            "The specified parameter Permissions cannot coexist with other parameters.",
        )
    }
    pub fn duplicate_permissions() -> ApiError {
        ApiError::new(
            "InvalidParam.DuplicatePermissions",
            400,
            "There are duplicate permissions in the specified parameter Permissions.",
        )
    }
    pub fn group_id_malformed() -> ApiError {
        ApiError::new(
            "InvalidSecurityGroupId.Malformed",
            400,
            "The specified parameter SecurityGroupId is not valid.",
        )
    }
    pub fn group_not_found() -> ApiError {
        ApiError::new(
            "InvalidSecurityGroupId.NotFound",
            404,
            "The specified SecurityGroupId does not exist.",
        )
    }
    pub fn policy_malformed(param: &str) -> ApiError {
        ApiError::new(
            "InvalidPolicy.Malformed",
            400,
            format!("The specified parameter {param} is not valid."),
        )
    }
    pub fn inner_policy_malformed() -> ApiError {
        ApiError::new(
            "InvalidPolicy.Malformed",
            400,
            "The Policy is invalid. Only 'Accept' and 'Drop' are supported. Ignore case.",
        )
    }
    pub fn priority_malformed() -> ApiError {
        ApiError::new(
            "InvalidPriority.Malformed",
            400,
            "The parameter Priority is invalid.",
        )
    }
    pub fn priority_not_supported(param: &str) -> ApiError {
        ApiError::new(
            "InvalidPriority.ValueNotSupported",
            400,
            format!("The specified parameter {param} is invalid."),
        )
    }
    pub fn protocol_not_supported(param: &str) -> ApiError {
        ApiError::new(
            "InvalidIpProtocol.ValueNotSupported",
            400,
            format!(
                "The parameter {param} must be specified with case insensitive TCP, UDP, ICMP, GRE or All."
            ),
        )
    }
    pub fn nic_type_not_supported(param: &str) -> ApiError {
        ApiError::new(
            "InvalidNicType.ValueNotSupported",
            400,
            format!("The specified parameter {param} is not valid."),
        )
    }
    pub fn nic_type_mismatch() -> ApiError {
        ApiError::new(
            "InvalidNicType.Mismatch",
            400,
            "The specified NicType conflicts with the authorization record.",
        )
    }
    pub fn port_range(param: &str) -> ApiError {
        ApiError::new(
            "InvalidParam.PortRange",
            400,
            format!(
                "The specified parameter {param} is not valid. It should be two integers less than 65535 in ?/? format."
            ),
        )
    }
    pub fn protocol_no_port_list() -> ApiError {
        ApiError::new(
            "InvalidParam.ProtocolNotSupportPortRangeList",
            400,
            "The specified protocol does not support the port range list.",
        )
    }
    pub fn port_list_not_found() -> ApiError {
        ApiError::new(
            "InvalidPortRangeListId.NotFound",
            400,
            "The specified port range list was not found.",
        )
    }
    pub fn source_cidr_malformed() -> ApiError {
        ApiError::new(
            "InvalidSourceCidrIp.Malformed",
            400,
            "The specified parameter SourceCidrIp is not valid.",
        )
    }
    pub fn dest_cidr_malformed() -> ApiError {
        ApiError::new(
            "InvalidDestCidrIp.Malformed",
            400,
            "The specified parameter DestCidrIp is not valid.",
        )
    }
    pub fn ipv6_source_invalid(param: &str) -> ApiError {
        ApiError::new(
            "InvalidParam.Ipv6SourceCidrIp",
            400,
            format!("The specified parameter {param} is not valid."),
        )
    }
    pub fn ipv6_dest_invalid(param: &str) -> ApiError {
        ApiError::new(
            "InvalidParam.Ipv6DestCidrIp",
            400,
            format!("The specified parameter {param} is not valid."),
        )
    }
    pub fn source_ip_both(at: &str) -> ApiError {
        ApiError::new(
            "InvalidParam.SourceIp",
            400,
            format!("The Parameters SourceCidrIp and Ipv6SourceCidrIp in {at} cannot be set at the same time."),
        )
    }
    pub fn dest_ip_both(at: &str) -> ApiError {
        ApiError::new(
            "InvalidParam.DestIp",
            400,
            format!("The Parameters DestCidrIp and Ipv6DestCidrIp in {at} cannot be set at the same time."),
        )
    }
    pub fn family_conflict() -> ApiError {
        ApiError::new(
            "InvalidParameter.Conflict",
            400,
            "IPv6 and IPv4 addresses cannot exist at the same time.",
        )
    }
    pub fn same_source_dest() -> ApiError {
        ApiError::new(
            "InvalidParamter.Conflict",
            400,
            "The specified SourceCidrIp should be different from the DestCidrIp.",
        )
    }
    pub fn v4_protocol_v6_address() -> ApiError {
        ApiError::new(
            "InvalidParam.Ipv4ProtocolConflictWithIpv6Address",
            400,
            "IPv6 address cannot be specified for IPv4-specific protocol.",
        )
    }
    pub fn v6_protocol_v4_address() -> ApiError {
        ApiError::new(
            "InvalidParam.Ipv6ProtocolConflictWithIpv4Address",
            400,
            "IPv4 address cannot be specified for IPv6-specific protocol.",
        )
    }
    pub fn protocol_family_mismatch() -> ApiError {
        ApiError::new(
            "InvalidParam.ProtocolAndAddressFamilyMismatch",
            400,
            "The specified Protocol and address family do not match.",
        )
    }
    pub fn prefix_list_family_mismatch() -> ApiError {
        ApiError::new(
            "InvalidParam.PrefixListAddressFamilyMismatch",
            400,
            "The address family of the specified prefix list does not match the specified CidrIp.",
        )
    }
    pub fn missing_source(at: &str) -> ApiError {
        ApiError::new(
            "MissingParameter.Source",
            400,
            format!("One of the parameters SourceCidrIp, Ipv6SourceCidrIp, SourceGroupId or SourcePrefixListId in {at} must be specified."),
        )
    }
    pub fn missing_dest(at: &str) -> ApiError {
        ApiError::new(
            "MissingParameter.Dest",
            400,
            format!("One of the parameters DestCidrIp, Ipv6DestCidrIp, DestGroupId or DestPrefixListId in {at} must be specified."),
        )
    }
    pub fn description_malformed(param: &str) -> ApiError {
        ApiError::new(
            "InvalidSecurityGroupDiscription.Malformed",
            400,
            format!(
                "The specified security group rule description parameter {param} is not valid."
            ),
        )
    }
    pub fn source_group_not_found() -> ApiError {
        ApiError::new(
            "InvalidSourceGroupId.NotFound",
            404,
            "The SourceGroupId provided does not exist in our records.",
        )
    }
    pub fn dest_group_not_found() -> ApiError {
        ApiError::new(
            "InvalidDestGroupId.NotFound",
            404,
            "The DestGroupId provided does not exist in our records.",
        )
    }
    pub fn source_group_self() -> ApiError {
        ApiError::new(
            "InvalidParamter.Conflict",
            403,
            "The specified SecurityGroupId should be different from the SourceGroupId.",
        )
    }
    pub fn dest_group_self() -> ApiError {
        ApiError::new(
            "InvalidSecurityGroup.IsSame",
            403,
            "The authorized SecurityGroupId should be different from the DestGroupId.",
        )
    }
    pub fn source_group_vpc_mismatch() -> ApiError {
        ApiError::new(
            "InvalidSourceGroupId.Mismatch",
            400,
            "Specified security group and source group are not in the same VPC.",
        )
    }
    pub fn dest_group_vpc_mismatch() -> ApiError {
        ApiError::new(
            "InvalidDestGroupId.Mismatch",
            400,
            "Specified security group and destination group are not in the same VPC.",
        )
    }
    pub fn source_group_nic_type() -> ApiError {
        ApiError::new(
            "InvalidSourceGroupId.Mismatch",
            403,
            "NicType is required or NicType expects intranet.",
        )
    }
    pub fn dest_group_nic_type() -> ApiError {
        ApiError::new(
            "InvalidDestGroupId.Mismatch",
            403,
            "NicType is required or NicType expects intranet.",
        )
    }
    pub fn source_network_type_mismatch() -> ApiError {
        ApiError::new(
            "InvalidNetworkType.Mismatch",
            403,
            "The specified SecurityGroup network type should be same with SourceGroup network type (vpc or classic).",
        )
    }
    pub fn dest_network_type_conflict() -> ApiError {
        ApiError::new(
            "InvalidNetworkType.Conflict",
            403,
            "The specified SecurityGroup network type should be same with SourceGroup network type (vpc or classic).",
        )
    }
    pub fn enterprise_attribute() -> ApiError {
        ApiError::new(
            "InvalidGroupParameter.OperationDenied",
            400,
            "The attributes Policy, SourceGroupId, DestGroupId of enterprise level security groups are not allowed to be set or modified.",
        )
    }
    pub fn authorize_to_enterprise() -> ApiError {
        ApiError::new(
            "InvalidGroupAuthParameter.OperationDenied",
            400,
            "The security group can not authorize to enterprise level security group.",
        )
    }
    pub fn prefix_list_not_found() -> ApiError {
        ApiError::new(
            "InvalidPrefixListId.NotFound",
            404,
            "The specified prefix list was not found.",
        )
    }
    pub fn classic_prefix_list() -> ApiError {
        ApiError::new(
            "NotSupported.ClassicNetworkPrefixList",
            400,
            "The prefix list is not supported when the network type of security group is classic.",
        )
    }
    pub fn group_rule_limit() -> ApiError {
        ApiError::new(
            "AuthorizedGroupRule.LimitExceed",
            400,
            "You have reached the limit on the number of group authorization rules that you can add to a security group.When authorization object of rule is security group, the limit is 20.",
        )
    }
    pub fn rule_limit() -> ApiError {
        ApiError::new(
            "AuthorizationLimitExceed",
            403,
            "The limit of authorization records in the security group reaches.",
        )
    }
    pub fn rule_id_invalid() -> ApiError {
        ApiError::new(
            "InvalidParam.SecurityGroupRuleId",
            400,
            "The specified parameter SecurityGroupRuleId is not valid.",
        )
    }
    pub fn rule_id_repeated() -> ApiError {
        ApiError::new(
            "InvalidParam.SecurityGroupRuleIdRepeated",
            400,
            "The specified parameter SecurityGroupRuleId is repeated.",
        )
    }
    pub fn rule_id_not_found() -> ApiError {
        ApiError::new(
            "InvalidSecurityGroupRuleId.NotFound",
            404,
            "The specified SecurityGroupRuleId is not exists.",
        )
    }
    pub fn rule_not_found() -> ApiError {
        ApiError::new(
            "SecurityGroupRule.NotFound",
            404,
            "The target security group rule not exist.",
        )
    }
    pub fn modify_entity_type() -> ApiError {
        ApiError::new(
            "InvalidOperation.ModifySgRuleEntityType",
            400,
            "The source or destination type of the rules cannot be modified.",
        )
    }
    pub fn modify_nic_type() -> ApiError {
        ApiError::new(
            "InvalidOperation.ModifyNicType",
            400,
            "NicType is not allowed to modify.",
        )
    }
    pub fn modify_port_range_type() -> ApiError {
        ApiError::new(
            "InvalidOperation.ModifyPortRangeType",
            400,
            "The PortRange type is not allowed to be modified. You cannot modify a rule from using the port list to not using it, and vice versa.",
        )
    }
    pub fn modify_clears_field(param: &str) -> ApiError {
        ApiError::new(
            "InvalidParam.InvalidModifyRuleRequest",
            400,
            format!("The request parameters are illegal: {param} has a value and cannot be modified to empty."),
        )
    }
    pub fn rule_duplicate(other: &str) -> ApiError {
        ApiError::new(
            "InvalidOperation.RuleDuplicate",
            400,
            format!("The modified rule duplicates the existing rule {other}."),
        )
    }
    pub fn enterprise_inner_policy() -> ApiError {
        ApiError::new(
            "InvalidParameter.InnerAccessPolicy",
            404,
            "The InnerAccessPolicy attribute of enterprise level security group can't be modified.",
        )
    }
    pub fn group_type_invalid() -> ApiError {
        ApiError::new(
            "InvalidParams.GroupType",
            400,
            "The specified security group type is not valid.",
        )
    }
    pub fn enterprise_needs_vpc() -> ApiError {
        ApiError::new(
            "InvalidParams.VpcIdGroupType",
            400,
            "Only VPC instance supports enterprise level security group.",
        )
    }
    pub fn group_name_malformed() -> ApiError {
        ApiError::new(
            "InvalidSecurityGroupName.Malformed",
            400,
            "The specified parameter SecurityGroupName is not valid.",
        )
    }
    pub fn description_param_malformed() -> ApiError {
        ApiError::new(
            "InvalidDescription.Malformed",
            400,
            "The specified parameter \"Description\" is not valid.",
        )
    }
    pub fn group_has_instances() -> ApiError {
        ApiError::new(
            "DependencyViolation",
            403,
            "There is still instance(s) in the specified security group.",
        )
    }
    pub fn group_referenced() -> ApiError {
        ApiError::new(
            "DependencyViolation",
            403,
            "The specified security group has been authorized in another one.",
        )
    }
    pub fn eni_not_found() -> ApiError {
        ApiError::new(
            "InvalidEniId.NotFound",
            404,
            "The specified NetworkInterfaceId does not exist.",
        )
    }
    pub fn nic_group_limit() -> ApiError {
        ApiError::new(
            "InstanceSecurityGroupLimitExceeded",
            400,
            "Exceeding the allowed amount of security groups that an instance can be in.",
        )
    }
    pub fn nic_vpc_mismatch(group: &str) -> ApiError {
        ApiError::new(
            "InvalidOperation.VpcMismatch",
            403,
            format!("The security group {group} is not in the VPC of the network interface."),
        )
    }
    pub fn ip_malformed(param: &str) -> ApiError {
        ApiError::new(
            "InvalidPrivateIpAddress.Malformed",
            400,
            format!("The specified parameter {param} is not a valid IP address."),
        )
    }
    pub fn ip_in_use(address: &str) -> ApiError {
        ApiError::new(
            "InvalidIPAddress.AlreadyUsed",
            400,
            format!("The specified IPAddress {address} is already used by other resource."),
        )
    }
    pub fn group_not_vpc() -> ApiError {
        ApiError::new(
            "InvalidSecurityGroupId.NotVpc",
            403,
            "The specified security group is not of the VPC network type.",
        )
    }
    pub fn eni_in_use() -> ApiError {
        ApiError::new(
            "InvalidOperation.InvalidEniState",
            400,
            "The network interface is attached to an instance; detach it first.",
        )
    }
}

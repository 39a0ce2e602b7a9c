//! The API's error answers: code, HTTP status and message as the ECS documentation lists them.
//!
//! One table, `error_codes!` below, declares every error the simulator gives: the variant of
//! [`ErrorCode`], the wire code, the HTTP status, the message template (`%s` is where the API
//! fills in a parameter name or value) and, as the variant's doc comment, when it is given.
//! `docs/control-plane.md`'s table of error codes is that table rendered by
//! [`ErrorCode::docs_table`] (a test keeps the two equal).

use std::fmt;

/// A rejected API call: nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// Which documented error this is; [`ErrorCode::as_str`] gives the wire code, e.g.
    /// `InvalidParam.PortRange`.
    pub code: ErrorCode,
    /// The API's message, with the offending parameter filled in where the API has a `%s`.
    pub message: String,
    /// The HTTP status the API answers with.
    pub http_status: u16,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.http_status, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Declares [`ErrorCode`] and its lookups from one table of
/// `/// when it is given` + `Variant("Wire.Code", status, "message template")`.
macro_rules! error_codes {
    ($( #[doc = $when:literal] $variant:ident($code:literal, $status:literal, $template:literal), )+) => {
        /// Every error the simulator answers with. Several variants may share a wire code (the
        /// API gives `DependencyViolation` for two reasons, with two messages); each variant is
        /// one row of `docs/control-plane.md`'s table.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( #[doc = $when] $variant, )+
        }

        impl ErrorCode {
            /// Every variant, in the order of the table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The API's error code, e.g. `InvalidParam.PortRange`.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)+ }
            }

            /// The HTTP status the API answers with.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)+ }
            }

            /// The message, `%s` standing for the parameter name or value the API fills in.
            pub fn template(self) -> &'static str {
                match self { $(ErrorCode::$variant => $template,)+ }
            }

            /// When the simulator gives this error (the docs table's "When" column).
            pub fn when(self) -> &'static str {
                match self { $(ErrorCode::$variant => $when.trim_start(),)+ }
            }
        }
    };
}

error_codes! {
    /// `Action`, `RegionId` (but see the next row), `SecurityGroupId`, `NetworkInterfaceId`, `InnerAccessPolicy`, `IpProtocol`, `VSwitchId`, `PrimaryIpAddress` or the permissions are missing
    MissingParameter("MissingParameter", 400, "The input parameter \"%s\" that is mandatory for processing this request is not supplied."),
    /// ModifySecurityGroupPolicy without `RegionId` (its API page lists this code, misspelling included; other actions answer `MissingParameter`)
    MissingRegionIdPolicy("MissingParamter.RegionId", 400, "The RegionId should not be null."),
    /// unknown `Action`
    ActionNotFound("InvalidAction.NotFound", 404, "Specified api \"%s\" is not found, please check your url and method."),
    /// not a JSON object / wrong JSON type; list index outside 1..100; more than 100 permissions or rule ids; a NIC group list empty, with a repeat, or mixing basic and enterprise
    InvalidParameter("InvalidParameter", 400, "%s"),
    /// `ClientToken` over 64 characters or not ASCII
    ClientTokenMalformed("InvalidClientToken.Malformed", 400, "The specified parameter ClientToken is not valid: it must be 1 to 64 ASCII characters."),
    /// a remembered `ClientToken` with other parameters
    IdempotentMismatch("IdempotentParameterMismatch", 400, "The request uses the same client token as a previous, but non-identical request."),
    /// `Permissions` together with top-level rule parameters, or with `SecurityGroupRuleId`
    PermissionsConflict("InvalidParam.Permissions", 400, "The specified parameter Permissions cannot coexist with other parameters."),
    /// two identical permissions (S18) in one call
    DuplicatePermissions("InvalidParam.DuplicatePermissions", 400, "There are duplicate permissions in the specified parameter Permissions."),
    /// a group id with characters other than letters, digits, `-`, `_`, or over 100 long
    GroupIdMalformed("InvalidSecurityGroupId.Malformed", 400, "The specified parameter SecurityGroupId is not valid."),
    /// no such group (in the call's region)
    GroupNotFound("InvalidSecurityGroupId.NotFound", 404, "The specified SecurityGroupId does not exist."),
    /// `Policy` not accept/drop
    PolicyMalformed("InvalidPolicy.Malformed", 400, "The specified parameter %s is not valid."),
    /// `InnerAccessPolicy` not Accept/Drop
    InnerPolicyMalformed("InvalidPolicy.Malformed", 400, "The Policy is invalid. Only 'Accept' and 'Drop' are supported. Ignore case."),
    /// `Priority` not an integer
    PriorityMalformed("InvalidPriority.Malformed", 400, "The parameter Priority is invalid."),
    /// `Priority` outside 1..100 (110 included)
    PriorityNotSupported("InvalidPriority.ValueNotSupported", 400, "The specified parameter %s is invalid."),
    /// `IpProtocol` not TCP, UDP, ICMP, ICMPv6, GRE, ALL or 0..255
    ProtocolNotSupported("InvalidIpProtocol.ValueNotSupported", 400, "The parameter %s must be specified with case insensitive TCP, UDP, ICMP, GRE or All."),
    /// `NicType` not intranet/internet
    NicTypeNotSupported("InvalidNicType.ValueNotSupported", 400, "The specified parameter %s is not valid."),
    /// `internet` in a VPC group
    NicTypeMismatch("InvalidNicType.Mismatch", 400, "The specified NicType conflicts with the authorization record."),
    /// `PortRange`/`SourcePortRange` malformed, out of range, reversed, or not fitting the protocol
    PortRange("InvalidParam.PortRange", 400, "The specified parameter %s is not valid. It should be two integers less than 65535 in ?/? format."),
    /// TCP/UDP without `PortRange` or port list
    PortRangeMissing("InvalidPortRange.Malformed", 400, "The specified parameter PortRange must set."),
    /// a port list on a protocol other than TCP/UDP
    ProtocolNoPortList("InvalidParam.ProtocolNotSupportPortRangeList", 400, "The specified protocol does not support the port range list."),
    /// no such port list
    PortListNotFound("InvalidPortRangeListId.NotFound", 400, "The specified port range list was not found."),
    /// `SourceCidrIp` not an IPv4 address or CIDR
    SourceCidrMalformed("InvalidSourceCidrIp.Malformed", 400, "The specified parameter SourceCidrIp is not valid."),
    /// `DestCidrIp` not an IPv4 address or CIDR
    DestCidrMalformed("InvalidDestCidrIp.Malformed", 400, "The specified parameter DestCidrIp is not valid."),
    /// `Ipv6SourceCidrIp` not an IPv6 address or CIDR
    Ipv6SourceInvalid("InvalidParam.Ipv6SourceCidrIp", 400, "The specified parameter %s is not valid."),
    /// `Ipv6DestCidrIp` not an IPv6 address or CIDR
    Ipv6DestInvalid("InvalidParam.Ipv6DestCidrIp", 400, "The specified parameter %s is not valid."),
    /// `SourceCidrIp` and `Ipv6SourceCidrIp` both set
    SourceIpBoth("InvalidParam.SourceIp", 400, "The Parameters SourceCidrIp and Ipv6SourceCidrIp in %s cannot be set at the same time."),
    /// `DestCidrIp` and `Ipv6DestCidrIp` both set
    DestIpBoth("InvalidParam.DestIp", 400, "The Parameters DestCidrIp and Ipv6DestCidrIp in %s cannot be set at the same time."),
    /// an IPv4 and an IPv6 CIDR in one rule
    FamilyConflict("InvalidParameter.Conflict", 400, "IPv6 and IPv4 addresses cannot exist at the same time."),
    /// `SourceCidrIp` equal to `DestCidrIp`
    SameSourceDest("InvalidParamter.Conflict", 400, "The specified SourceCidrIp should be different from the DestCidrIp."),
    /// an ingress rule referencing its own group
    SourceGroupSelf("InvalidParamter.Conflict", 403, "The specified SecurityGroupId should be different from the SourceGroupId."),
    /// ICMP with an IPv6 CIDR
    V4ProtocolV6Address("InvalidParam.Ipv4ProtocolConflictWithIpv6Address", 400, "IPv6 address cannot be specified for IPv4-specific protocol."),
    /// ICMPv6 with an IPv4 CIDR
    V6ProtocolV4Address("InvalidParam.Ipv6ProtocolConflictWithIpv4Address", 400, "IPv4 address cannot be specified for IPv6-specific protocol."),
    /// ICMP with an IPv6 prefix list, ICMPv6 with an IPv4 one
    ProtocolFamilyMismatch("InvalidParam.ProtocolAndAddressFamilyMismatch", 400, "The specified Protocol and address family do not match."),
    /// a prefix list of the other family than the rule's local CIDR
    PrefixListFamilyMismatch("InvalidParam.PrefixListAddressFamilyMismatch", 400, "The address family of the specified prefix list does not match the specified CidrIp."),
    /// an ingress rule without source CIDR, group or prefix list
    MissingSource("MissingParameter.Source", 400, "One of the parameters SourceCidrIp, Ipv6SourceCidrIp, SourceGroupId or SourcePrefixListId in %s must be specified."),
    /// an egress rule without destination CIDR, group or prefix list
    MissingDest("MissingParameter.Dest", 400, "One of the parameters DestCidrIp, Ipv6DestCidrIp, DestGroupId or DestPrefixListId in %s must be specified."),
    /// a rule description over 512 characters
    DescriptionMalformed("InvalidSecurityGroupDiscription.Malformed", 400, "The specified security group rule description parameter %s is not valid."),
    /// `SourceGroupId` names no group
    SourceGroupNotFound("InvalidSourceGroupId.NotFound", 404, "The SourceGroupId provided does not exist in our records."),
    /// `DestGroupId` names no group
    DestGroupNotFound("InvalidDestGroupId.NotFound", 404, "The DestGroupId provided does not exist in our records."),
    /// an egress rule referencing its own group
    DestGroupSelf("InvalidSecurityGroup.IsSame", 403, "The authorized SecurityGroupId should be different from the DestGroupId."),
    /// `SourceGroupId` in another VPC
    SourceGroupVpcMismatch("InvalidSourceGroupId.Mismatch", 400, "Specified security group and source group are not in the same VPC."),
    /// `DestGroupId` in another VPC
    DestGroupVpcMismatch("InvalidDestGroupId.Mismatch", 400, "Specified security group and destination group are not in the same VPC."),
    /// an ingress group reference with `NicType` internet
    SourceGroupNicType("InvalidSourceGroupId.Mismatch", 403, "NicType is required or NicType expects intranet."),
    /// an egress group reference with `NicType` internet
    DestGroupNicType("InvalidDestGroupId.Mismatch", 403, "NicType is required or NicType expects intranet."),
    /// ingress group reference across classic and VPC
    SourceNetworkTypeMismatch("InvalidNetworkType.Mismatch", 403, "The specified SecurityGroup network type should be same with SourceGroup network type (vpc or classic)."),
    /// egress group reference across classic and VPC
    DestNetworkTypeConflict("InvalidNetworkType.Conflict", 403, "The specified SecurityGroup network type should be same with SourceGroup network type (vpc or classic)."),
    /// a drop rule or a group reference in an enterprise group
    EnterpriseAttribute("InvalidGroupParameter.OperationDenied", 400, "The attributes Policy, SourceGroupId, DestGroupId of enterprise level security groups are not allowed to be set or modified."),
    /// a reference to an enterprise group
    AuthorizeToEnterprise("InvalidGroupAuthParameter.OperationDenied", 400, "The security group can not authorize to enterprise level security group."),
    /// no such prefix list
    PrefixListNotFound("InvalidPrefixListId.NotFound", 404, "The specified prefix list was not found."),
    /// a prefix list in a classic-network group
    ClassicPrefixList("NotSupported.ClassicNetworkPrefixList", 400, "The prefix list is not supported when the network type of security group is classic."),
    /// a 21st group-reference rule in a basic group
    GroupRuleLimit("AuthorizedGroupRule.LimitExceed", 400, "You have reached the limit on the number of group authorization rules that you can add to a security group.When authorization object of rule is security group, the limit is 20."),
    /// a NIC would carry more than 1000 rules (lists weighted by `MaxEntries`), by a new or modified rule or by attaching groups
    RuleLimit("AuthorizationLimitExceed", 403, "The limit of authorization records in the security group reaches."),
    /// more than 10 groups for one NIC
    NicGroupLimit("InstanceSecurityGroupLimitExceeded", 400, "Exceeding the allowed amount of security groups that an instance can be in."),
    /// revoking a rule id that is not in the group in that direction
    RuleIdInvalid("InvalidParam.SecurityGroupRuleId", 400, "The specified parameter SecurityGroupRuleId is not valid."),
    /// a rule id twice in one revoke
    RuleIdRepeated("InvalidParam.SecurityGroupRuleIdRepeated", 400, "The specified parameter SecurityGroupRuleId is repeated."),
    /// modifying a rule id that is not in the group in that direction
    RuleIdNotFound("InvalidSecurityGroupRuleId.NotFound", 404, "The specified SecurityGroupRuleId is not exists."),
    /// legacy modify (no rule id): no rule has those fields
    RuleNotFound("SecurityGroupRule.NotFound", 404, "The target security group rule not exist."),
    /// modify changes the remote object's kind or family
    ModifyEntityType("InvalidOperation.ModifySgRuleEntityType", 400, "The source or destination type of the rules cannot be modified."),
    /// modify changes `NicType`
    ModifyNicType("InvalidOperation.ModifyNicType", 400, "NicType is not allowed to modify."),
    /// modify switches between port range and port list
    ModifyPortRangeType("InvalidOperation.ModifyPortRangeType", 400, "The PortRange type is not allowed to be modified. You cannot modify a rule from using the port list to not using it, and vice versa."),
    /// modify clears a field that has a value
    ModifyClearsField("InvalidParam.InvalidModifyRuleRequest", 400, "The request parameters are illegal: %s has a value and cannot be modified to empty."),
    /// modify makes the rule identical to another
    RuleDuplicate("InvalidOperation.RuleDuplicate", 400, "The modified rule duplicates the existing rule %s."),
    /// `ModifySecurityGroupPolicy` on an enterprise group
    EnterpriseInnerPolicy("InvalidParameter.InnerAccessPolicy", 404, "The InnerAccessPolicy attribute of enterprise level security group can't be modified."),
    /// `SecurityGroupType` not normal/enterprise
    GroupTypeInvalid("InvalidParams.GroupType", 400, "The specified security group type is not valid."),
    /// an enterprise group without `VpcId`
    EnterpriseNeedsVpc("InvalidParams.VpcIdGroupType", 400, "Only VPC instance supports enterprise level security group."),
    /// a bad `SecurityGroupName`
    GroupNameMalformed("InvalidSecurityGroupName.Malformed", 400, "The specified parameter SecurityGroupName is not valid."),
    /// a bad group `Description`
    DescriptionParamMalformed("InvalidDescription.Malformed", 400, "The specified parameter \"Description\" is not valid."),
    /// deleting a group that is on a NIC
    GroupHasInstances("DependencyViolation", 403, "There is still instance(s) in the specified security group."),
    /// deleting a group that another group's rule references
    GroupReferenced("DependencyViolation", 403, "The specified security group has been authorized in another one."),
    /// no such network interface (modify or delete)
    EniNotFound("InvalidEniId.NotFound", 404, "The specified NetworkInterfaceId does not exist."),
    /// attaching a group of another VPC (or a classic group) to a VPC NIC; creating a NIC in groups of two VPCs
    NicVpcMismatch("InvalidOperation.VpcMismatch", 403, "The security group %s is not in the VPC of the network interface."),
    /// creating a NIC in a classic-network group
    GroupNotVpc("InvalidSecurityGroupId.NotVpc", 403, "The specified security group is not of the VPC network type."),
    /// a NIC address that is not an address of its family
    IpMalformed("InvalidPrivateIpAddress.Malformed", 400, "The specified parameter %s is not a valid IP address."),
    /// a NIC address another NIC of the VPC has, or given twice
    IpInUse("InvalidIPAddress.AlreadyUsed", 400, "The specified IPAddress %s is already used by other resource."),
    /// deleting a NIC attached to an instance
    EniInUse("InvalidOperation.InvalidEniState", 400, "The network interface is attached to an instance; detach it first."),
}

impl ErrorCode {
    /// The error, for a template without `%s`.
    pub fn error(self) -> ApiError {
        debug_assert!(
            !self.template().contains("%s"),
            "{self:?} takes an argument"
        );
        ApiError {
            code: self,
            message: self.template().to_string(),
            http_status: self.http_status(),
        }
    }

    /// The error, `arg` filling the template's `%s`.
    pub fn with(self, arg: &str) -> ApiError {
        debug_assert!(self.template().contains("%s"), "{self:?} takes no argument");
        ApiError {
            code: self,
            message: self.template().replacen("%s", arg, 1),
            http_status: self.http_status(),
        }
    }

    /// The Markdown table of every error (code, HTTP status, when), as `docs/control-plane.md`
    /// has it.
    pub fn docs_table() -> String {
        let mut table = String::from("| Code | HTTP | When |\n| --- | --- | --- |\n");
        for code in ErrorCode::ALL {
            table += &format!(
                "| `{}` | {} | {} |\n",
                code.as_str(),
                code.http_status(),
                code.when()
            );
        }
        table
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

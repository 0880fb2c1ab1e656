//! Node-related messages (TS 29.244 7.4).

use crate::{
    group,
    ie::{
        addr::{FqCsid, NodeId, UserPlaneIpResourceInformation},
        grouped::UserPlanePathFailureReport,
        simple::*,
        types as t,
    },
};

group! {
    /// Heartbeat Request (Table 7.4.2.1-1).
    #[derive(Default)]
    pub struct HeartbeatRequest(None) {
        /// Recovery Time Stamp.
        recovery_time_stamp: one RecoveryTimeStamp = t::RECOVERY_TIME_STAMP,
    }
}

group! {
    /// Heartbeat Response (Table 7.4.2.2-1).
    #[derive(Default)]
    pub struct HeartbeatResponse(None) {
        /// Recovery Time Stamp.
        recovery_time_stamp: one RecoveryTimeStamp = t::RECOVERY_TIME_STAMP,
    }
}

group! {
    /// PFCP Association Setup Request (Table 7.4.4.1-1).
    pub struct AssociationSetupRequest(None) {
        /// Node ID.
        node_id: one NodeId = t::NODE_ID,
        /// Recovery Time Stamp.
        recovery_time_stamp: one RecoveryTimeStamp = t::RECOVERY_TIME_STAMP,
        /// UP Function Features (when sent by the UP function).
        up_function_features: opt UpFunctionFeatures = t::UP_FUNCTION_FEATURES,
        /// CP Function Features (when sent by the CP function).
        cp_function_features: opt CpFunctionFeatures = t::CP_FUNCTION_FEATURES,
        /// User Plane IP Resource Information.
        user_plane_ip_resource_information: many UserPlaneIpResourceInformation = t::USER_PLANE_IP_RESOURCE_INFORMATION,
    }
}

group! {
    /// PFCP Association Setup Response (Table 7.4.4.2-1).
    pub struct AssociationSetupResponse(None) {
        /// Node ID.
        node_id: one NodeId = t::NODE_ID,
        /// Cause.
        cause: one CauseIe = t::CAUSE,
        /// Recovery Time Stamp.
        recovery_time_stamp: one RecoveryTimeStamp = t::RECOVERY_TIME_STAMP,
        /// UP Function Features.
        up_function_features: opt UpFunctionFeatures = t::UP_FUNCTION_FEATURES,
        /// CP Function Features.
        cp_function_features: opt CpFunctionFeatures = t::CP_FUNCTION_FEATURES,
        /// User Plane IP Resource Information.
        user_plane_ip_resource_information: many UserPlaneIpResourceInformation = t::USER_PLANE_IP_RESOURCE_INFORMATION,
    }
}

group! {
    /// PFCP Association Update Request (Table 7.4.4.3-1).
    pub struct AssociationUpdateRequest(None) {
        /// Node ID.
        node_id: one NodeId = t::NODE_ID,
        /// UP Function Features.
        up_function_features: opt UpFunctionFeatures = t::UP_FUNCTION_FEATURES,
        /// CP Function Features.
        cp_function_features: opt CpFunctionFeatures = t::CP_FUNCTION_FEATURES,
        /// PFCP Association Release Request.
        association_release_request: opt AssociationReleaseRequestFlags = t::PFCP_ASSOCIATION_RELEASE_REQUEST,
        /// Graceful Release Period.
        graceful_release_period: opt GracefulReleasePeriod = t::GRACEFUL_RELEASE_PERIOD,
        /// User Plane IP Resource Information.
        user_plane_ip_resource_information: many UserPlaneIpResourceInformation = t::USER_PLANE_IP_RESOURCE_INFORMATION,
    }
}

group! {
    /// PFCP Association Update Response (Table 7.4.4.4-1).
    pub struct AssociationUpdateResponse(None) {
        /// Node ID.
        node_id: one NodeId = t::NODE_ID,
        /// Cause.
        cause: one CauseIe = t::CAUSE,
        /// UP Function Features.
        up_function_features: opt UpFunctionFeatures = t::UP_FUNCTION_FEATURES,
        /// CP Function Features.
        cp_function_features: opt CpFunctionFeatures = t::CP_FUNCTION_FEATURES,
    }
}

group! {
    /// PFCP Association Release Request (Table 7.4.4.5-1).
    pub struct AssociationReleaseRequest(None) {
        /// Node ID.
        node_id: one NodeId = t::NODE_ID,
    }
}

group! {
    /// PFCP Association Release Response (Table 7.4.4.6-1).
    pub struct AssociationReleaseResponse(None) {
        /// Node ID.
        node_id: one NodeId = t::NODE_ID,
        /// Cause.
        cause: one CauseIe = t::CAUSE,
    }
}

group! {
    /// PFCP Version Not Supported Response (7.4.4.7): no IEs.
    #[derive(Default)]
    pub struct VersionNotSupportedResponse(None) {}
}

group! {
    /// PFCP Node Report Request (Table 7.4.5.1-1).
    pub struct NodeReportRequest(None) {
        /// Node ID.
        node_id: one NodeId = t::NODE_ID,
        /// Node Report Type.
        node_report_type: one NodeReportType = t::NODE_REPORT_TYPE,
        /// User Plane Path Failure Report.
        user_plane_path_failure_report: opt UserPlanePathFailureReport = t::USER_PLANE_PATH_FAILURE_REPORT,
    }
}

group! {
    /// PFCP Node Report Response (Table 7.4.5.2-1).
    pub struct NodeReportResponse(None) {
        /// Node ID.
        node_id: one NodeId = t::NODE_ID,
        /// Cause.
        cause: one CauseIe = t::CAUSE,
        /// Offending IE.
        offending_ie: opt OffendingIe = t::OFFENDING_IE,
    }
}

group! {
    /// PFCP Session Set Deletion Request (Table 7.4.6.1-1).
    pub struct SessionSetDeletionRequest(None) {
        /// Node ID.
        node_id: one NodeId = t::NODE_ID,
        /// FQ-CSIDs (SGW-C, PGW-C, SGW-U, PGW-U, TWAN, ePDG, MME: all of IE type FQ-CSID).
        fq_csids: many FqCsid = t::FQ_CSID,
    }
}

group! {
    /// PFCP Session Set Deletion Response (Table 7.4.6.2-1).
    pub struct SessionSetDeletionResponse(None) {
        /// Node ID.
        node_id: one NodeId = t::NODE_ID,
        /// Cause.
        cause: one CauseIe = t::CAUSE,
        /// Offending IE.
        offending_ie: opt OffendingIe = t::OFFENDING_IE,
    }
}

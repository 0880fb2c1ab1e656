//! Session-related messages (TS 29.244 7.5).

use crate::{
    group,
    ie::{
        addr::{FSeid, FqCsid, NodeId},
        grouped::*,
        simple::*,
        types as t,
    },
    wire::Opaque,
};

group! {
    /// PFCP Session Establishment Request (Table 7.5.2.1-1).
    pub struct SessionEstablishmentRequest(None) {
        /// Node ID.
        node_id: one NodeId = t::NODE_ID,
        /// CP F-SEID.
        cp_fseid: one FSeid = t::F_SEID,
        /// Create PDR.
        create_pdrs: many CreatePdr = t::CREATE_PDR,
        /// Create FAR.
        create_fars: many CreateFar = t::CREATE_FAR,
        /// Create URR.
        create_urrs: many CreateUrr = t::CREATE_URR,
        /// Create QER.
        create_qers: many CreateQer = t::CREATE_QER,
        /// Create BAR.
        create_bar: opt CreateBar = t::CREATE_BAR,
        /// Create Traffic Endpoint.
        create_traffic_endpoints: many Opaque = t::CREATE_TRAFFIC_ENDPOINT,
        /// PDN Type.
        pdn_type: opt PdnType = t::PDN_TYPE,
        /// FQ-CSIDs.
        fq_csids: many FqCsid = t::FQ_CSID,
        /// User Plane Inactivity Timer.
        user_plane_inactivity_timer: opt UserPlaneInactivityTimer = t::USER_PLANE_INACTIVITY_TIMER,
        /// User ID.
        user_id: opt Opaque = t::USER_ID,
        /// Trace Information.
        trace_information: opt Opaque = t::TRACE_INFORMATION,
        /// APN/DNN.
        apn_dnn: opt Bytes = t::APN_DNN,
    }
}

group! {
    /// PFCP Session Establishment Response (Table 7.5.3.1-1).
    pub struct SessionEstablishmentResponse(None) {
        /// Node ID.
        node_id: one NodeId = t::NODE_ID,
        /// Cause.
        cause: one CauseIe = t::CAUSE,
        /// Offending IE.
        offending_ie: opt OffendingIe = t::OFFENDING_IE,
        /// UP F-SEID.
        up_fseid: opt FSeid = t::F_SEID,
        /// Created PDR.
        created_pdrs: many CreatedPdr = t::CREATED_PDR,
        /// Load Control Information.
        load_control_information: opt LoadControlInformation = t::LOAD_CONTROL_INFORMATION,
        /// Overload Control Information.
        overload_control_information: opt OverloadControlInformation = t::OVERLOAD_CONTROL_INFORMATION,
        /// FQ-CSIDs.
        fq_csids: many FqCsid = t::FQ_CSID,
        /// Failed Rule ID.
        failed_rule_id: opt crate::ie::usage::FailedRuleId = t::FAILED_RULE_ID,
        /// Created Traffic Endpoint.
        created_traffic_endpoints: many Opaque = t::CREATED_TRAFFIC_ENDPOINT,
    }
}

group! {
    /// PFCP Session Modification Request (Table 7.5.4.1-1).
    #[derive(Default)]
    pub struct SessionModificationRequest(None) {
        /// CP F-SEID.
        cp_fseid: opt FSeid = t::F_SEID,
        /// Remove PDR.
        remove_pdrs: many RemovePdr = t::REMOVE_PDR,
        /// Remove FAR.
        remove_fars: many RemoveFar = t::REMOVE_FAR,
        /// Remove URR.
        remove_urrs: many RemoveUrr = t::REMOVE_URR,
        /// Remove QER.
        remove_qers: many RemoveQer = t::REMOVE_QER,
        /// Remove BAR.
        remove_bar: opt RemoveBar = t::REMOVE_BAR,
        /// Remove Traffic Endpoint.
        remove_traffic_endpoints: many Opaque = t::REMOVE_TRAFFIC_ENDPOINT,
        /// Create PDR.
        create_pdrs: many CreatePdr = t::CREATE_PDR,
        /// Create FAR.
        create_fars: many CreateFar = t::CREATE_FAR,
        /// Create URR.
        create_urrs: many CreateUrr = t::CREATE_URR,
        /// Create QER.
        create_qers: many CreateQer = t::CREATE_QER,
        /// Create BAR.
        create_bar: opt CreateBar = t::CREATE_BAR,
        /// Create Traffic Endpoint.
        create_traffic_endpoints: many Opaque = t::CREATE_TRAFFIC_ENDPOINT,
        /// Update PDR.
        update_pdrs: many UpdatePdr = t::UPDATE_PDR,
        /// Update FAR.
        update_fars: many UpdateFar = t::UPDATE_FAR,
        /// Update URR.
        update_urrs: many UpdateUrr = t::UPDATE_URR,
        /// Update QER.
        update_qers: many UpdateQer = t::UPDATE_QER,
        /// Update BAR.
        update_bar: opt UpdateBar = t::UPDATE_BAR,
        /// Update Traffic Endpoint.
        update_traffic_endpoints: many Opaque = t::UPDATE_TRAFFIC_ENDPOINT,
        /// PFCPSMReq-Flags.
        pfcpsmreq_flags: opt PfcpSmReqFlags = t::PFCPSMREQ_FLAGS,
        /// Query URR.
        query_urrs: many QueryUrr = t::QUERY_URR,
        /// FQ-CSIDs.
        fq_csids: many FqCsid = t::FQ_CSID,
        /// User Plane Inactivity Timer.
        user_plane_inactivity_timer: opt UserPlaneInactivityTimer = t::USER_PLANE_INACTIVITY_TIMER,
        /// Query URR Reference.
        query_urr_reference: opt Opaque = t::QUERY_URR_REFERENCE,
        /// Trace Information.
        trace_information: opt Opaque = t::TRACE_INFORMATION,
    }
}

group! {
    /// PFCP Session Modification Response (Table 7.5.5.1-1).
    #[derive(Default)]
    pub struct SessionModificationResponse(None) {
        /// Cause.
        cause: one CauseIe = t::CAUSE,
        /// Offending IE.
        offending_ie: opt OffendingIe = t::OFFENDING_IE,
        /// Created PDR.
        created_pdrs: many CreatedPdr = t::CREATED_PDR,
        /// Load Control Information.
        load_control_information: opt LoadControlInformation = t::LOAD_CONTROL_INFORMATION,
        /// Overload Control Information.
        overload_control_information: opt OverloadControlInformation = t::OVERLOAD_CONTROL_INFORMATION,
        /// Usage Report.
        usage_reports: many UsageReport = t::USAGE_REPORT_MODIFICATION,
        /// Failed Rule ID.
        failed_rule_id: opt crate::ie::usage::FailedRuleId = t::FAILED_RULE_ID,
        /// Additional Usage Reports Information.
        additional_usage_reports_information: opt Opaque = t::ADDITIONAL_USAGE_REPORTS_INFORMATION,
        /// Created/Updated Traffic Endpoint.
        created_traffic_endpoints: many Opaque = t::CREATED_TRAFFIC_ENDPOINT,
    }
}

group! {
    /// PFCP Session Deletion Request (7.5.6): no IEs needed by the UP function.
    #[derive(Default)]
    pub struct SessionDeletionRequest(None) {}
}

group! {
    /// PFCP Session Deletion Response (Table 7.5.7.1-1).
    #[derive(Default)]
    pub struct SessionDeletionResponse(None) {
        /// Cause.
        cause: one CauseIe = t::CAUSE,
        /// Offending IE.
        offending_ie: opt OffendingIe = t::OFFENDING_IE,
        /// Load Control Information.
        load_control_information: opt LoadControlInformation = t::LOAD_CONTROL_INFORMATION,
        /// Overload Control Information.
        overload_control_information: opt OverloadControlInformation = t::OVERLOAD_CONTROL_INFORMATION,
        /// Usage Report.
        usage_reports: many UsageReport = t::USAGE_REPORT_DELETION,
    }
}

group! {
    /// PFCP Session Report Request (Table 7.5.8.1-1).
    #[derive(Default)]
    pub struct SessionReportRequest(None) {
        /// Report Type.
        report_type: one ReportType = t::REPORT_TYPE,
        /// Downlink Data Report.
        downlink_data_report: opt DownlinkDataReport = t::DOWNLINK_DATA_REPORT,
        /// Usage Report.
        usage_reports: many UsageReport = t::USAGE_REPORT_REPORT,
        /// Error Indication Report.
        error_indication_report: opt ErrorIndicationReport = t::ERROR_INDICATION_REPORT,
        /// Load Control Information.
        load_control_information: opt LoadControlInformation = t::LOAD_CONTROL_INFORMATION,
        /// Overload Control Information.
        overload_control_information: opt OverloadControlInformation = t::OVERLOAD_CONTROL_INFORMATION,
        /// Additional Usage Reports Information.
        additional_usage_reports_information: opt Opaque = t::ADDITIONAL_USAGE_REPORTS_INFORMATION,
    }
}

group! {
    /// PFCP Session Report Response (Table 7.5.9.1-1).
    #[derive(Default)]
    pub struct SessionReportResponse(None) {
        /// Cause.
        cause: one CauseIe = t::CAUSE,
        /// Offending IE.
        offending_ie: opt OffendingIe = t::OFFENDING_IE,
        /// Update BAR.
        update_bar: opt UpdateBarReportResponse = t::UPDATE_BAR_SESSION_REPORT_RESPONSE,
        /// PFCPSRRsp-Flags.
        pfcpsrrsp_flags: opt PfcpSrRspFlags = t::PFCPSRRSP_FLAGS,
        /// CP F-SEID.
        cp_fseid: opt FSeid = t::F_SEID,
    }
}

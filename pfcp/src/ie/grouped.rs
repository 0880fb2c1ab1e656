//! Grouped IEs (TS 29.244 7.5): fields in the order of the spec's tables.

use super::{
    addr::{FTeid, FqCsid, UeIpAddress},
    ohc::{OuterHeaderCreation, OuterHeaderRemoval},
    sdf::SdfFilter,
    simple::*,
    types as t,
    usage::{DownlinkDataServiceInformation, Volume, VolumeMeasurement},
};
use crate::{group, wire::Opaque};

group! {
    /// Create PDR (Table 7.5.2.2-1).
    #[derive(Default)]
    pub struct CreatePdr(Some(t::CREATE_PDR)) {
        /// PDR ID.
        pdr_id: one PdrId = t::PDR_ID,
        /// Precedence.
        precedence: one Precedence = t::PRECEDENCE,
        /// PDI.
        pdi: one Pdi = t::PDI,
        /// Outer Header Removal.
        outer_header_removal: opt OuterHeaderRemoval = t::OUTER_HEADER_REMOVAL,
        /// FAR ID.
        far_id: opt FarId = t::FAR_ID,
        /// URR IDs.
        urr_ids: many UrrId = t::URR_ID,
        /// QER IDs.
        qer_ids: many QerId = t::QER_ID,
        /// Activate Predefined Rules.
        activate_predefined_rules: many Bytes = t::ACTIVATE_PREDEFINED_RULES,
    }
}

group! {
    /// PDI (Table 7.5.2.2-2): what a PDR matches.
    #[derive(Default)]
    pub struct Pdi(Some(t::PDI)) {
        /// Source Interface.
        source_interface: one SourceInterface = t::SOURCE_INTERFACE,
        /// Local F-TEID.
        local_fteid: opt FTeid = t::F_TEID,
        /// Network Instance.
        network_instance: opt NetworkInstance = t::NETWORK_INSTANCE,
        /// UE IP Address(es).
        ue_ip_addresses: many UeIpAddress = t::UE_IP_ADDRESS,
        /// Traffic Endpoint IDs.
        traffic_endpoint_ids: many Opaque = t::TRAFFIC_ENDPOINT_ID,
        /// SDF Filters.
        sdf_filters: many SdfFilter = t::SDF_FILTER,
        /// Application ID.
        application_id: opt ApplicationId = t::APPLICATION_ID,
        /// Ethernet PDU Session Information.
        ethernet_pdu_session_information: opt Opaque = t::ETHERNET_PDU_SESSION_INFORMATION,
        /// Ethernet Packet Filters.
        ethernet_packet_filters: many Opaque = t::ETHERNET_PACKET_FILTER,
        /// QFIs.
        qfis: many Qfi = t::QFI,
        /// Framed-Routes.
        framed_routes: many Opaque = t::FRAMED_ROUTE,
        /// Framed-Routing.
        framed_routing: opt Opaque = t::FRAMED_ROUTING,
        /// Framed-IPv6-Routes.
        framed_ipv6_routes: many Opaque = t::FRAMED_IPV6_ROUTE,
        /// Source Interface Type (3GPP Interface Type).
        source_interface_type: opt InterfaceType3gpp = t::INTERFACE_TYPE_3GPP,
    }
}

group! {
    /// Create FAR (Table 7.5.2.3-1).
    #[derive(Default)]
    pub struct CreateFar(Some(t::CREATE_FAR)) {
        /// FAR ID.
        far_id: one FarId = t::FAR_ID,
        /// Apply Action.
        apply_action: one ApplyAction = t::APPLY_ACTION,
        /// Forwarding Parameters.
        forwarding_parameters: opt ForwardingParameters = t::FORWARDING_PARAMETERS,
        /// Duplicating Parameters.
        duplicating_parameters: many DuplicatingParameters = t::DUPLICATING_PARAMETERS,
        /// BAR ID.
        bar_id: opt BarId = t::BAR_ID,
    }
}

group! {
    /// Forwarding Parameters (Table 7.5.2.3-2).
    #[derive(Default)]
    pub struct ForwardingParameters(Some(t::FORWARDING_PARAMETERS)) {
        /// Destination Interface.
        destination_interface: one DestinationInterface = t::DESTINATION_INTERFACE,
        /// Network Instance.
        network_instance: opt NetworkInstance = t::NETWORK_INSTANCE,
        /// Redirect Information.
        redirect_information: opt Opaque = t::REDIRECT_INFORMATION,
        /// Outer Header Creation.
        outer_header_creation: opt OuterHeaderCreation = t::OUTER_HEADER_CREATION,
        /// Transport Level Marking.
        transport_level_marking: opt TransportLevelMarking = t::TRANSPORT_LEVEL_MARKING,
        /// Forwarding Policy.
        forwarding_policy: opt ForwardingPolicy = t::FORWARDING_POLICY,
        /// Header Enrichment.
        header_enrichment: opt Opaque = t::HEADER_ENRICHMENT,
        /// Linked Traffic Endpoint ID.
        linked_traffic_endpoint_id: opt Opaque = t::TRAFFIC_ENDPOINT_ID,
        /// Proxying.
        proxying: opt Opaque = t::PROXYING,
        /// Destination Interface Type (3GPP Interface Type).
        destination_interface_type: opt InterfaceType3gpp = t::INTERFACE_TYPE_3GPP,
    }
}

group! {
    /// Duplicating Parameters (Table 7.5.2.3-3).
    #[derive(Default)]
    pub struct DuplicatingParameters(Some(t::DUPLICATING_PARAMETERS)) {
        /// Destination Interface.
        destination_interface: one DestinationInterface = t::DESTINATION_INTERFACE,
        /// Outer Header Creation.
        outer_header_creation: opt OuterHeaderCreation = t::OUTER_HEADER_CREATION,
        /// Transport Level Marking.
        transport_level_marking: opt TransportLevelMarking = t::TRANSPORT_LEVEL_MARKING,
        /// Forwarding Policy.
        forwarding_policy: opt ForwardingPolicy = t::FORWARDING_POLICY,
    }
}

group! {
    /// Create URR (Table 7.5.2.4-1).
    #[derive(Default)]
    pub struct CreateUrr(Some(t::CREATE_URR)) {
        /// URR ID.
        urr_id: one UrrId = t::URR_ID,
        /// Measurement Method.
        measurement_method: one MeasurementMethod = t::MEASUREMENT_METHOD,
        /// Reporting Triggers.
        reporting_triggers: one ReportingTriggers = t::REPORTING_TRIGGERS,
        /// Measurement Period.
        measurement_period: opt MeasurementPeriod = t::MEASUREMENT_PERIOD,
        /// Volume Threshold.
        volume_threshold: opt Volume = t::VOLUME_THRESHOLD,
        /// Volume Quota.
        volume_quota: opt Volume = t::VOLUME_QUOTA,
        /// Time Threshold.
        time_threshold: opt TimeThreshold = t::TIME_THRESHOLD,
        /// Time Quota.
        time_quota: opt TimeQuota = t::TIME_QUOTA,
        /// Quota Holding Time.
        quota_holding_time: opt QuotaHoldingTime = t::QUOTA_HOLDING_TIME,
        /// Dropped DL Traffic Threshold.
        dropped_dl_traffic_threshold: opt Opaque = t::DROPPED_DL_TRAFFIC_THRESHOLD,
        /// Monitoring Time.
        monitoring_time: opt MonitoringTime = t::MONITORING_TIME,
        /// Subsequent Volume Threshold.
        subsequent_volume_threshold: opt Volume = t::SUBSEQUENT_VOLUME_THRESHOLD,
        /// Subsequent Time Threshold.
        subsequent_time_threshold: opt SubsequentTimeThreshold = t::SUBSEQUENT_TIME_THRESHOLD,
        /// Subsequent Volume Quota.
        subsequent_volume_quota: opt Volume = t::SUBSEQUENT_VOLUME_QUOTA,
        /// Subsequent Time Quota.
        subsequent_time_quota: opt SubsequentTimeQuota = t::SUBSEQUENT_TIME_QUOTA,
        /// Inactivity Detection Time.
        inactivity_detection_time: opt InactivityDetectionTime = t::INACTIVITY_DETECTION_TIME,
        /// Linked URR IDs.
        linked_urr_ids: many LinkedUrrId = t::LINKED_URR_ID,
        /// Measurement Information.
        measurement_information: opt MeasurementInformation = t::MEASUREMENT_INFORMATION,
        /// Time Quota Mechanism.
        time_quota_mechanism: opt Opaque = t::TIME_QUOTA_MECHANISM,
        /// Aggregated URRs.
        aggregated_urrs: many Opaque = t::AGGREGATED_URRS,
        /// FAR ID for Quota Action.
        far_id_for_quota_action: opt FarId = t::FAR_ID,
        /// Ethernet Inactivity Timer.
        ethernet_inactivity_timer: opt Opaque = t::ETHERNET_INACTIVITY_TIMER,
        /// Additional Monitoring Time.
        additional_monitoring_time: many Opaque = t::ADDITIONAL_MONITORING_TIME,
    }
}

group! {
    /// Create QER (Table 7.5.2.5-1).
    #[derive(Default)]
    pub struct CreateQer(Some(t::CREATE_QER)) {
        /// QER ID.
        qer_id: one QerId = t::QER_ID,
        /// QER Correlation ID.
        qer_correlation_id: opt QerCorrelationId = t::QER_CORRELATION_ID,
        /// Gate Status.
        gate_status: one GateStatus = t::GATE_STATUS,
        /// Maximum Bitrate.
        mbr: opt BitRate = t::MBR,
        /// Guaranteed Bitrate.
        gbr: opt BitRate = t::GBR,
        /// Packet Rate.
        packet_rate: opt Opaque = t::PACKET_RATE,
        /// DL Flow Level Marking.
        dl_flow_level_marking: opt Opaque = t::DL_FLOW_LEVEL_MARKING,
        /// QoS flow identifier.
        qfi: opt Qfi = t::QFI,
        /// Reflective QoS.
        rqi: opt Rqi = t::RQI,
        /// Paging Policy Indicator.
        paging_policy_indicator: opt PagingPolicyIndicator = t::PAGING_POLICY_INDICATOR,
        /// Averaging Window.
        averaging_window: opt AveragingWindow = t::AVERAGING_WINDOW,
    }
}

group! {
    /// Create BAR (Table 7.5.2.6-1).
    #[derive(Default)]
    pub struct CreateBar(Some(t::CREATE_BAR)) {
        /// BAR ID.
        bar_id: one BarId = t::BAR_ID,
        /// Downlink Data Notification Delay.
        downlink_data_notification_delay: opt DownlinkDataNotificationDelay = t::DOWNLINK_DATA_NOTIFICATION_DELAY,
        /// Suggested Buffering Packets Count.
        suggested_buffering_packets_count: opt SuggestedBufferingPacketsCount = t::SUGGESTED_BUFFERING_PACKETS_COUNT,
    }
}

group! {
    /// Created PDR (Table 7.5.3.2-1), in Establishment and Modification Responses.
    #[derive(Default)]
    pub struct CreatedPdr(Some(t::CREATED_PDR)) {
        /// PDR ID.
        pdr_id: one PdrId = t::PDR_ID,
        /// Local F-TEID allocated by the UP function.
        local_fteid: opt FTeid = t::F_TEID,
        /// UE IP Address(es) allocated by the UP function.
        ue_ip_addresses: many UeIpAddress = t::UE_IP_ADDRESS,
    }
}

group! {
    /// Load Control Information (Table 7.5.3.3-1).
    #[derive(Default)]
    pub struct LoadControlInformation(Some(t::LOAD_CONTROL_INFORMATION)) {
        /// Load Control Sequence Number.
        sequence_number: one SequenceNumber = t::SEQUENCE_NUMBER,
        /// Load Metric.
        metric: one Metric = t::METRIC,
    }
}

group! {
    /// Overload Control Information (Table 7.5.3.4-1).
    #[derive(Default)]
    pub struct OverloadControlInformation(Some(t::OVERLOAD_CONTROL_INFORMATION)) {
        /// Overload Control Sequence Number.
        sequence_number: one SequenceNumber = t::SEQUENCE_NUMBER,
        /// Overload Reduction Metric.
        metric: one Metric = t::METRIC,
        /// Period of Validity.
        timer: one Timer = t::TIMER,
        /// Overload Control Information Flags.
        oci_flags: opt OciFlags = t::OCI_FLAGS,
    }
}

group! {
    /// Update PDR (Table 7.5.4.2-1).
    #[derive(Default)]
    pub struct UpdatePdr(Some(t::UPDATE_PDR)) {
        /// PDR ID.
        pdr_id: one PdrId = t::PDR_ID,
        /// Outer Header Removal.
        outer_header_removal: opt OuterHeaderRemoval = t::OUTER_HEADER_REMOVAL,
        /// Precedence.
        precedence: opt Precedence = t::PRECEDENCE,
        /// PDI.
        pdi: opt Pdi = t::PDI,
        /// FAR ID.
        far_id: opt FarId = t::FAR_ID,
        /// URR IDs.
        urr_ids: many UrrId = t::URR_ID,
        /// QER IDs.
        qer_ids: many QerId = t::QER_ID,
        /// Activate Predefined Rules.
        activate_predefined_rules: many Bytes = t::ACTIVATE_PREDEFINED_RULES,
        /// Deactivate Predefined Rules.
        deactivate_predefined_rules: many Bytes = t::DEACTIVATE_PREDEFINED_RULES,
    }
}

group! {
    /// Update FAR (Table 7.5.4.3-1).
    #[derive(Default)]
    pub struct UpdateFar(Some(t::UPDATE_FAR)) {
        /// FAR ID.
        far_id: one FarId = t::FAR_ID,
        /// Apply Action.
        apply_action: opt ApplyAction = t::APPLY_ACTION,
        /// Update Forwarding Parameters.
        update_forwarding_parameters: opt UpdateForwardingParameters = t::UPDATE_FORWARDING_PARAMETERS,
        /// Update Duplicating Parameters.
        update_duplicating_parameters: many UpdateDuplicatingParameters = t::UPDATE_DUPLICATING_PARAMETERS,
        /// BAR ID.
        bar_id: opt BarId = t::BAR_ID,
    }
}

group! {
    /// Update Forwarding Parameters (Table 7.5.4.3-2).
    #[derive(Default)]
    pub struct UpdateForwardingParameters(Some(t::UPDATE_FORWARDING_PARAMETERS)) {
        /// Destination Interface.
        destination_interface: opt DestinationInterface = t::DESTINATION_INTERFACE,
        /// Network Instance.
        network_instance: opt NetworkInstance = t::NETWORK_INSTANCE,
        /// Redirect Information.
        redirect_information: opt Opaque = t::REDIRECT_INFORMATION,
        /// Outer Header Creation.
        outer_header_creation: opt OuterHeaderCreation = t::OUTER_HEADER_CREATION,
        /// Transport Level Marking.
        transport_level_marking: opt TransportLevelMarking = t::TRANSPORT_LEVEL_MARKING,
        /// Forwarding Policy.
        forwarding_policy: opt ForwardingPolicy = t::FORWARDING_POLICY,
        /// Header Enrichment.
        header_enrichment: opt Opaque = t::HEADER_ENRICHMENT,
        /// PFCPSMReq-Flags (SNDEM: send End Marker).
        pfcpsmreq_flags: opt PfcpSmReqFlags = t::PFCPSMREQ_FLAGS,
        /// Linked Traffic Endpoint ID.
        linked_traffic_endpoint_id: opt Opaque = t::TRAFFIC_ENDPOINT_ID,
        /// Destination Interface Type (3GPP Interface Type).
        destination_interface_type: opt InterfaceType3gpp = t::INTERFACE_TYPE_3GPP,
    }
}

group! {
    /// Update Duplicating Parameters (Table 7.5.4.3-3).
    #[derive(Default)]
    pub struct UpdateDuplicatingParameters(Some(t::UPDATE_DUPLICATING_PARAMETERS)) {
        /// Destination Interface.
        destination_interface: opt DestinationInterface = t::DESTINATION_INTERFACE,
        /// Outer Header Creation.
        outer_header_creation: opt OuterHeaderCreation = t::OUTER_HEADER_CREATION,
        /// Transport Level Marking.
        transport_level_marking: opt TransportLevelMarking = t::TRANSPORT_LEVEL_MARKING,
        /// Forwarding Policy.
        forwarding_policy: opt ForwardingPolicy = t::FORWARDING_POLICY,
    }
}

group! {
    /// Update URR (Table 7.5.4.4-1).
    #[derive(Default)]
    pub struct UpdateUrr(Some(t::UPDATE_URR)) {
        /// URR ID.
        urr_id: one UrrId = t::URR_ID,
        /// Measurement Method.
        measurement_method: opt MeasurementMethod = t::MEASUREMENT_METHOD,
        /// Reporting Triggers.
        reporting_triggers: opt ReportingTriggers = t::REPORTING_TRIGGERS,
        /// Measurement Period.
        measurement_period: opt MeasurementPeriod = t::MEASUREMENT_PERIOD,
        /// Volume Threshold.
        volume_threshold: opt Volume = t::VOLUME_THRESHOLD,
        /// Volume Quota.
        volume_quota: opt Volume = t::VOLUME_QUOTA,
        /// Time Threshold.
        time_threshold: opt TimeThreshold = t::TIME_THRESHOLD,
        /// Time Quota.
        time_quota: opt TimeQuota = t::TIME_QUOTA,
        /// Quota Holding Time.
        quota_holding_time: opt QuotaHoldingTime = t::QUOTA_HOLDING_TIME,
        /// Dropped DL Traffic Threshold.
        dropped_dl_traffic_threshold: opt Opaque = t::DROPPED_DL_TRAFFIC_THRESHOLD,
        /// Monitoring Time.
        monitoring_time: opt MonitoringTime = t::MONITORING_TIME,
        /// Subsequent Volume Threshold.
        subsequent_volume_threshold: opt Volume = t::SUBSEQUENT_VOLUME_THRESHOLD,
        /// Subsequent Time Threshold.
        subsequent_time_threshold: opt SubsequentTimeThreshold = t::SUBSEQUENT_TIME_THRESHOLD,
        /// Subsequent Volume Quota.
        subsequent_volume_quota: opt Volume = t::SUBSEQUENT_VOLUME_QUOTA,
        /// Subsequent Time Quota.
        subsequent_time_quota: opt SubsequentTimeQuota = t::SUBSEQUENT_TIME_QUOTA,
        /// Inactivity Detection Time.
        inactivity_detection_time: opt InactivityDetectionTime = t::INACTIVITY_DETECTION_TIME,
        /// Linked URR IDs.
        linked_urr_ids: many LinkedUrrId = t::LINKED_URR_ID,
        /// Measurement Information.
        measurement_information: opt MeasurementInformation = t::MEASUREMENT_INFORMATION,
        /// Time Quota Mechanism.
        time_quota_mechanism: opt Opaque = t::TIME_QUOTA_MECHANISM,
        /// Aggregated URRs.
        aggregated_urrs: many Opaque = t::AGGREGATED_URRS,
        /// FAR ID for Quota Action.
        far_id_for_quota_action: opt FarId = t::FAR_ID,
    }
}

group! {
    /// Update QER (Table 7.5.4.5-1).
    #[derive(Default)]
    pub struct UpdateQer(Some(t::UPDATE_QER)) {
        /// QER ID.
        qer_id: one QerId = t::QER_ID,
        /// QER Correlation ID.
        qer_correlation_id: opt QerCorrelationId = t::QER_CORRELATION_ID,
        /// Gate Status.
        gate_status: opt GateStatus = t::GATE_STATUS,
        /// Maximum Bitrate.
        mbr: opt BitRate = t::MBR,
        /// Guaranteed Bitrate.
        gbr: opt BitRate = t::GBR,
        /// Packet Rate.
        packet_rate: opt Opaque = t::PACKET_RATE,
        /// DL Flow Level Marking.
        dl_flow_level_marking: opt Opaque = t::DL_FLOW_LEVEL_MARKING,
        /// QoS flow identifier.
        qfi: opt Qfi = t::QFI,
        /// Reflective QoS.
        rqi: opt Rqi = t::RQI,
        /// Paging Policy Indicator.
        paging_policy_indicator: opt PagingPolicyIndicator = t::PAGING_POLICY_INDICATOR,
        /// Averaging Window.
        averaging_window: opt AveragingWindow = t::AVERAGING_WINDOW,
    }
}

group! {
    /// Update BAR in a Session Modification Request (Table 7.5.4.8-1, IE type 86).
    #[derive(Default)]
    pub struct UpdateBar(Some(t::UPDATE_BAR)) {
        /// BAR ID.
        bar_id: one BarId = t::BAR_ID,
        /// Downlink Data Notification Delay.
        downlink_data_notification_delay: opt DownlinkDataNotificationDelay = t::DOWNLINK_DATA_NOTIFICATION_DELAY,
        /// Suggested Buffering Packets Count.
        suggested_buffering_packets_count: opt SuggestedBufferingPacketsCount = t::SUGGESTED_BUFFERING_PACKETS_COUNT,
    }
}

group! {
    /// Update BAR in a Session Report Response (Table 7.5.9.2-1, IE type 12).
    #[derive(Default)]
    pub struct UpdateBarReportResponse(Some(t::UPDATE_BAR_SESSION_REPORT_RESPONSE)) {
        /// BAR ID.
        bar_id: one BarId = t::BAR_ID,
        /// Downlink Data Notification Delay.
        downlink_data_notification_delay: opt DownlinkDataNotificationDelay = t::DOWNLINK_DATA_NOTIFICATION_DELAY,
        /// DL Buffering Duration.
        dl_buffering_duration: opt DlBufferingDuration = t::DL_BUFFERING_DURATION,
        /// DL Buffering Suggested Packet Count.
        dl_buffering_suggested_packet_count: opt DlBufferingSuggestedPacketCount = t::DL_BUFFERING_SUGGESTED_PACKET_COUNT,
        /// Suggested Buffering Packets Count.
        suggested_buffering_packets_count: opt SuggestedBufferingPacketsCount = t::SUGGESTED_BUFFERING_PACKETS_COUNT,
    }
}

group! {
    /// Remove PDR (Table 7.5.4.6-1).
    #[derive(Default)]
    pub struct RemovePdr(Some(t::REMOVE_PDR)) {
        /// PDR ID.
        pdr_id: one PdrId = t::PDR_ID,
    }
}

group! {
    /// Remove FAR (Table 7.5.4.7-1).
    #[derive(Default)]
    pub struct RemoveFar(Some(t::REMOVE_FAR)) {
        /// FAR ID.
        far_id: one FarId = t::FAR_ID,
    }
}

group! {
    /// Remove URR (Table 7.5.4.8-1).
    #[derive(Default)]
    pub struct RemoveUrr(Some(t::REMOVE_URR)) {
        /// URR ID.
        urr_id: one UrrId = t::URR_ID,
    }
}

group! {
    /// Remove QER (Table 7.5.4.9-1).
    #[derive(Default)]
    pub struct RemoveQer(Some(t::REMOVE_QER)) {
        /// QER ID.
        qer_id: one QerId = t::QER_ID,
    }
}

group! {
    /// Remove BAR (Table 7.5.4.12-1).
    #[derive(Default)]
    pub struct RemoveBar(Some(t::REMOVE_BAR)) {
        /// BAR ID.
        bar_id: one BarId = t::BAR_ID,
    }
}

group! {
    /// Query URR (Table 7.5.4.10-1).
    #[derive(Default)]
    pub struct QueryUrr(Some(t::QUERY_URR)) {
        /// URR ID.
        urr_id: one UrrId = t::URR_ID,
    }
}

group! {
    /// Usage Report (Tables 7.5.5.2-1, 7.5.7.2-1, 7.5.8.3-1): one structure for IE types 78
    /// (Modification Response), 79 (Deletion Response) and 80 (Report Request).
    #[derive(Default)]
    pub struct UsageReport(None) {
        /// URR ID.
        urr_id: one UrrId = t::URR_ID,
        /// UR-SEQN.
        ur_seqn: one UrSeqn = t::UR_SEQN,
        /// Usage Report Trigger.
        usage_report_trigger: one UsageReportTrigger = t::USAGE_REPORT_TRIGGER,
        /// Start Time.
        start_time: opt StartTime = t::START_TIME,
        /// End Time.
        end_time: opt EndTime = t::END_TIME,
        /// Volume Measurement.
        volume_measurement: opt VolumeMeasurement = t::VOLUME_MEASUREMENT,
        /// Duration Measurement.
        duration_measurement: opt DurationMeasurement = t::DURATION_MEASUREMENT,
        /// Application Detection Information.
        application_detection_information: opt Opaque = t::APPLICATION_DETECTION_INFORMATION,
        /// UE IP Address.
        ue_ip_address: opt UeIpAddress = t::UE_IP_ADDRESS,
        /// Network Instance.
        network_instance: opt NetworkInstance = t::NETWORK_INSTANCE,
        /// Time of First Packet.
        time_of_first_packet: opt TimeOfFirstPacket = t::TIME_OF_FIRST_PACKET,
        /// Time of Last Packet.
        time_of_last_packet: opt TimeOfLastPacket = t::TIME_OF_LAST_PACKET,
        /// Usage Information.
        usage_information: opt Opaque = t::USAGE_INFORMATION,
        /// Query URR Reference.
        query_urr_reference: opt Opaque = t::QUERY_URR_REFERENCE,
        /// Event Time Stamps.
        event_time_stamps: many Opaque = t::EVENT_TIME_STAMP,
        /// Ethernet Traffic Information.
        ethernet_traffic_information: opt Opaque = t::ETHERNET_TRAFFIC_INFORMATION,
    }
}

group! {
    /// Downlink Data Report (Table 7.5.8.2-1).
    #[derive(Default)]
    pub struct DownlinkDataReport(Some(t::DOWNLINK_DATA_REPORT)) {
        /// PDR ID.
        pdr_id: one PdrId = t::PDR_ID,
        /// Downlink Data Service Information.
        downlink_data_service_information: many DownlinkDataServiceInformation = t::DOWNLINK_DATA_SERVICE_INFORMATION,
    }
}

group! {
    /// Error Indication Report (Table 7.5.8.4-1).
    #[derive(Default)]
    pub struct ErrorIndicationReport(Some(t::ERROR_INDICATION_REPORT)) {
        /// Remote F-TEIDs.
        remote_fteids: many FTeid = t::F_TEID,
    }
}

group! {
    /// User Plane Path Failure Report (Table 7.4.5.1.2-1).
    #[derive(Default)]
    pub struct UserPlanePathFailureReport(Some(t::USER_PLANE_PATH_FAILURE_REPORT)) {
        /// Remote GTP-U Peers.
        remote_gtpu_peers: many Opaque = t::REMOTE_GTP_U_PEER,
    }
}

/// FQ-CSID fields of the session messages, in one place.
pub type FqCsidIe = FqCsid;

//! IEs of one integer, one masked octet, a flag bitmap, or bytes.

use crate::{
    error::Error,
    wire::{Ie, Reader, Writer},
};

macro_rules! uint_ie {
    ($( $(#[$m:meta])* $name:ident($t:ty, $n:literal, $get:ident, $put:ident); )*) => {$(
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $t);

        impl Ie for $name {
            fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
                // Longer values are accepted and their extra octets ignored (TS 29.244 8.1.1:
                // a later release may extend an IE).
                Ok($name(Reader::new(value, at).$get()?))
            }
            fn value_len(&self) -> usize {
                $n
            }
            fn encode_value(&self, w: &mut Writer<'_>) {
                w.$put(self.0);
            }
        }
    )*};
}

uint_ie! {
    /// PDR ID: Rule ID.
    PdrId(u16, 2, u16, u16);
    /// Offending IE: the type of the IE at fault.
    OffendingIe(u16, 2, u16, u16);
    /// Precedence: lower values first.
    Precedence(u32, 4, u32, u32);
    /// FAR ID.
    FarId(u32, 4, u32, u32);
    /// QER ID.
    QerId(u32, 4, u32, u32);
    /// URR ID.
    UrrId(u32, 4, u32, u32);
    /// Linked URR ID.
    LinkedUrrId(u32, 4, u32, u32);
    /// UR-SEQN.
    UrSeqn(u32, 4, u32, u32);
    /// Measurement Period, seconds.
    MeasurementPeriod(u32, 4, u32, u32);
    /// Time Threshold, seconds.
    TimeThreshold(u32, 4, u32, u32);
    /// Time Quota, seconds.
    TimeQuota(u32, 4, u32, u32);
    /// Quota Holding Time, seconds.
    QuotaHoldingTime(u32, 4, u32, u32);
    /// Inactivity Detection Time, seconds.
    InactivityDetectionTime(u32, 4, u32, u32);
    /// Monitoring Time, 3GPP NTP seconds.
    MonitoringTime(u32, 4, u32, u32);
    /// Subsequent Time Threshold, seconds.
    SubsequentTimeThreshold(u32, 4, u32, u32);
    /// Subsequent Time Quota, seconds.
    SubsequentTimeQuota(u32, 4, u32, u32);
    /// Start Time, 3GPP NTP seconds.
    StartTime(u32, 4, u32, u32);
    /// End Time, 3GPP NTP seconds.
    EndTime(u32, 4, u32, u32);
    /// Time of First Packet.
    TimeOfFirstPacket(u32, 4, u32, u32);
    /// Time of Last Packet.
    TimeOfLastPacket(u32, 4, u32, u32);
    /// Duration Measurement, seconds.
    DurationMeasurement(u32, 4, u32, u32);
    /// Recovery Time Stamp, 3GPP NTP seconds of the last start.
    RecoveryTimeStamp(u32, 4, u32, u32);
    /// QER Correlation ID.
    QerCorrelationId(u32, 4, u32, u32);
    /// Averaging Window, milliseconds.
    AveragingWindow(u32, 4, u32, u32);
    /// User Plane Inactivity Timer, seconds.
    UserPlaneInactivityTimer(u32, 4, u32, u32);
    /// Sequence Number of load/overload control.
    SequenceNumber(u32, 4, u32, u32);
    /// BAR ID.
    BarId(u8, 1, u8, u8);
    /// Metric, 0 to 100.
    Metric(u8, 1, u8, u8);
    /// Suggested Buffering Packets Count.
    SuggestedBufferingPacketsCount(u8, 1, u8, u8);
    /// Downlink Data Notification Delay, in multiples of 50 ms.
    DownlinkDataNotificationDelay(u8, 1, u8, u8);
}

macro_rules! masked_ie {
    ($( $(#[$m:meta])* $name:ident($mask:literal); )*) => {$(
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u8);

        impl Ie for $name {
            fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
                // Spare bits are ignored on receipt (TS 29.244 8.1.1).
                Ok($name(Reader::new(value, at).u8()? & $mask))
            }
            fn value_len(&self) -> usize {
                1
            }
            fn encode_value(&self, w: &mut Writer<'_>) {
                w.u8(self.0 & $mask);
            }
        }
    )*};
}

masked_ie! {
    /// Cause: see [`crate::Cause`].
    CauseIe(0xff);
    /// QFI: QoS Flow Identifier, 6 bits.
    Qfi(0x3f);
    /// Paging Policy Indicator, 3 bits.
    PagingPolicyIndicator(0x07);
    /// RQI: Reflective QoS, bit 1.
    Rqi(0x01);
    /// PDN Type: 1 IPv4, 2 IPv6, 3 IPv4v6, 4 Non-IP, 5 Ethernet.
    PdnType(0x07);
    /// Source Interface: 0 Access, 1 Core, 2 SGi-LAN/N6-LAN, 3 CP-function,
    /// 4 5G VN Internal.
    SourceInterface(0x0f);
    /// Destination Interface: 0 Access, 1 Core, 2 SGi-LAN/N6-LAN, 3 CP-function,
    /// 4 LI Function, 5 5G VN Internal.
    DestinationInterface(0x0f);
    /// 3GPP Interface Type, 6 bits.
    InterfaceType3gpp(0x3f);
    /// Timer: unit (3 bits) and value (5 bits).
    Timer(0xff);
    /// DL Buffering Duration: timer format.
    DlBufferingDuration(0xff);
    /// Graceful Release Period: timer format.
    GracefulReleasePeriod(0xff);
    /// Gate Status: UL gate in bits 4-3, DL gate in bits 2-1 (0 open, 1 closed).
    GateStatus(0x0f);
}

/// Interface values of Source and Destination Interface.
pub mod interface {
    /// Access (N3, uplink from the RAN).
    pub const ACCESS: u8 = 0;
    /// Core (N9, N6 towards the core).
    pub const CORE: u8 = 1;
    /// SGi-LAN / N6-LAN.
    pub const N6_LAN: u8 = 2;
    /// CP-function.
    pub const CP_FUNCTION: u8 = 3;
}

impl GateStatus {
    /// The UL gate is open.
    pub fn ul_open(self) -> bool {
        (self.0 >> 2) & 0x03 == 0
    }
    /// The DL gate is open.
    pub fn dl_open(self) -> bool {
        self.0 & 0x03 == 0
    }
    /// Gate Status from the two gates.
    pub fn new(ul_open: bool, dl_open: bool) -> Self {
        GateStatus((u8::from(!ul_open) << 2) | u8::from(!dl_open))
    }
}

impl CauseIe {
    /// The Cause, if known to the codec.
    pub fn cause(self) -> Option<crate::Cause> {
        crate::Cause::from_u8(self.0)
    }
}

impl From<crate::Cause> for CauseIe {
    fn from(c: crate::Cause) -> Self {
        CauseIe(c as u8)
    }
}

/// A bit of a flags IE: (octet index from 0 = octet 5, mask).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag(pub usize, pub u8);

/// Octets a flags IE keeps: more than any release defines for the longest of them (UP Function
/// Features). Octets beyond are not kept (future feature bits this codec cannot act on).
pub const MAX_FLAG_OCTETS: usize = 16;

macro_rules! flags_ie {
    ($( $(#[$m:meta])* $name:ident (min $min:literal) { $( $(#[$fm:meta])* $flag:ident = ($o:literal, $b:literal), )* } )*) => {$(
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name {
            octets: [u8; MAX_FLAG_OCTETS],
            len: u8,
        }

        impl $name {
            $( $(#[$fm])* pub const $flag: Flag = Flag($o, 1 << ($b - 1)); )*

            /// No flag set, the minimum number of octets.
            pub fn empty() -> Self {
                $name { octets: [0; MAX_FLAG_OCTETS], len: $min }
            }
            /// True when `f` is set.
            pub fn has(&self, f: Flag) -> bool {
                self.octets().get(f.0).is_some_and(|o| o & f.1 != 0)
            }
            /// Sets `f`, growing the octets if needed.
            pub fn with(mut self, f: Flag) -> Self {
                if f.0 < MAX_FLAG_OCTETS {
                    self.len = self.len.max(f.0 as u8 + 1);
                    self.octets[f.0] |= f.1;
                }
                self
            }
            /// The octets as on the wire.
            pub fn octets(&self) -> &[u8] {
                &self.octets[..usize::from(self.len)]
            }
            /// From octets as on the wire (at most [`MAX_FLAG_OCTETS`] are kept).
            pub fn from_octets(b: &[u8]) -> Self {
                let n = b.len().min(MAX_FLAG_OCTETS);
                let mut octets = [0; MAX_FLAG_OCTETS];
                octets[..n].copy_from_slice(&b[..n]);
                $name { octets, len: n as u8 }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::empty()
            }
        }

        impl Ie for $name {
            fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
                if value.len() < $min {
                    return Err(Error::short($min, value.len(), at));
                }
                Ok($name::from_octets(value))
            }
            fn value_len(&self) -> usize {
                usize::from(self.len)
            }
            fn encode_value(&self, w: &mut Writer<'_>) {
                w.put(self.octets());
            }
        }
    )*};
}

flags_ie! {
    /// Apply Action.
    ApplyAction (min 1) {
        /// Drop.
        DROP = (0, 1),
        /// Forward.
        FORW = (0, 2),
        /// Buffer.
        BUFF = (0, 3),
        /// Notify the CP function.
        NOCP = (0, 4),
        /// Duplicate.
        DUPL = (0, 5),
        /// IP multicast accept.
        IPMA = (0, 6),
        /// IP multicast deny.
        IPMD = (0, 7),
        /// Duplicate for redundant transmission.
        DFRT = (0, 8),
        /// Eliminate duplicate packets.
        EDRT = (1, 1),
        /// Buffered downlink packet notification.
        BDPN = (1, 2),
        /// Discarded downlink packet notification.
        DDPN = (1, 3),
        /// Forward to the SMF for MBS.
        FSSM = (1, 4),
        /// Forward and replicate MBS data using unicast.
        MBSU = (1, 5),
    }

    /// Reporting Triggers.
    ReportingTriggers (min 2) {
        /// Periodic Reporting.
        PERIO = (0, 1),
        /// Volume Threshold.
        VOLTH = (0, 2),
        /// Time Threshold.
        TIMTH = (0, 3),
        /// Quota Holding Time.
        QUHTI = (0, 4),
        /// Start of Traffic.
        START = (0, 5),
        /// Stop of Traffic.
        STOPT = (0, 6),
        /// Dropped DL Traffic Threshold.
        DROTH = (0, 7),
        /// Linked Usage Reporting.
        LIUSA = (0, 8),
        /// Volume Quota.
        VOLQU = (1, 1),
        /// Time Quota.
        TIMQU = (1, 2),
        /// Envelope Closure.
        ENVCL = (1, 3),
        /// MAC Addresses Reporting.
        MACAR = (1, 4),
        /// Event Threshold.
        EVETH = (1, 5),
        /// Event Quota.
        EVEQU = (1, 6),
        /// IP Multicast Join/Leave.
        IPMJL = (1, 7),
        /// Quota Validity Time.
        QUVTI = (1, 8),
        /// Report the End Marker Reception.
        REEMR = (2, 1),
        /// User Plane Inactivity Timer.
        UPINT = (2, 2),
    }

    /// Usage Report Trigger.
    UsageReportTrigger (min 2) {
        /// Periodic Reporting.
        PERIO = (0, 1),
        /// Volume Threshold.
        VOLTH = (0, 2),
        /// Time Threshold.
        TIMTH = (0, 3),
        /// Quota Holding Time.
        QUHTI = (0, 4),
        /// Start of Traffic.
        START = (0, 5),
        /// Stop of Traffic.
        STOPT = (0, 6),
        /// Dropped DL Traffic Threshold.
        DROTH = (0, 7),
        /// Immediate Report.
        IMMER = (0, 8),
        /// Volume Quota.
        VOLQU = (1, 1),
        /// Time Quota.
        TIMQU = (1, 2),
        /// Linked Usage Reporting.
        LIUSA = (1, 3),
        /// Termination Report.
        TERMR = (1, 4),
        /// Monitoring Time.
        MONIT = (1, 5),
        /// Envelope Closure.
        ENVCL = (1, 6),
        /// MAC Addresses Reporting.
        MACAR = (1, 7),
        /// Event Threshold.
        EVETH = (1, 8),
        /// Event Quota.
        EVEQU = (2, 1),
        /// Termination By UP function Report.
        TEBUR = (2, 2),
        /// IP Multicast Join/Leave.
        IPMJL = (2, 3),
        /// Quota Validity Time.
        QUVTI = (2, 4),
        /// End Marker Reception Report.
        EMRRE = (2, 5),
        /// User Plane Inactivity Timer.
        UPINT = (2, 6),
    }

    /// UP Function Features: what the UP function supports.
    UpFunctionFeatures (min 2) {
        /// Downlink Data Buffering in CP function.
        BUCP = (0, 1),
        /// Downlink Data Notification Delay.
        DDND = (0, 2),
        /// DL Buffering Duration.
        DLBD = (0, 3),
        /// Traffic Steering.
        TRST = (0, 4),
        /// F-TEID allocation / release in the UP function.
        FTUP = (0, 5),
        /// PFD Management procedure.
        PFDM = (0, 6),
        /// Header Enrichment of Uplink traffic.
        HEEU = (0, 7),
        /// Traffic Redirection Enforcement.
        TREU = (0, 8),
        /// Sending of End Marker packets.
        EMPU = (1, 1),
        /// Predefined PDRs.
        PDIU = (1, 2),
        /// Per-APN Downlink Buffering Counter... (UDBC).
        UDBC = (1, 3),
        /// Quota Action.
        QUOAC = (1, 4),
        /// Trace.
        TRACE = (1, 5),
        /// Framed Routing.
        FRRT = (1, 6),
        /// PFD Extensions.
        PFDE = (1, 7),
        /// Enhanced PFCP Association Release.
        EPFAR = (1, 8),
        /// Deferred PDR Activation or Deactivation.
        DPDRA = (2, 1),
        /// Activation and Deactivation of Pre-defined PDRs.
        ADPDP = (2, 2),
        /// UE IP address allocation in the UP function.
        UEIP = (2, 3),
        /// PFCP sessions successively controlled by different SMFs of an SMF Set.
        SSET = (2, 4),
        /// Number of Packets in usage reports.
        MNOP = (2, 5),
        /// Multiple instances of Traffic Endpoint IDs in a PDI.
        MTE = (2, 6),
        /// PFCP messages bundling.
        BUNDL = (2, 7),
        /// 5G VN Group Communication.
        GCOM = (2, 8),
    }

    /// CP Function Features.
    CpFunctionFeatures (min 1) {
        /// Load Control.
        LOAD = (0, 1),
        /// Overload Control.
        OVRL = (0, 2),
        /// Enhanced PFCP Association Release.
        EPFAR = (0, 3),
        /// SMF Set.
        SSET = (0, 4),
        /// PFCP messages bundling.
        BUNDL = (0, 5),
        /// MPAS.
        MPAS = (0, 6),
        /// Additional Usage Reports in Deletion Response.
        ARDR = (0, 7),
        /// UIAUR.
        UIAUR = (0, 8),
    }

    /// Measurement Method.
    MeasurementMethod (min 1) {
        /// Duration.
        DURAT = (0, 1),
        /// Volume.
        VOLUM = (0, 2),
        /// Event.
        EVENT = (0, 3),
    }

    /// Measurement Information.
    MeasurementInformation (min 1) {
        /// Measurement Before QoS Enforcement.
        MBQE = (0, 1),
        /// Inactive Measurement.
        INAM = (0, 2),
        /// Reduced Application Detection Information.
        RADI = (0, 3),
        /// Immediate Start Time Metering.
        ISTM = (0, 4),
        /// Measurement of Number of Packets.
        MNOP = (0, 5),
    }

    /// Report Type.
    ReportType (min 1) {
        /// Downlink Data Report.
        DLDR = (0, 1),
        /// Usage Report.
        USAR = (0, 2),
        /// Error Indication Report.
        ERIR = (0, 3),
        /// User Plane Inactivity Report.
        UPIR = (0, 4),
        /// TSC Management Information Report.
        TMIR = (0, 5),
        /// Session Report.
        SESR = (0, 6),
        /// UP Initiated Session Request.
        UISR = (0, 7),
    }

    /// PFCPSMReq-Flags.
    PfcpSmReqFlags (min 1) {
        /// Drop Buffered Packets.
        DROBU = (0, 1),
        /// Send End Marker Packets.
        SNDEM = (0, 2),
        /// Query all URRs.
        QAURR = (0, 3),
    }

    /// PFCPSRRsp-Flags.
    PfcpSrRspFlags (min 1) {
        /// Drop Buffered Packets.
        DROBU = (0, 1),
    }

    /// Node Report Type.
    NodeReportType (min 1) {
        /// User Plane Path Failure Report.
        UPFR = (0, 1),
        /// User Plane Path Recovery Report.
        UPRR = (0, 2),
        /// Clock Drift Report.
        CKDR = (0, 3),
        /// GTP-U Path QoS Report.
        GPQR = (0, 4),
    }

    /// OCI Flags.
    OciFlags (min 1) {
        /// Associate OCI with Node ID.
        AOCI = (0, 1),
    }

    /// PFCP Association Release Request.
    AssociationReleaseRequestFlags (min 1) {
        /// PFCP Association Release Request.
        SARR = (0, 1),
        /// Non-Zero Usage Reports for the Session.
        URSS = (0, 2),
    }
}

/// Bytes IEs: Network Instance, Application ID
///, APN/DNN.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

impl Ie for Bytes {
    fn decode(value: &[u8], _at: usize) -> Result<Self, Error> {
        Ok(Bytes(value.to_vec()))
    }
    fn value_len(&self) -> usize {
        self.0.len()
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        w.put(&self.0);
    }
}

/// Network Instance.
pub type NetworkInstance = Bytes;
/// Application ID.
pub type ApplicationId = Bytes;

/// Forwarding Policy: an identifier of 1 to 255 octets, length-prefixed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ForwardingPolicy(pub Vec<u8>);

impl Ie for ForwardingPolicy {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let n = r.u8()?;
        if n == 0 {
            return Err(Error::invalid(
                "Forwarding Policy Identifier of length 0",
                at,
            ));
        }
        Ok(ForwardingPolicy(r.bytes(usize::from(n))?.to_vec()))
    }
    fn value_len(&self) -> usize {
        1 + self.0.len()
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        w.u8(self.0.len() as u8);
        w.put(&self.0);
    }
}

/// Transport Level Marking: ToS/Traffic Class value and mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TransportLevelMarking {
    /// ToS / Traffic Class.
    pub tos: u8,
    /// Its mask.
    pub mask: u8,
}

impl Ie for TransportLevelMarking {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let [tos, mask] = Reader::new(value, at).array()?;
        Ok(TransportLevelMarking { tos, mask })
    }
    fn value_len(&self) -> usize {
        2
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        w.put(&[self.tos, self.mask]);
    }
}

/// MBR and GBR: uplink and downlink bit rates in kbps, 40 bits each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BitRate {
    /// Uplink, kbps.
    pub ul_kbps: u64,
    /// Downlink, kbps.
    pub dl_kbps: u64,
}

impl Ie for BitRate {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        Ok(BitRate {
            ul_kbps: r.u40()?,
            dl_kbps: r.u40()?,
        })
    }
    fn value_len(&self) -> usize {
        10
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        w.u40(self.ul_kbps.min(0xff_ffff_ffff));
        w.u40(self.dl_kbps.min(0xff_ffff_ffff));
    }
}

/// DL Buffering Suggested Packet Count: 1 or 2 octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DlBufferingSuggestedPacketCount(pub u16);

impl Ie for DlBufferingSuggestedPacketCount {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        match value.len() {
            0 => Err(Error::short(1, 0, at)),
            1 => Ok(Self(u16::from(value[0]))),
            _ => Ok(Self(u16::from_be_bytes([value[0], value[1]]))),
        }
    }
    fn value_len(&self) -> usize {
        if self.0 > 0xff { 2 } else { 1 }
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        if self.0 > 0xff {
            w.u16(self.0);
        } else {
            w.u8(self.0 as u8);
        }
    }
}

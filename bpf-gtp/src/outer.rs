//! The outer IP header of a GTP-U packet (TS 29.281 over UDP over IPv4 or IPv6): what `n3` parses
//! and what the Echo Response, the Error Indication and the ICMP errors are sent back over.

/// The outer IP header of a GTP-U packet, as far as the stages need it.
#[derive(Clone, Copy)]
pub enum OuterIp {
    /// IPv4, with its Type of Service byte.
    V4 { src: [u8; 4], dst: [u8; 4], tos: u8 },
    /// IPv6, with its Traffic Class and Flow Label.
    V6 {
        src: [u8; 16],
        dst: [u8; 16],
        traffic_class: u8,
        flow_label: u32,
    },
}

//! Why a packet got the verdict it got: the index of the per-CPU counters, and the one source of
//! the names that statistics and metrics show.
//!
//! Each reason implies one verdict ([`Reason::verdict`]), so a stage that fails with a reason
//! needs no second decision about what to do with the packet. Parse errors found by `bpf-net`
//! are reasons too: a program that wants another verdict for one of them maps it explicitly.
//! Indices are part of the ABI: append new reasons, never reorder, and bump
//! [`crate::ABI_VERSION`] when the set changes (the pinned `COUNTERS` has one slot a reason).

/// What the program does with the packet.
#[repr(u32)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// Hand the packet to the kernel stack unchanged.
    Pass = 0,
    /// Discard the packet.
    Drop = 1,
    /// Send the (rewritten) packet back out of the interface it came in on.
    Tx = 2,
    /// Send the (rewritten) packet out of another interface (the stage called the redirect
    /// helper).
    Redirect = 3,
}

impl Verdict {
    /// Lower-case name used in statistics and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Drop => "drop",
            Verdict::Tx => "tx",
            Verdict::Redirect => "redirect",
        }
    }
}

macro_rules! reasons {
    ($( $(#[$doc:meta])* $variant:ident = $idx:literal, $name:literal, $verdict:ident; )*) => {
        /// An outcome of a packet in an eBPF program (see the module documentation).
        #[repr(u32)]
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub enum Reason {
            $( $(#[$doc])* $variant = $idx, )*
        }

        impl Reason {
            /// Every reason, in index order.
            pub const ALL: &'static [Reason] = &[ $( Reason::$variant, )* ];
            /// Number of reasons: the size of the counters map.
            pub const COUNT: u32 = Self::ALL.len() as u32;

            /// Stable snake_case name, used for statistics and metric labels.
            pub const fn name(self) -> &'static str {
                match self { $( Reason::$variant => $name, )* }
            }

            /// The verdict a packet with this outcome gets.
            #[inline(always)]
            pub const fn verdict(self) -> Verdict {
                match self { $( Reason::$variant => Verdict::$verdict, )* }
            }

            /// The reason with index `idx`, if there is one.
            pub const fn from_index(idx: u32) -> Option<Reason> {
                match idx { $( $idx => Some(Reason::$variant), )* _ => None }
            }
        }
    };
}

reasons! {
    // --- Passed to the kernel ---------------------------------------------------------------
    /// EtherType is neither IPv4 nor IPv6 (ARP, LLDP, ...).
    NotIp = 0, "not_ip", Pass;
    /// IP, but not UDP (ICMP to the N3 address, routing protocols, ...).
    NotUdp = 1, "not_udp", Pass;
    /// UDP, but not to the GTP-U port 2152 (TS 29.281 4.4.2).
    NotGtpuPort = 2, "not_gtpu_port", Pass;
    /// An IPv4 or IPv6 fragment: the kernel reassembles it.
    IpFragment = 3, "ip_fragment", Pass;
    /// A well-formed GTP-U message this program does not handle yet (G-PDU, Error Indication,
    /// End Marker, Echo Response, ...).
    GtpuOther = 4, "gtpu_other", Pass;

    // --- Answered -----------------------------------------------------------------------------
    /// A GTP-U Echo Request answered in place with an Echo Response (TS 29.281 7.2).
    GtpuEchoResponse = 5, "gtpu_echo_response", Tx;

    // --- Malformed L2/L3/L4 -------------------------------------------------------------------
    /// Shorter than an Ethernet header.
    EthTruncated = 6, "eth_truncated", Drop;
    /// An 802.1Q/802.1ad tag cut short.
    VlanTruncated = 7, "vlan_truncated", Drop;
    /// More VLAN tags than the two of QinQ.
    VlanTooDeep = 8, "vlan_too_deep", Drop;
    /// Shorter than the IPv4 header its IHL announces.
    Ipv4Truncated = 9, "ipv4_truncated", Drop;
    /// EtherType IPv4 but the version field is not 4.
    Ipv4BadVersion = 10, "ipv4_bad_version", Drop;
    /// IHL below 5.
    Ipv4BadIhl = 11, "ipv4_bad_ihl", Drop;
    /// Total Length below the header length or beyond the frame.
    Ipv4BadTotalLength = 12, "ipv4_bad_total_length", Drop;
    /// Header checksum does not verify.
    Ipv4BadChecksum = 13, "ipv4_bad_checksum", Drop;
    /// Shorter than the fixed IPv6 header.
    Ipv6Truncated = 14, "ipv6_truncated", Drop;
    /// EtherType IPv6 but the version field is not 6.
    Ipv6BadVersion = 15, "ipv6_bad_version", Drop;
    /// Payload Length beyond the frame.
    Ipv6BadPayloadLength = 16, "ipv6_bad_payload_length", Drop;
    /// An IPv6 extension header cut short.
    Ipv6ExtTruncated = 17, "ipv6_ext_truncated", Drop;
    /// More IPv6 extension headers than the walk's bound.
    Ipv6ExtTooMany = 18, "ipv6_ext_too_many", Drop;
    /// Shorter than a UDP header.
    UdpTruncated = 19, "udp_truncated", Drop;
    /// UDP Length below 8 or beyond the IP payload.
    UdpBadLength = 20, "udp_bad_length", Drop;
    /// Shorter than a TCP header, or than its Data Offset.
    TcpTruncated = 21, "tcp_truncated", Drop;
    /// TCP Data Offset below 5.
    TcpBadDataOffset = 22, "tcp_bad_data_offset", Drop;
    /// Shorter than an ICMP/ICMPv6 header.
    IcmpTruncated = 23, "icmp_truncated", Drop;

    // --- Malformed GTP-U (TS 29.281 5) ---------------------------------------------------------
    /// Shorter than the GTP-U header and the optional fields its flags announce.
    GtpuTruncated = 24, "gtpu_truncated", Drop;
    /// Version is not 1.
    GtpuBadVersion = 25, "gtpu_bad_version", Drop;
    /// Protocol Type 0 (GTP') on the GTP-U port.
    GtpuNotGtp = 26, "gtpu_not_gtp", Drop;
    /// Length field beyond the UDP payload, or too short for the optional fields.
    GtpuBadLength = 27, "gtpu_bad_length", Drop;
    /// An extension header runs past the GTP-U message.
    GtpuExtTruncated = 28, "gtpu_ext_truncated", Drop;
    /// An extension header with Length 0.
    GtpuExtBadLength = 29, "gtpu_ext_bad_length", Drop;
    /// More extension headers than the walk's bound.
    GtpuExtTooMany = 30, "gtpu_ext_too_many", Drop;
    /// An unknown extension header whose type says comprehension is required (TS 29.281 5.2.1).
    GtpuExtUnknownRequired = 31, "gtpu_ext_unknown_required", Drop;
    /// A PDU Session Container whose PDU Type is neither DL (0) nor UL (1) (TS 38.415 5.5.3.1).
    GtpuPscBadPduType = 32, "gtpu_psc_bad_pdu_type", Drop;
    /// A PDU Session Container too short for the fields its flags announce.
    GtpuPscTruncated = 33, "gtpu_psc_truncated", Drop;
    /// An Echo Request without a sequence number (S = 0; TS 29.281 5.1 requires S = 1).
    GtpuEchoNoSequence = 34, "gtpu_echo_no_sequence", Drop;
    /// An Echo Request with a TEID other than 0 (TS 29.281 5.1).
    GtpuEchoBadTeid = 35, "gtpu_echo_bad_teid", Drop;

    // --- Other protocols parsed by bpf-net ----------------------------------------------------
    /// Shorter than the fixed part of a Segment Routing Header, or than its Hdr Ext Len.
    SrhTruncated = 36, "srh_truncated", Drop;
    /// Last Entry beyond the segments the Hdr Ext Len holds (RFC 8754 2, RFC 8986 4.1).
    SrhBadLastEntry = 37, "srh_bad_last_entry", Drop;
    /// A routing header that is not of type 4 where an SRH was expected.
    SrhNotSegmentRouting = 38, "srh_not_segment_routing", Drop;
    /// Shorter than the SCTP common header.
    SctpTruncated = 39, "sctp_truncated", Drop;
    /// An SCTP chunk runs past the packet.
    SctpChunkTruncated = 40, "sctp_chunk_truncated", Drop;
    /// An SCTP chunk Length below 4 (RFC 9260 3.2).
    SctpChunkBadLength = 41, "sctp_chunk_bad_length", Drop;
    /// More SCTP chunks than the walk's bound.
    SctpTooManyChunks = 42, "sctp_too_many_chunks", Drop;

    // --- Internal -----------------------------------------------------------------------------
    /// A helper that resizes the packet failed (no tailroom, ...).
    AdjustFailed = 43, "adjust_failed", Drop;

    // --- User plane (TS 29.244 5.2) -----------------------------------------------------------
    /// A G-PDU for a TEID with no session, dropped without an Error Indication (rate limit).
    GtpuUnknownTeid = 44, "gtpu_unknown_teid", Drop;
    /// No PDR of the session matched the packet.
    PdrNoMatch = 45, "pdr_no_match", Drop;
    /// The FAR says DROP.
    FarDrop = 46, "far_drop", Drop;
    /// The FAR says BUFF or NOCP: downlink packets are handed to the controller over the
    /// event ring buffer (uplink ones are dropped).
    FarBuffer = 47, "far_buffer", Drop;
    /// The FAR says DUPL, which is not supported yet.
    FarDuplicateNotSupported = 48, "far_duplicate_not_supported", Drop;
    /// The QER gate of the packet's direction is closed.
    QerGateClosed = 49, "qer_gate_closed", Drop;
    /// The QER's MBR token bucket of the packet's direction is empty.
    QerMbrExceeded = 50, "qer_mbr_exceeded", Drop;
    /// Uplink: decapsulated and redirected out of the interface the FIB chose.
    UplinkRedirect = 51, "uplink_redirect", Redirect;
    /// Uplink: decapsulated and handed to the kernel (FIB: neighbour not resolved, or no route
    /// seen from XDP).
    UplinkToKernel = 52, "uplink_to_kernel", Pass;
    /// Downlink: encapsulated and redirected out of the interface the FIB chose.
    DownlinkRedirect = 53, "downlink_redirect", Redirect;
    /// Downlink: encapsulated and handed to the kernel.
    DownlinkToKernel = 54, "downlink_to_kernel", Pass;
    /// The FIB says blackhole, unreachable or prohibit.
    FibBlackhole = 55, "fib_blackhole", Drop;
    /// N6: the destination is not a UE with a session (traffic for the UPF itself, or stray).
    DlNoSession = 56, "dl_no_session", Pass;
    /// A G-PDU whose T-PDU is neither IPv4 nor IPv6 (Ethernet and Unstructured PDU sessions are
    /// not supported).
    InnerNotIp = 57, "inner_not_ip", Drop;
    /// A FAR the datapath cannot apply (FORW without the outer header the direction needs).
    FarInvalid = 58, "far_invalid", Drop;
    /// A map entry the controller must have written is missing (a FAR, QER or PDR slot).
    RuleMissing = 59, "rule_missing", Drop;
    /// A tail call to the next stage failed (program array not filled by the loader).
    TailCallFailed = 60, "tail_call_failed", Drop;
    /// After encapsulation the packet would exceed the egress MTU (the outer header has DF).
    MtuExceeded = 61, "mtu_exceeded", Drop;
    /// A G-PDU for an unknown TEID answered with an Error Indication (TS 29.281 7.3.1); when
    /// the rate limit is reached the G-PDU is only dropped ([`Reason::GtpuUnknownTeid`]).
    GtpuErrorIndication = 62, "gtpu_error_indication", Tx;
    /// A BUFF/NOCP packet not handed over: the session's rate limit, or the ring buffer full.
    FarBufferLimited = 63, "far_buffer_limited", Drop;
    /// A downlink packet too big for the egress MTU once encapsulated, answered with ICMP
    /// Fragmentation Needed to its source (RFC 1191).
    IcmpFragNeeded = 64, "icmp_frag_needed", Tx;
    /// A downlink IPv6 packet too big for the egress MTU once encapsulated, answered with ICMPv6
    /// Packet Too Big to its source (RFC 4443 3.2).
    IcmpPacketTooBig = 65, "icmpv6_pkt_toobig", Tx;
    /// A downlink packet too big for the tunnel, dropped without an ICMP/ICMPv6 error: this
    /// CPU sent its second's worth already (RFC 4443 2.4 (f)).
    IcmpRateLimited = 66, "icmp_rate_limited", Drop;

    // --- SRv6 (RFC 8754, RFC 8986) ---------------------------------------------------------
    /// IPv6 to an address that is no local SID: the kernel's.
    Srv6NoSid = 67, "srv6_no_sid", Pass;
    /// End: on to the next segment, redirected out of the interface the FIB chose.
    Srv6EndRedirect = 68, "srv6_end_redirect", Redirect;
    /// End.DX4: decapsulated and redirected to the next hop of the SID.
    Srv6Dx4Redirect = 69, "srv6_dx4_redirect", Redirect;
    /// Processed, then handed to the kernel (FIB: neighbour not resolved, TTL about to expire,
    /// too big for the egress).
    Srv6ToKernel = 70, "srv6_to_kernel", Pass;
    /// Segments Left beyond Last Entry + 1, or not 0 where the SID decapsulates (RFC 8986
    /// 4.1 S07, 4.6 S02: ICMPv6 Parameter Problem, Code 0).
    Srv6BadSegmentsLeft = 71, "srv6_bad_segments_left", Drop;
    /// An upper-layer header the SID does not process: End with Segments Left 0 or no SRH,
    /// a decapsulating SID whose inner packet is of the wrong family (RFC 8986 4.1.1:
    /// ICMPv6 Parameter Problem, Code 4).
    Srv6UpperLayerError = 72, "srv6_upper_layer_error", Drop;
    /// Hop Limit 1 or 0 at End (RFC 8986 4.1 S04: ICMPv6 Time Exceeded).
    Srv6HopLimitExceeded = 73, "srv6_hop_limit_exceeded", Drop;
    /// End.X: on to the next segment, redirected to the SID's IPv6 next hop.
    Srv6EndXRedirect = 74, "srv6_end_x_redirect", Redirect;
    /// End.DX6: decapsulated and redirected to the SID's next hop.
    Srv6Dx6Redirect = 75, "srv6_dx6_redirect", Redirect;
    /// End.DT6 (or End.DT46 with an IPv6 packet): decapsulated and redirected where the table
    /// routes the inner packet.
    Srv6Dt6Redirect = 76, "srv6_dt6_redirect", Redirect;

    // --- Benchmarks ---------------------------------------------------------------------------
    /// A frame that reached the sink of the benchmark through veth (`xdp_sink`), dropped there.
    BenchSink = 77, "bench_sink", Drop;
    /// Headend: no policy covers the destination; the kernel's.
    Srv6NoPolicy = 78, "srv6_no_policy", Pass;
    /// Headend: encapsulated (H.Encaps / H.Encaps.Red) and redirected towards the first segment.
    Srv6EncapRedirect = 79, "srv6_encap_redirect", Redirect;
    /// Answered with ICMPv6 Time Exceeded (Hop Limit 1 or 0 at End, RFC 8986 4.1 S04).
    Srv6IcmpTimeExceeded = 80, "icmpv6_time_exceeded", Tx;
    /// Answered with ICMPv6 Parameter Problem, Code 0, Pointer at Segments Left (RFC 8986
    /// 4.1 S07-S08, 4.4-4.7 S02-S03).
    Srv6IcmpParamProblemSl = 81, "icmpv6_param_problem_segments_left", Tx;
    /// Answered with ICMPv6 Parameter Problem, Code 4 (SR Upper-layer Header Error), Pointer
    /// at the upper-layer header (RFC 8986 4.1.1).
    Srv6IcmpParamProblemUpperLayer = 82, "icmpv6_param_problem_upper_layer", Tx;
    /// End.DT4 (or End.DT46 with an IPv4 packet): decapsulated and redirected where the table
    /// routes the inner packet.
    Srv6Dt4Redirect = 83, "srv6_dt4_redirect", Redirect;
    /// End.M.GTP4.E: rebuilt as GTP-U/UDP/IPv4 and redirected (RFC 9433 6.6).
    Srv6MGtp4ERedirect = 84, "srv6_m_gtp4_e_redirect", Redirect;
    /// H.M.GTP4.D: a G-PDU turned into SRv6 and redirected (RFC 9433 6.7).
    Srv6HMGtp4DRedirect = 85, "srv6_h_m_gtp4_d_redirect", Redirect;
    /// H.M.GTP4.D: covered by the policy but not a GTP-U G-PDU (signalling, other UDP): the
    /// kernel's.
    Srv6Gtp4DNotGpdu = 86, "srv6_gtp4_d_not_gpdu", Pass;
    /// SRH TLVs that do not fill the TLV area exactly (a length beyond it), RFC 8754 2.1.
    SrhBadTlv = 87, "srh_bad_tlv", Drop;
    /// More SRH TLVs than the program walks (`bpf_net::srh::MAX_TLVS`).
    SrhTooManyTlvs = 88, "srh_too_many_tlvs", Drop;
    /// An SRH with an HMAC TLV (RFC 8754 2.1.2): not verifiable in XDP (no HMAC-SHA256, no
    /// keys), so not forwarded.
    Srv6HmacNotVerified = 89, "srv6_hmac_not_verified", Drop;
    /// L4 LB: not a TCP or UDP packet to a service: the kernel's.
    LbNoService = 90, "lb_no_service", Pass;
    /// L4 LB: a service without backends.
    LbNoBackend = 91, "lb_no_backend", Drop;
    /// L4 LB: translated (to the backend, or back from it) and redirected.
    LbRedirect = 92, "lb_redirect", Redirect;
    /// L4 LB: translated; the kernel forwards it (neighbour not resolved, TTL expiring, too
    /// big).
    LbToKernel = 93, "lb_to_kernel", Pass;
    /// L4 LB: an SCTP packet to a VIP that is neither an INIT nor part of a tracked
    /// association (its verification tag is unknown): dropped.
    LbSctpNoAssociation = 94, "lb_sctp_no_association", Drop;
    /// L4 LB: an INIT or INIT ACK that breaks RFC 9260 (bundled with other chunks, an INIT
    /// with a non-zero verification tag, a chunk shorter than its fixed part, more address
    /// parameters than walked).
    LbSctpBadHandshake = 95, "lb_sctp_bad_handshake", Drop;
    /// L4 LB: an INIT ACK too long for the CRC32c loop (`bpf_abi::lb::MAX_SCTP_REWRITE`).
    LbSctpTooLong = 96, "lb_sctp_too_long", Drop;
    /// L4 LB: a packet of a tracked association to or from an address that is none of its
    /// paths.
    LbSctpUnknownPath = 97, "lb_sctp_unknown_path", Drop;
    /// L4 LB: a packet NAT64 does not translate (IPv6 extension headers, IPv4 options, VLAN
    /// tags, fragments, a UDP checksum of zero from IPv4: RFC 7915 4.5 lets a translator drop
    /// it), or no free source port for a new connection.
    LbXlatUnsupported = 98, "lb_xlat_unsupported", Drop;
    /// L4 LB: a NAT64 packet translated (IPv6 to IPv4 or back) and redirected.
    LbXlatRedirect = 99, "lb_xlat_redirect", Redirect;
    /// L4 LB: an ICMP or ICMPv6 Echo Request to a VIP, answered in place.
    LbEchoReply = 100, "lb_echo_reply", Tx;
    /// L4 LB (DSR): the FIB has no usable next hop for the backend (no route, or its
    /// neighbour not resolved yet: health checks resolve it); the packet cannot go to the
    /// kernel, its destination is the VIP.
    LbDsrNoRoute = 101, "lb_dsr_no_route", Drop;
    /// L4 LB: a packet that would exceed the egress MTU once encapsulated (DSR tunnel) and
    /// whose sender is not told: IPv4 with DF clear (it could not be fragmented inside the
    /// tunnel either); the others get ICMP Fragmentation Needed or Packet Too Big
    /// (`icmp_frag_needed`, `icmp_packet_too_big`, from `xdp_lb_too_big`).
    LbTooBig = 102, "lb_too_big", Drop;
    /// L4 LB: a DSR packet sent to its backend (unchanged, or in a tunnel).
    LbDsrRedirect = 103, "lb_dsr_redirect", Redirect;
    /// L4 LB: an ICMP or ICMPv6 error about a tracked connection, translated and redirected.
    LbIcmpRedirect = 104, "lb_icmp_redirect", Redirect;
    /// L4 LB (full NAT): no free source port for a new connection.
    LbNoPort = 105, "lb_no_port", Drop;
    /// L4 LB, a backend's side of DSR through a tunnel: an IPIP or IP6IP6 packet to one of
    /// its VIPs, decapsulated and passed to the kernel.
    LbDecap = 106, "lb_decap", Pass;
    /// L4 LB: an ASCONF (RFC 5061) from a backend: it would tell the client the backend's
    /// own addresses, and it is authenticated (AUTH), so not rewritable; dropped (the
    /// backend's addresses are the configured ones; a client's ASCONF passes).
    LbSctpBackendAsconf = 107, "lb_sctp_backend_asconf", Drop;
    /// SRv6: End, End.X or End.T with the USD flavour (RFC 8986 4.16.3) at the last segment:
    /// decapsulated, the inner packet routed.
    Srv6UsdRedirect = 108, "srv6_usd_redirect", Redirect;
    /// SRv6: End, End.X or End.T with the USP flavour (RFC 8986 4.16.2) at the last segment:
    /// the SRH popped, the packet to the kernel (its upper layer is this node's).
    Srv6UspPass = 109, "srv6_usp_pass", Pass;
    /// SRv6: End.MAP (RFC 9433 6.2): the destination replaced by the mapped SID, routed.
    Srv6EndMapRedirect = 110, "srv6_end_map_redirect", Redirect;
    /// SRv6: End.M.GTP6.E (RFC 9433 6.5): rebuilt as GTP-U over IPv6 to the last segment and
    /// redirected.
    Srv6MGtp6ERedirect = 111, "srv6_m_gtp6_e_redirect", Redirect;
    /// SRv6: End.M.GTP6.D (RFC 9433 6.3): a GTP-U/IPv6 G-PDU to the SID became its T-PDU in
    /// SRv6 by the SID's policy, redirected.
    Srv6MGtp6DRedirect = 112, "srv6_m_gtp6_d_redirect", Redirect;
    /// SRv6: UDP to 2152 at an End.M.GTP6.D SID that is not a G-PDU (Echo, Error Indication,
    /// End Marker): the kernel's.
    Srv6Gtp6DNotGpdu = 113, "srv6_gtp6_d_not_gpdu", Pass;
    /// SRv6: End.Limit (RFC 9433 6.8): the packet's rate-limit group is over its rate.
    Srv6LimitExceeded = 114, "srv6_limit_exceeded", Drop;
    /// SRv6 headend: H.Insert / H.Insert.Red: an SRH inserted into the IPv6 packet,
    /// redirected.
    Srv6InsertRedirect = 115, "srv6_insert_redirect", Redirect;
    /// LB: an answer to one of the daemon's own health probes (addressed to a probe source of
    /// `LB_PROBE_SRC`): the kernel's, untouched, so that the probe sees it.
    LbHealthProbe = 116, "lb_health_probe", Pass;
    /// LB: an SCTP packet from a backend's address and service port that belongs to no
    /// tracked association (and answers no health probe): it cannot be translated, and
    /// passed on it would show the client the backend's own address; dropped.
    LbSctpUntranslatable = 117, "lb_sctp_untranslatable", Drop;
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn indices_are_dense_and_in_order() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(*r as u32, i as u32, "{r:?} out of place");
            assert_eq!(Reason::from_index(i as u32), Some(*r));
        }
        assert_eq!(Reason::from_index(Reason::COUNT), None);
    }

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = HashSet::new();
        for r in Reason::ALL {
            let n = r.name();
            assert!(seen.insert(n), "duplicate name {n}");
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
        }
    }

    #[test]
    fn malformed_input_is_never_passed_or_answered() {
        for r in Reason::ALL {
            let n = r.name();
            if n.contains("truncated")
                || n.contains("bad")
                || n.contains("too_")
                || n.contains("invalid")
            {
                assert_eq!(r.verdict(), Verdict::Drop, "{n}");
            }
        }
    }
}

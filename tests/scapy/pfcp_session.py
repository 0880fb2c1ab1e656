"""Builds a capture of an SMF driving a UP function, with scapy's own PFCP and GTP-U layers
(encoders upf-lb did not write): Heartbeat, Association Setup, a Session Establishment (one
uplink PDR on an F-TEID, one downlink PDR on the UE address, a QER with QFI 9, a volume URR),
then user-plane packets, a Query URR and the Session Deletion.

    pfcp_session.py OUT.pcap [--upf A] [--smf A] [--gnb A] [--ue A] [--dn A]
                    [--teid N | --choose] [--traffic] [--pcapng] [--no-qfi]

--choose asks the UP function for the F-TEID (CHOOSE, CHOOSE ID 1); a fresh upf-lb gives the
first TEID of its range, 0x80000000, which the uplink G-PDUs then use. --traffic adds an Echo
Request, an uplink G-PDU with a PDU Session Container, one for an unknown TEID, a downlink
datagram to the UE and a packet for someone else. UP SEID 1 is the first session's.
"""
import argparse

from scapy.all import Ether, IP, UDP, Raw, wrpcap, wrpcapng
from scapy.contrib.gtp import GTP_U_Header, GTPEchoRequest, GTPPDUSessionContainer
from scapy.contrib import pfcp as p

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--upf", default="192.0.2.2")
ap.add_argument("--smf", default="192.0.2.1")
ap.add_argument("--gnb", default="192.0.2.1")
ap.add_argument("--ue", default="198.18.0.77")
ap.add_argument("--dn", default="203.0.113.10")
ap.add_argument("--teid", type=lambda s: int(s, 0), default=None)
ap.add_argument("--choose", action="store_true")
ap.add_argument("--traffic", action="store_true")
ap.add_argument("--pcapng", action="store_true")
ap.add_argument("--no-qfi", action="store_true", help="no QFI in the uplink PDI (G-PDUs without a PDU Session Container)")
a = ap.parse_args()

SMF_MAC, UPF_MAC, DN_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:0a"
CP_SEID = 0x1001
UL_TEID = 0x80000000 if a.choose else (a.teid or 0x100)
DL_TEID = 0xABCD
frames = []


def n4(msg, seid=None, seq=1):
    hdr = p.PFCP(version=1, S=0 if seid is None else 1, seid=seid or 0, seq=seq)
    frames.append(Ether(src=SMF_MAC, dst=UPF_MAC) / IP(src=a.smf, dst=a.upf) /
                  UDP(sport=8805, dport=8805) / hdr / msg)


def ie_list(*ies):
    return list(ies)


node = p.IE_NodeId(id_type=0, ipv4=a.smf)
n4(p.PFCPHeartbeatRequest(IE_list=[p.IE_RecoveryTimeStamp(timestamp=3900000000)]), seq=1)
n4(p.PFCPAssociationSetupRequest(IE_list=[node, p.IE_RecoveryTimeStamp(timestamp=3900000000)]), seq=2)

if a.choose:
    fteid = p.IE_FTEID(CH=1, CHID=1, V4=1, choose_id=1)
else:
    fteid = p.IE_FTEID(V4=1, TEID=UL_TEID, ipv4=a.upf)
ul_pdr = p.IE_CreatePDR(IE_list=[
    p.IE_PDR_Id(id=1),
    p.IE_Precedence(precedence=100),
    p.IE_PDI(IE_list=[
        p.IE_SourceInterface(interface=0),
        fteid,
        p.IE_NetworkInstance(instance="internet"),
        p.IE_UE_IP_Address(V4=1, ipv4=a.ue),
    ] + ([] if a.no_qfi else [p.IE_QFI(QFI=9)])),
    p.IE_OuterHeaderRemoval(header=0),
    p.IE_FAR_Id(id=1),
    p.IE_URR_Id(id=1),
    p.IE_QER_Id(id=1),
])
dl_pdr = p.IE_CreatePDR(IE_list=[
    p.IE_PDR_Id(id=2),
    p.IE_Precedence(precedence=100),
    p.IE_PDI(IE_list=[
        p.IE_SourceInterface(interface=1),
        p.IE_NetworkInstance(instance="internet"),
        p.IE_UE_IP_Address(V4=1, SD=1, ipv4=a.ue),
    ]),
    p.IE_FAR_Id(id=2),
    p.IE_URR_Id(id=1),
    p.IE_QER_Id(id=1),
])
ul_far = p.IE_CreateFAR(IE_list=[
    p.IE_FAR_Id(id=1),
    p.IE_ApplyAction(FORW=1),
    p.IE_ForwardingParameters(IE_list=[p.IE_DestinationInterface(interface=1)]),
])
dl_far = p.IE_CreateFAR(IE_list=[
    p.IE_FAR_Id(id=2),
    p.IE_ApplyAction(FORW=1),
    p.IE_ForwardingParameters(IE_list=[
        p.IE_DestinationInterface(interface=0),
        p.IE_OuterHeaderCreation(GTPUUDPIPV4=1, TEID=DL_TEID, ipv4=a.gnb),
    ]),
])
qer = p.IE_CreateQER(IE_list=[p.IE_QER_Id(id=1), p.IE_GateStatus(ul=0, dl=0), p.IE_QFI(QFI=9)])
urr = p.IE_CreateURR(IE_list=[
    p.IE_URR_Id(id=1),
    p.IE_MeasurementMethod(VOLUM=1),
    p.IE_ReportingTriggers(),
])
n4(p.PFCPSessionEstablishmentRequest(IE_list=[
    node,
    p.IE_FSEID(v4=1, seid=CP_SEID, ipv4=a.smf),
    ul_pdr, dl_pdr, ul_far, dl_far, urr, qer,
]), seid=0, seq=3)

if a.traffic:
    gtp = lambda teid, payload, **kw: (
        Ether(src=SMF_MAC, dst=UPF_MAC) / IP(src=a.gnb, dst=a.upf) / UDP(sport=2152, dport=2152) /
        GTP_U_Header(teid=teid, gtp_type=255, **kw) / payload)
    frames.append(Ether(src=SMF_MAC, dst=UPF_MAC) / IP(src=a.gnb, dst=a.upf) /
                  UDP(sport=2152, dport=2152) / GTP_U_Header(teid=0, gtp_type=1, S=1, seq=7) /
                  GTPEchoRequest())
    inner = IP(src=a.ue, dst=a.dn) / UDP(sport=5000, dport=7000) / Raw(b"hello from the UE")
    frames.append(gtp(UL_TEID, GTPPDUSessionContainer(type=1, QFI=9) / inner, E=1, next_ex=0x85))
    frames.append(gtp(0x1234, inner))
    frames.append(Ether(src=DN_MAC, dst=UPF_MAC) / IP(src=a.dn, dst=a.ue) /
                  UDP(sport=7000, dport=5000) / Raw(b"hello from the DN"))
    frames.append(Ether(src=SMF_MAC, dst=UPF_MAC) / IP(src=a.gnb, dst="192.0.2.50") /
                  UDP(sport=1, dport=2) / Raw(b"not for the UPF"))
    n4(p.PFCPSessionModificationRequest(IE_list=[p.IE_QueryURR(IE_list=[p.IE_URR_Id(id=1)])]),
       seid=1, seq=4)
    n4(p.PFCPSessionDeletionRequest(), seid=1, seq=5)

(wrpcapng if a.pcapng else wrpcap)(a.out, frames)
print(f"frames={len(frames)}")

# Regenerates the scapy golden vectors of pfcp/tests/golden.rs (scapy 2.8.0, scapy.contrib.pfcp).
# Run: $UPF_LB_VENV/bin/python pfcp/tests/golden/gen_scapy.py
# Each vector is printed as NAME HEX. The codec under test is not involved.
from scapy.contrib.pfcp import *

def out(name, pkt):
    print(name, bytes(pkt).hex())

NODE_V4 = IE_NodeId(id_type=0, ipv4="192.0.2.10")

out("heartbeat_request", PFCP(S=0, seq=1) / PFCPHeartbeatRequest(IE_list=[IE_RecoveryTimeStamp(timestamp=3913056000)]))

out("association_setup_request", PFCP(S=0, seq=2) / PFCPAssociationSetupRequest(IE_list=[
    NODE_V4, IE_RecoveryTimeStamp(timestamp=3913056000), IE_CPFunctionFeatures(LOAD=1, OVRL=1)]))

out("association_setup_response", PFCP(S=0, seq=2) / PFCPAssociationSetupResponse(IE_list=[
    IE_NodeId(id_type=2, id="upf.example.org"), IE_Cause(cause=1),
    IE_RecoveryTimeStamp(timestamp=3913057000),
    IE_UPFunctionFeatures(FTUP=1, EMPU=1),
    IE_UserPlaneIPResourceInformation(V4=1, TEIDRI=2, teid_range=1, ipv4="198.51.100.1")]))

def pdr(pid, prec, src, fteid, ueip, fd, far, qers, urrs, qfi, ohr=None):
    pdi = [IE_SourceInterface(interface=src)]
    if fteid is not None:
        pdi.append(fteid)
    pdi.append(IE_NetworkInstance(instance="internet"))
    if ueip is not None:
        pdi.append(ueip)
    pdi.append(IE_SDF_Filter(FD=1, flow_description=fd))
    if qfi is not None:
        pdi.append(IE_QFI(QFI=qfi))
    ies = [IE_PDR_Id(id=pid), IE_Precedence(precedence=prec), IE_PDI(IE_list=pdi)]
    if ohr is not None:
        ies.append(IE_OuterHeaderRemoval(header=ohr))
    ies.append(IE_FAR_Id(id=far))
    ies += [IE_URR_Id(id=u) for u in urrs]
    ies += [IE_QER_Id(id=q) for q in qers]
    return IE_CreatePDR(IE_list=ies)

def far(fid, dest, ohc=None):
    fp = [IE_DestinationInterface(interface=dest), IE_NetworkInstance(instance="internet")]
    if ohc is not None:
        fp.append(ohc)
    return IE_CreateFAR(IE_list=[IE_FAR_Id(id=fid), IE_ApplyAction(FORW=1), IE_ForwardingParameters(IE_list=fp)])

est = PFCP(S=1, seid=0, seq=3) / PFCPSessionEstablishmentRequest(IE_list=[
    NODE_V4,
    IE_FSEID(v4=1, seid=0x1122334455667788, ipv4="192.0.2.10"),
    pdr(1, 200, 0, IE_FTEID(V4=1, TEID=0x100, ipv4="198.51.100.1"), None,
        "permit out 17 from any to 198.18.0.1 5000-5010", 1, [1], [1], 9, ohr=0),
    pdr(2, 100, 1, None, IE_UE_IP_Address(V4=1, SD=1, ipv4="198.18.0.1"),
        "permit out ip from 203.0.113.0/24 to 198.18.0.1", 2, [1, 2], [1, 2], None),
    pdr(3, 300, 1, None, IE_UE_IP_Address(V4=1, SD=1, ipv4="198.18.0.1"),
        "permit out 6 from any 80,443 to 198.18.0.1", 3, [2], [2], None),
    far(1, 1),
    far(2, 0, IE_OuterHeaderCreation(GTPUUDPIPV4=1, TEID=0xabc, ipv4="192.0.2.20")),
    far(3, 0, IE_OuterHeaderCreation(GTPUUDPIPV4=1, TEID=0xabd, ipv4="192.0.2.20")),
    IE_CreateURR(IE_list=[IE_URR_Id(id=1), IE_MeasurementMethod(VOLUM=1, DURAT=1),
        IE_ReportingTriggers(volume_threshold=1, periodic_reporting=1),
        IE_MeasurementPeriod(period=60),
        IE_VolumeThreshold(TOVOL=1, DLVOL=1, total=10000000, downlink=8000000)]),
    IE_CreateURR(IE_list=[IE_URR_Id(id=2), IE_MeasurementMethod(VOLUM=1),
        IE_ReportingTriggers(volume_quota=1), IE_VolumeQuota(TOVOL=1, total=50000000)]),
    IE_CreateQER(IE_list=[IE_QER_Id(id=1), IE_GateStatus(ul=0, dl=0),
        IE_MBR(ul=100000, dl=200000), IE_QFI(QFI=9)]),
    IE_CreateQER(IE_list=[IE_QER_Id(id=2), IE_GateStatus(ul=1, dl=0), IE_QFI(QFI=5)]),
    IE_PDNType(pdn_type=1),
])
out("session_establishment_request", est)

out("session_establishment_response", PFCP(S=1, seid=0x1122334455667788, seq=3) / PFCPSessionEstablishmentResponse(IE_list=[
    NODE_V4, IE_Cause(cause=1), IE_FSEID(v4=1, seid=0x0000000000000042, ipv4="198.51.100.1"),
    IE_CreatedPDR(IE_list=[IE_PDR_Id(id=1), IE_FTEID(V4=1, TEID=0x100, ipv4="198.51.100.1")])]))

out("session_modification_request", PFCP(S=1, seid=0x42, seq=4) / PFCPSessionModificationRequest(IE_list=[
    IE_RemovePDR(IE_list=[IE_PDR_Id(id=3)]),
    IE_RemoveFAR(IE_list=[IE_FAR_Id(id=3)]),
    IE_UpdateFAR(IE_list=[IE_FAR_Id(id=2), IE_ApplyAction(FORW=1),
        IE_UpdateForwardingParameters(IE_list=[
            IE_OuterHeaderCreation(GTPUUDPIPV4=1, TEID=0xbbb, ipv4="192.0.2.21"),
            IE_PFCPSMReqFlags(SNDEM=1)])]),
    IE_UpdateQER(IE_list=[IE_QER_Id(id=2), IE_GateStatus(ul=0, dl=0)]),
    IE_QueryURR(IE_list=[IE_URR_Id(id=1)]),
]))

out("session_modification_response", PFCP(S=1, seid=0x1122334455667788, seq=4) / PFCPSessionModificationResponse(IE_list=[
    IE_Cause(cause=1),
    IE_UsageReport_SMR(IE_list=[IE_URR_Id(id=1), IE_UR_SEQN(number=0), IE_UsageReportTrigger(IMMER=1),
        IE_StartTime(timestamp=3913056000), IE_EndTime(timestamp=3913056060),
        IE_VolumeMeasurement(TOVOL=1, ULVOL=1, DLVOL=1, total=3000, uplink=1000, downlink=2000),
        IE_DurationMeasurement(duration=60)])]))

out("session_deletion_request", PFCP(S=1, seid=0x42, seq=5) / PFCPSessionDeletionRequest())

out("session_deletion_response", PFCP(S=1, seid=0x1122334455667788, seq=5) / PFCPSessionDeletionResponse(IE_list=[
    IE_Cause(cause=1),
    IE_UsageReport_SDR(IE_list=[IE_URR_Id(id=2), IE_UR_SEQN(number=1), IE_UsageReportTrigger(TERMR=1),
        IE_VolumeMeasurement(TOVOL=1, total=123456789)])]))

out("session_report_request", PFCP(S=1, seid=0x1122334455667788, seq=6) / PFCPSessionReportRequest(IE_list=[
    IE_ReportType(DLDR=1),
    IE_DownlinkDataReport(IE_list=[IE_PDR_Id(id=2),
        IE_DownlinkDataServiceInformation(PPI=1, ppi_val=3, QFII=1, qfi_val=5)])]))

out("session_report_response", PFCP(S=1, seid=0x42, seq=6) / PFCPSessionReportResponse(IE_list=[
    IE_Cause(cause=1)]))

out("association_release_request", PFCP(S=0, seq=7) / PFCPAssociationReleaseRequest(IE_list=[NODE_V4]))
out("association_release_response", PFCP(S=0, seq=7) / PFCPAssociationReleaseResponse(IE_list=[
    IE_NodeId(id_type=1, ipv6="2001:db8::10"), IE_Cause(cause=1)]))
out("association_update_request", PFCP(S=0, seq=8) / PFCPAssociationUpdateRequest(IE_list=[
    NODE_V4, IE_PFCPAssociationReleaseRequest(SARR=1), IE_GracefulReleasePeriod(release_timer_unit=0, release_timer_value=10)]))
out("node_report_request", PFCP(S=0, seq=9) / PFCPNodeReportRequest(IE_list=[
    NODE_V4, IE_NodeReportType(UPFR=1),
    IE_UserPlanePathFailureReport(IE_list=[IE_RemoteGTP_U_Peer(V4=1, ipv4="192.0.2.20")])]))
out("heartbeat_response_with_vendor_ie", PFCP(S=0, seq=10) / PFCPHeartbeatResponse(IE_list=[
    IE_RecoveryTimeStamp(timestamp=3913056000),
    IE_EnterpriseSpecific(ietype=32770, enterprise_id=18681, data=b"\x01\x02\x03")]))
out("version_not_supported_response", PFCP(S=0, seq=11) / PFCPVersionNotSupportedResponse())

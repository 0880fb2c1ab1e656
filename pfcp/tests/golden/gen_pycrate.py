# Regenerates the pycrate golden vectors of pfcp/tests/golden.rs (pycrate 0.8.1,
# pycrate_mobile.TS29244_PFCP). Run: $UPF_LB_VENV/bin/python pfcp/tests/golden/gen_pycrate.py
# Each vector is printed as NAME HEX. The codec under test is not involved.
from pycrate_mobile.TS29244_PFCP import *

def out(name, m):
    print(name, m.to_bytes().hex())

SMF = {'Type': 60, 'Data': {'Type': 2, 'Val': 'smf.example.net'}}

out("pycrate_association_setup_request", PFCPAssociationSetupReq(val={
    'Hdr': {'SeqNum': 9}, 'PFCPAssociationSetupReqIEs': [
        SMF, {'Type': 96, 'Data': {'Val': 3913056000}}]}))

out("pycrate_session_establishment_request_choose", PFCPSessionEstablishmentReq(val={
    'Hdr': {'SEID': 0, 'SeqNum': 10}, 'PFCPSessionEstablishmentReqIEs': [
        SMF,
        {'Type': 57, 'Data': {'V4': 1, 'V6': 1, 'SEID': 7, 'IPv4Addr': '192.0.2.10',
                              'IPv6Addr': '2001:db8::a'}},
        {'Type': 1, 'Data': [
            {'Type': 56, 'Data': {'Val': 1}},
            {'Type': 29, 'Data': {'Val': 10}},
            {'Type': 2, 'Data': [
                {'Type': 20, 'Data': {'If': 0}},
                {'Type': 21, 'Data': {'CHID': 1, 'CH': 1, 'V4': 1, 'V6': 1, 'CHOOSE_ID': 5}},
            ]},
            {'Type': 108, 'Data': {'Val': 1}},
        ]},
        {'Type': 1, 'Data': [
            {'Type': 56, 'Data': {'Val': 2}},
            {'Type': 29, 'Data': {'Val': 20}},
            {'Type': 2, 'Data': [
                {'Type': 20, 'Data': {'If': 0}},
                {'Type': 21, 'Data': {'CHID': 1, 'CH': 1, 'V4': 1, 'V6': 1, 'CHOOSE_ID': 5}},
            ]},
            {'Type': 108, 'Data': {'Val': 1}},
        ]},
        {'Type': 3, 'Data': [
            {'Type': 108, 'Data': {'Val': 1}},
            {'Type': 44, 'Data': [{'DROP': 1}]},
        ]},
    ]}))

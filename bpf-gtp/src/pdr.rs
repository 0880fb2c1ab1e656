//! PDR detection (TS 29.244 5.2.1): the PDRs of a lookup key in precedence order, the first whose
//! PDI matches the packet (QFI, then any of its SDF filters) wins.

use crate::maps::{PDRS, SDFS};
use bpf_abi::{
    Reason,
    gtp::{
        MAX_PDRS_PER_KEY, MAX_SDF_PER_PDR, Pdr, PdrList, SDF_FLOW_LABEL, SDF_IPV6, SDF_PROTO,
        SDF_SPI, SDF_TOS, SdfFilter,
    },
};
use bpf_net::flow::Flow;

/// The first PDR of `list` that matches `flow` (with `qfi` from the PDU Session Container, 0
/// when there is none).
#[inline(always)]
pub fn find(list: &PdrList, flow: &Flow, qfi: u8) -> Result<Pdr, Reason> {
    let mut i = 0;
    while i < MAX_PDRS_PER_KEY {
        if i >= list.count {
            break;
        }
        let Some(pdr) = PDRS.get(list.first.wrapping_add(i)) else {
            return Err(Reason::RuleMissing);
        };
        if (pdr.qfi == 0 || pdr.qfi == qfi) && sdf_match(pdr, flow) {
            return Ok(*pdr);
        }
        i += 1;
    }
    Err(Reason::PdrNoMatch)
}

#[inline(always)]
fn sdf_match(pdr: &Pdr, flow: &Flow) -> bool {
    if pdr.sdf_count == 0 {
        return true;
    }
    let mut j = 0;
    while j < MAX_SDF_PER_PDR {
        if j >= pdr.sdf_count {
            break;
        }
        if let Some(f) = SDFS.get(pdr.sdf_first.wrapping_add(j))
            && filter_match(f, flow)
        {
            return true;
        }
        j += 1;
    }
    false
}

#[inline(always)]
fn masked_eq(a: &[u8; 16], b: &[u8; 16], m: &[u8; 16], v6: bool) -> bool {
    let w = |x: &[u8; 16], i: usize| {
        u64::from_ne_bytes([
            x[i],
            x[i + 1],
            x[i + 2],
            x[i + 3],
            x[i + 4],
            x[i + 5],
            x[i + 6],
            x[i + 7],
        ])
    };
    if v6 {
        (w(a, 0) ^ w(b, 0)) & w(m, 0) == 0 && (w(a, 8) ^ w(b, 8)) & w(m, 8) == 0
    } else {
        let v = |x: &[u8; 16]| u32::from_ne_bytes([x[0], x[1], x[2], x[3]]);
        (v(a) ^ v(b)) & v(m) == 0
    }
}

/// True when `f` matches `flow`.
#[inline(always)]
pub fn filter_match(f: &SdfFilter, flow: &Flow) -> bool {
    let v6 = f.flags & SDF_IPV6 != 0;
    if v6 != flow.v6 {
        return false;
    }
    if f.flags & SDF_PROTO != 0 && f.proto != flow.proto {
        return false;
    }
    if f.flags & SDF_TOS != 0 && (f.tos ^ flow.tos) & f.tos_mask != 0 {
        return false;
    }
    if f.flags & SDF_SPI != 0 && f.spi.get() != flow.spi {
        return false;
    }
    if f.flags & SDF_FLOW_LABEL != 0 && f.flow_label != flow.flow_label {
        return false;
    }
    if flow.sport < f.sport[0]
        || flow.sport > f.sport[1]
        || flow.dport < f.dport[0]
        || flow.dport > f.dport[1]
    {
        return false;
    }
    masked_eq(&flow.src, &f.src, &f.src_mask, v6) && masked_eq(&flow.dst, &f.dst, &f.dst_mask, v6)
}

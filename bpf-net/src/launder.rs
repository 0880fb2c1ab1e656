//! A stage boundary for the verifier: values passed through map memory, so that it forgets
//! what it knew of them.
//!
//! Verifier workaround (kernels 6.1 to 6.18): header offsets that come out of bounded walks
//! (VLAN tags, IPv6 extension headers, IPv4 options) are tracked as distinct precise values, so
//! every later stage is verified once per combination, and a program that is cheap on one
//! kernel exceeds the one-million-instruction limit on another. The verifier tracks registers
//! and the stack, not map contents: a value read back from a map is one unknown scalar on every
//! path, and the paths that differed only in it become one state. The cursor's bounds check
//! (`off <= MAX_OFFSET`, then `data + off + len <= data_end`) proves every later access again.
//! Cost: one inlined per-CPU array lookup, four stores and four loads.

use aya_ebpf::{macros::map, maps::PerCpuArray};

/// One per-CPU slot of four words that [`launder`] passes values through. Written and read
/// only by the program that runs on the CPU, within one run; nothing outside reads it.
#[map(name = "LAUNDER")]
pub static LAUNDER: PerCpuArray<[u64; 4]> = PerCpuArray::with_max_entries(1, 0);

/// Returns `v` unchanged, but through map memory (see the module's comment). None only if the
/// per-CPU slot is missing, which a loaded object never lacks.
#[inline(always)]
pub fn launder(v: [u64; 4]) -> Option<[u64; 4]> {
    let p = LAUNDER.get_ptr_mut(0)?;
    // SAFETY: `p` is this CPU's slot of a per-CPU array, valid for this program run.
    unsafe {
        core::ptr::write_volatile(p, v);
        Some(core::ptr::read_volatile(p))
    }
}

/// As [`launder`], for offsets and lengths inside a packet (16 bits each): each comes back
/// masked to 16 bits, so that the verifier knows its bounds in whichever register or stack slot
/// the compiler keeps it.
///
/// Verifier workaround (Linux 6.1): a bounds check made on one register is not carried to the
/// stack slot the same unknown value was spilled to, so an offset checked in one register and
/// reloaded from the stack for the pointer arithmetic is refused ("math between pkt pointer
/// and register with unbounded min value is not allowed"). A masked value is bounded wherever
/// it goes.
#[inline(always)]
pub fn launder16(v: [u16; 4]) -> Option<[usize; 4]> {
    let [a, b, c, d] = launder([
        u64::from(v[0]),
        u64::from(v[1]),
        u64::from(v[2]),
        u64::from(v[3]),
    ])?;
    Some([
        (a & 0xffff) as usize,
        (b & 0xffff) as usize,
        (c & 0xffff) as usize,
        (d & 0xffff) as usize,
    ])
}

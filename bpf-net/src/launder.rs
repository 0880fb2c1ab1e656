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

use crate::cursor::MAX_OFFSET;

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

/// Mask for [`launder_masked`] of a header offset: at most [`MAX_OFFSET`], as every offset
/// the cursor has proven is.
pub const OFFSET: u64 = MAX_OFFSET as u64;
/// Mask for [`launder_masked`] of a length or an end offset inside a packet (16 bits).
pub const LEN16: u64 = 0xffff;
/// Mask for [`launder_masked`] of a 32-bit value.
pub const WORD32: u64 = 0xffff_ffff;

/// As [`launder`], each value coming back masked with its mask ([`OFFSET`], [`LEN16`],
/// [`WORD32`]), so that the verifier knows its bounds in whichever register or stack slot the
/// compiler keeps it. Every value must already lie within its mask: the masking is the identity
/// on it and only tells the verifier what is true.
///
/// Verifier workaround (Linux 6.1): a scalar it knows nothing of is spilled to the stack as
/// unknown bytes, and a bounds check made on one register is not carried to the stack slot the
/// same value was spilled to, so an offset checked in one register and reloaded from the stack
/// for the pointer arithmetic is refused ("math between pkt pointer and register with unbounded
/// min value is not allowed"), and one bounded by 16 bits only gives no packet range
/// ("offset is outside of the packet": a variable offset above 0xffff minus the access is
/// never proven). An offset masked to [`MAX_OFFSET`] is bounded wherever it goes.
#[inline(always)]
pub fn launder_masked(v: [u64; 4], masks: [u64; 4]) -> Option<[u64; 4]> {
    let [a, b, c, d] = launder(v)?;
    Some([a & masks[0], b & masks[1], c & masks[2], d & masks[3]])
}

/// `v & M`, by an instruction the compiler keeps even where it can prove the mask changes
/// nothing: the verifier then knows the bound in the register the value is used from. `M`
/// must fit a BPF immediate (31 bits).
///
/// Verifier workaround (Linux 6.1): a bound proven on one register is not carried to the
/// stack slot the same value was spilled to (nor the other way), so a length checked against a
/// buffer's size and reloaded for a helper's size argument is refused ("R4 min value is
/// negative"); a mask in the instruction before the use bounds it there.
#[inline(always)]
pub fn mask<const M: u64>(v: u64) -> u64 {
    const { assert!(M <= 0x7fff_ffff) };
    #[cfg(target_arch = "bpf")]
    {
        let mut v = v;
        // SAFETY: an ALU instruction on a register; no memory is touched.
        unsafe {
            core::arch::asm!(
                "{v} &= {m}",
                v = inout(reg) v,
                m = const M,
                options(pure, nomem, nostack, preserves_flags)
            )
        };
        v
    }
    #[cfg(not(target_arch = "bpf"))]
    {
        v & M
    }
}

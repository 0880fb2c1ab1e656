//! Zeroing and copying without a call of the `memset` or `memmove` function.
//!
//! Verifier workaround (Linux 6.1): bpf-linker has LLVM expand `memcpy` in order but leaves
//! `memset` and `memmove` (a copy between two places LLVM cannot prove apart, such as a map
//! value and a `&mut`) as calls of the builtin functions it exports, each a BPF function of its
//! own with a byte loop. 6.1 counts every called function's stack as at least 32 bytes, so a
//! program whose own frame is above 480 bytes is refused ("combined stack size of 2 calls is
//! 544. Too large"), and walks the loop on every call. Zeroing by volatile word stores and
//! copying by word loads keep the work in the program's frame.

use core::mem::MaybeUninit;

/// `T`, aligned for 8-byte stores (its size so a multiple of 8).
#[repr(C, align(8))]
pub struct Words<T>(pub T);

/// Zeroes `slot` by 8-byte stores and gives back the `T` in it.
///
/// # Safety
/// The all-zero bit pattern must be a valid `T` (a plain struct or array of integers).
#[inline(always)]
pub unsafe fn zeroed<T>(slot: &mut MaybeUninit<Words<T>>) -> &mut T {
    let n = size_of::<Words<T>>() / 8;
    let w = slot.as_mut_ptr().cast::<u64>();
    let mut i = 0;
    while i < n {
        // SAFETY: `Words<T>` is 8-aligned and its size a multiple of 8, so word `i` (< n)
        // lies inside the slot; volatile, so that LLVM does not merge the stores into a
        // `memset` call.
        unsafe { core::ptr::write_volatile(w.add(i), 0) };
        i += 1;
    }
    // SAFETY: every byte of the slot is written, and zero bytes are a valid `T` (the caller's
    // contract).
    unsafe { &mut slot.assume_init_mut().0 }
}

/// `a`, copied by two 8-byte loads (not a `memmove` call, see the module's comment).
#[inline(always)]
pub fn copy16(a: &[u8; 16]) -> [u8; 16] {
    let mut l = [0u8; 8];
    let mut h = [0u8; 8];
    l.copy_from_slice(&a[..8]);
    h.copy_from_slice(&a[8..]);
    let (l, h) = (u64::from_ne_bytes(l), u64::from_ne_bytes(h));
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&l.to_ne_bytes());
    out[8..].copy_from_slice(&h.to_ne_bytes());
    out
}

/// `*src` copied into `*dst` by 8-byte words (not a `memmove` call, see the module's comment):
/// for values too long for [`copy16`], such as a map value copied into a per-CPU scratch.
/// `T` must be 8-aligned and a whole number of words long (checked when compiled).
#[inline(always)]
pub fn copy_words<T: Copy>(dst: &mut T, src: &T) {
    const { assert!(align_of::<T>() >= 8 && size_of::<T>().is_multiple_of(8)) };
    let n = size_of::<T>() / 8;
    let (d, s) = (
        (dst as *mut T).cast::<u64>(),
        (src as *const T).cast::<u64>(),
    );
    let mut i = 0;
    while i < n {
        // SAFETY: both are 8-aligned and `n` words long (the assertion above), and `i < n`;
        // volatile, so that LLVM does not make the loop a `memmove` call again. Any bit
        // pattern of a `Copy` plain-data `T` is what `src` held.
        unsafe { core::ptr::write_volatile(d.add(i), core::ptr::read_volatile(s.add(i))) };
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn copy16_copies() {
        let a: [u8; 16] = core::array::from_fn(|i| i as u8 * 7);
        assert_eq!(super::copy16(&a), a);
    }

    use super::*;

    #[test]
    fn copy_words_copies_every_word() {
        #[repr(C, align(8))]
        #[derive(Clone, Copy, PartialEq, Debug)]
        struct V([u8; 24]);
        let src = V(core::array::from_fn(|i| i as u8 + 1));
        let mut dst = V([0; 24]);
        copy_words(&mut dst, &src);
        assert_eq!(dst, src);
    }

    #[test]
    fn every_byte_is_zero_whatever_was_there() {
        let mut slot = MaybeUninit::new(Words([0xa5u8; 43]));
        // SAFETY: zero bytes are a valid byte array.
        let h = unsafe { zeroed(&mut slot) };
        assert_eq!(h, &[0u8; 43]);
        h[42] = 7;
        assert_eq!(h[42], 7);
    }
}

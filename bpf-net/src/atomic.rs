//! Atomic read-modify-write on map values shared by all CPUs (counters, token buckets).
//!
//! The BPF target does not expose `core::sync::atomic`'s read-modify-write methods (it has no
//! `target_has_atomic`), although BPF v3 has the instructions (fetch-add, compare-exchange); on
//! BPF these functions use the compiler intrinsics directly, on the host the std atomics, so the
//! same code is tested on both.

#[cfg(target_arch = "bpf")]
use core::intrinsics::{self, AtomicOrdering::Relaxed};

/// Adds `v` to `*p`; returns the previous value.
///
/// Do not use the returned value in BPF programs built with LLVM 22 / bpf-linker 0.13: it was
/// seen compiled to the non-fetch `lock +=` (the result register keeps `v`). Counters that ignore
/// the result are fine; code that needs the old value uses [`compare_exchange`].
///
/// # Safety
/// `p` is valid, 8-byte aligned, and accessed only atomically by others.
#[inline(always)]
pub unsafe fn fetch_add(p: *mut u64, v: u64) -> u64 {
    #[cfg(target_arch = "bpf")]
    // SAFETY: the caller's contract.
    return unsafe { intrinsics::atomic_xadd::<u64, u64, { Relaxed }>(p, v) };
    #[cfg(not(target_arch = "bpf"))]
    // SAFETY: the caller's contract.
    return unsafe { core::sync::atomic::AtomicU64::from_ptr(p) }
        .fetch_add(v, core::sync::atomic::Ordering::Relaxed);
}

/// Replaces `*p` with `new` if it is `old`; true when it did.
///
/// # Safety
/// As [`fetch_add`].
#[inline(always)]
pub unsafe fn compare_exchange(p: *mut u64, old: u64, new: u64) -> bool {
    #[cfg(target_arch = "bpf")]
    // SAFETY: the caller's contract.
    return unsafe { intrinsics::atomic_cxchg::<u64, { Relaxed }, { Relaxed }>(p, old, new) }.1;
    #[cfg(not(target_arch = "bpf"))]
    // SAFETY: the caller's contract.
    return unsafe { core::sync::atomic::AtomicU64::from_ptr(p) }
        .compare_exchange(
            old,
            new,
            core::sync::atomic::Ordering::Relaxed,
            core::sync::atomic::Ordering::Relaxed,
        )
        .is_ok();
}

/// Reads `*p`.
///
/// # Safety
/// As [`fetch_add`].
#[inline(always)]
pub unsafe fn load(p: *const u64) -> u64 {
    // SAFETY: the caller's contract; an aligned 8-byte load is atomic on BPF and x86-64.
    unsafe { core::ptr::read_volatile(p) }
}

/// Writes `*p`.
///
/// # Safety
/// As [`fetch_add`].
#[inline(always)]
pub unsafe fn store(p: *mut u64, v: u64) {
    // SAFETY: the caller's contract; an aligned 8-byte store is atomic on BPF and x86-64.
    unsafe { core::ptr::write_volatile(p, v) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_modify_write() {
        let mut x: u64 = 5;
        // SAFETY: a local, aligned, used only here.
        unsafe {
            assert_eq!(fetch_add(&mut x, 3), 5);
            assert_eq!(load(&x), 8);
            assert!(!compare_exchange(&mut x, 7, 1));
            assert!(compare_exchange(&mut x, 8, 1));
            // Two's complement subtraction through add.
            assert_eq!(fetch_add(&mut x, 2u64.wrapping_neg()), 1);
            assert_eq!(load(&x), u64::MAX);
            store(&mut x, 9);
        }
        assert_eq!(x, 9);
    }
}

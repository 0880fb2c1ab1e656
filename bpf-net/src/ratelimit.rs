//! A one-second window counter for the messages a datapath sends on its own (ICMP errors,
//! Error Indications: RFC 4443 2.4 (f), RFC 1812 4.3.2.8 ask for a rate limit). The caller
//! keeps the window, per CPU, in a map slot: [start of the window (ns), messages in it].

/// True when one more message fits in the window at `now` (ns), at most `per_sec` a second;
/// counts it then.
#[inline(always)]
pub fn allows(w: &mut [u64; 2], now: u64, per_sec: u64) -> bool {
    if now.wrapping_sub(w[0]) >= 1_000_000_000 {
        w[0] = now;
        w[1] = 0;
    }
    if w[1] >= per_sec {
        return false;
    }
    w[1] += 1;
    true
}

#[cfg(test)]
mod tests {
    use super::allows;

    #[test]
    fn a_window_holds_per_sec_then_refills() {
        let mut w = [0u64; 2];
        let t = 5_000_000_000;
        assert!((0..3).all(|i| allows(&mut w, t + i, 3)));
        assert!(!allows(&mut w, t + 10, 3));
        assert!(allows(&mut w, t + 1_000_000_000, 3));
    }
}

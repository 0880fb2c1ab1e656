//! GTP-U signalling the controller sends itself (not the datapath): End Marker (TS 29.281
//! 7.3.2), sent on the old path when a Session Modification switches a downlink FAR to a new
//! tunnel with SNDEM (TS 29.244 5.2.1).

use std::{
    io,
    net::{IpAddr, SocketAddr, UdpSocket},
};

/// GTP-U message type End Marker.
pub const END_MARKER: u8 = 254;

/// The End Marker for tunnel `teid`: version 1, PT 1, no optional fields, no IEs.
pub fn end_marker(teid: u32) -> [u8; 8] {
    let mut m = [0x30, END_MARKER, 0, 0, 0, 0, 0, 0];
    m[4..8].copy_from_slice(&teid.to_be_bytes());
    m
}

/// Sends `count` End Markers for `teid` from `local` to `peer`:2152, from port 2152 when it is
/// free (the UPF's own GTP-U port: XDP handles what arrives there) and an ephemeral port
/// otherwise. Call it in the namespace of the N3/N9 interface.
pub fn send_end_markers(local: IpAddr, peer: IpAddr, teid: u32, count: u32) -> io::Result<()> {
    let s = UdpSocket::bind(SocketAddr::new(local, 2152))
        .or_else(|_| UdpSocket::bind(SocketAddr::new(local, 0)))?;
    let m = end_marker(teid);
    for _ in 0..count {
        s.send_to(&m, SocketAddr::new(peer, 2152))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_marker_bytes() {
        assert_eq!(end_marker(0x0102_0304), [0x30, 254, 0, 0, 1, 2, 3, 4]);
    }
}

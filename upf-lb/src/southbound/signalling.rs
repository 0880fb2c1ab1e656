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

/// Sends the Ethernet frame `frame` out of interface `ifindex` as it is (an AF_PACKET raw
/// socket: no route lookup, no neighbour resolution; the frame carries its MACs). Call it in
/// the namespace of the interface.
pub fn send_frame(ifindex: u32, frame: &[u8]) -> io::Result<()> {
    // SAFETY: socket(2) with constant arguments.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            0, // no protocol: this socket receives nothing
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is the socket just opened, owned here and closed once.
    let _fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: sockaddr_ll is plain old data; all zeroes is a valid value.
    let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    to.sll_family = libc::AF_PACKET as u16;
    to.sll_ifindex = ifindex as i32;
    to.sll_halen = 6;
    if let Some(dst) = frame.get(..6) {
        to.sll_addr[..6].copy_from_slice(dst);
    }
    // SAFETY: `frame` is valid for its length, `to` is a sockaddr_ll of the given size.
    let n = unsafe {
        libc::sendto(
            fd,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&raw const to).cast(),
            size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != frame.len() {
        return Err(io::Error::other(format!(
            "sent {n} of {} bytes",
            frame.len()
        )));
    }
    Ok(())
}

/// The interface of this namespace whose MAC address is `mac`, if one is.
pub fn ifindex_of_mac(mac: &[u8]) -> Option<u32> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list freed below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return None;
    }
    let mut found = None;
    let mut p = head;
    while !p.is_null() {
        // SAFETY: `p` is a node of the list getifaddrs returned, valid until freeifaddrs.
        let a = unsafe { &*p };
        // SAFETY: as above; an AF_PACKET entry's address is a sockaddr_ll.
        if !a.ifa_addr.is_null() && i32::from(unsafe { (*a.ifa_addr).sa_family }) == libc::AF_PACKET
        {
            // SAFETY: the family says it is a sockaddr_ll.
            let ll = unsafe { &*a.ifa_addr.cast::<libc::sockaddr_ll>() };
            if ll.sll_halen == 6 && ll.sll_addr[..6] == *mac {
                found = Some(ll.sll_ifindex as u32);
                break;
            }
        }
        p = a.ifa_next;
    }
    // SAFETY: the list getifaddrs returned, freed once.
    unsafe { libc::freeifaddrs(head) };
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_marker_bytes() {
        assert_eq!(end_marker(0x0102_0304), [0x30, 254, 0, 0, 1, 2, 3, 4]);
    }
}

//! Free TCP ports for devnets, benches and tests.
//!
//! A port the OS hands out for `bind(0)` comes from the kernel's ephemeral
//! range, the same range it draws the local port of every outgoing
//! connection from. Between the pick and the node's own bind, any
//! connection on the machine (another devnet's peers, an RPC client) can
//! take it, and the node then fails to listen. Ports below that range are
//! never given to outgoing connections, so they are picked there.

use rand::RngExt as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// Lowest port picked; below it sit well-known services.
const PICK_LOW_PORT: u16 = 20_000;
/// First ephemeral port when the kernel does not say (Linux's default).
const DEFAULT_EPHEMERAL_LOW_PORT: u16 = 32_768;
/// Random candidates tried before falling back to the OS's pick.
const PICK_ATTEMPTS: usize = 128;

/// A TCP port free on every interface, below the ephemeral range when there
/// is room there.
pub fn free_port() -> std::io::Result<u16> {
    let high = ephemeral_low_port();
    if high > PICK_LOW_PORT {
        let mut rng = rand::rng();
        for _ in 0..PICK_ATTEMPTS {
            let port = rng.random_range(PICK_LOW_PORT..high);
            if is_free(port) {
                return Ok(port);
            }
        }
    }
    Ok(TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))?
        .local_addr()?
        .port())
}

/// Whether nothing listens on `port`, on any interface.
pub fn is_free(port: u16) -> bool {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))).is_ok()
}

/// The first port of the kernel's ephemeral range.
fn ephemeral_low_port() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(DEFAULT_EPHEMERAL_LOW_PORT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picked_port_is_free_and_below_the_ephemeral_range() {
        for _ in 0..16 {
            let port = free_port().unwrap();
            assert!(is_free(port), "port {port} was picked but is taken");
            if ephemeral_low_port() > PICK_LOW_PORT {
                assert!((PICK_LOW_PORT..ephemeral_low_port()).contains(&port));
            }
        }
    }

    #[test]
    fn a_listening_port_is_not_free() {
        let held = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        assert!(!is_free(held.local_addr().unwrap().port()));
    }
}

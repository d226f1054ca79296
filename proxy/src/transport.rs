//! Datagram transports: the [`Transport`] trait and its tokio UDP
//! implementation.
//!
//! Endpoints only see this trait, so tests can put loss, duplication and
//! reordering between two endpoints, and the proxy can use a multicast
//! socket (joined through socket2) without the endpoints knowing.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use async_trait::async_trait;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

/// The largest datagram an endpoint accepts. CoAP over UDP should stay below
/// the path MTU (RFC 7252 §4.6); we read up to this many bytes and treat a
/// larger datagram as truncated, i.e. malformed.
pub const MAX_DATAGRAM: usize = 4096;

/// An unreliable datagram service.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Sends one datagram.
    ///
    /// # Errors
    /// The OS refused the datagram.
    async fn send_to(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<()>;

    /// Receives one datagram into `buf`; returns its length and sender.
    ///
    /// # Errors
    /// The socket failed.
    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;

    /// The local address.
    ///
    /// # Errors
    /// The socket has no address.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// UDP over tokio, created through socket2 so that socket options (address
/// reuse for multicast groups) can be set before binding.
#[derive(Debug)]
pub struct UdpTransport {
    socket: UdpSocket,
}

impl UdpTransport {
    /// Binds a unicast socket.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        Self::from_socket2(Self::new_socket(addr, false)?)
    }

    /// Binds a socket for receiving multicast on `addr`'s port and joins
    /// `group` on the interface `interface_v4` (IPv4) or index `interface_v6`.
    ///
    /// # Errors
    /// The socket cannot be bound or the group cannot be joined.
    pub async fn bind_multicast(
        addr: SocketAddr,
        group: std::net::IpAddr,
        interface_v4: Ipv4Addr,
        interface_v6: u32,
    ) -> io::Result<Self> {
        let socket = Self::new_socket(addr, true)?;
        match group {
            std::net::IpAddr::V4(g) => socket.join_multicast_v4(&g, &interface_v4)?,
            std::net::IpAddr::V6(g) => socket.join_multicast_v6(&g, interface_v6)?,
        }
        Self::from_socket2(socket)
    }

    fn new_socket(addr: SocketAddr, reuse: bool) -> io::Result<Socket> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        if reuse {
            socket.set_reuse_address(true)?;
        }
        if addr.is_ipv6() {
            // Unspecified IPv6 also receives IPv4-mapped traffic where the OS allows.
            let _ = socket.set_only_v6(addr.ip() != std::net::IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        Ok(socket)
    }

    /// Wraps a socket2 socket (it must be bound and non-blocking).
    ///
    /// # Errors
    /// tokio cannot register the socket.
    pub fn from_socket2(socket: Socket) -> io::Result<Self> {
        let std_socket: std::net::UdpSocket = socket.into();
        Ok(Self { socket: UdpSocket::from_std(std_socket)? })
    }
}

#[async_trait]
impl Transport for UdpTransport {
    async fn send_to(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<()> {
        self.socket.send_to(datagram, peer).await.map(|_| ())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.socket.recv_from(buf).await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

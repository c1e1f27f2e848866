//! Configuring the sandbox's network over netlink (rtnetlink): `lo` up, `tun0` up with
//! the program's addresses and default routes (IPv4 and IPv6) through the stack.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use rtnetlink::{new_connection, Handle, LinkUnspec, RouteMessageBuilder};

use super::error::SetupError;

/// The addresses on both ends of the TUN link.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NetPlan {
    /// The program's IPv4 address (on tun0) and prefix.
    pub program_v4: (Ipv4Addr, u8),
    /// The stack's IPv4 address: the gateway and the DNS server.
    pub stack_v4: Ipv4Addr,
    /// The program's IPv6 address and prefix.
    pub program_v6: (Ipv6Addr, u8),
    /// The stack's IPv6 address.
    pub stack_v6: Ipv6Addr,
    /// The TUN device's MTU.
    pub mtu: u32,
}

async fn link_index(handle: &Handle, name: &str) -> Result<u32, SetupError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(link.header.index),
        Ok(None) => Err(SetupError::Invalid(format!("no interface {name}"))),
        Err(e) => Err(SetupError::other(format_args!("looking up {name}"))(e)),
    }
}

/// Applies `plan` in the current network namespace.
pub(crate) async fn configure(tun: &str, plan: &NetPlan) -> Result<(), SetupError> {
    let (connection, handle, _) = new_connection().map_err(SetupError::io("netlink"))?;
    tokio::spawn(connection);
    let fail = |what: &str| SetupError::other::<rtnetlink::Error>(what.to_string());

    let lo = link_index(&handle, "lo").await?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(lo).up().build())
        .execute()
        .await
        .map_err(fail("bringing lo up"))?;

    let index = link_index(&handle, tun).await?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).mtu(plan.mtu).up().build())
        .execute()
        .await
        .map_err(fail("bringing the TUN device up"))?;
    let (v4, v4_prefix) = plan.program_v4;
    let (v6, v6_prefix) = plan.program_v6;
    for (address, prefix, what) in [
        (IpAddr::V4(v4), v4_prefix, "adding the IPv4 address"),
        (IpAddr::V6(v6), v6_prefix, "adding the IPv6 address"),
    ] {
        handle
            .address()
            .add(index, address, prefix)
            .execute()
            .await
            .map_err(fail(what))?;
    }
    let routes = [
        (
            RouteMessageBuilder::<Ipv4Addr>::new()
                .output_interface(index)
                .gateway(plan.stack_v4)
                .build(),
            "adding the IPv4 default route",
        ),
        (
            RouteMessageBuilder::<Ipv6Addr>::new()
                .output_interface(index)
                .gateway(plan.stack_v6)
                .build(),
            "adding the IPv6 default route",
        ),
    ];
    for (route, what) in routes {
        handle
            .route()
            .add(route)
            .execute()
            .await
            .map_err(fail(what))?;
    }
    Ok(())
}

/// Lets any port be bound inside (a web server on 80, as in a container): the network
/// namespace is the sandbox's own, so its low ports guard nothing. A failure only warns.
pub(crate) fn allow_low_ports() {
    if let Err(e) = std::fs::write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0") {
        eprintln!("torsocks-ns: warning: ports below 1024 stay reserved in the sandbox: {e}");
    }
}

/// The sandbox's SOCKS port: listening sockets on `127.0.0.1:port` and, where the
/// sandbox has IPv6, `[::1]:port`, created inside the sandbox's network namespace (so
/// only the sandbox reaches them) for the launcher to serve.
pub(crate) fn socks_listeners(port: u16) -> Result<Vec<std::os::fd::OwnedFd>, SetupError> {
    let v4 = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port)).map_err(
        SetupError::io(format_args!("the sandbox's SOCKS port 127.0.0.1:{port}")),
    )?;
    let mut listeners = vec![v4.into()];
    if let Ok(v6) = std::net::TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, port)) {
        listeners.push(v6.into());
    }
    Ok(listeners)
}

/// Deletes every interface of the current network namespace but `lo` (a veth's peer
/// goes with it): what a program with CAP_NET_ADMIN in that namespace could use to
/// restore a way out. Returns the names deleted. An interface the kernel will not
/// delete (a physical device moved in) is an error: the namespace would not be
/// Tor-only.
pub(crate) async fn remove_all_but_lo() -> Result<Vec<String>, SetupError> {
    use rtnetlink::packet_route::link::LinkAttribute;
    let (connection, handle, _) = new_connection().map_err(SetupError::io("netlink"))?;
    tokio::spawn(connection);
    let mut links = handle.link().get().execute();
    let mut others = Vec::new();
    while let Some(link) = links
        .try_next()
        .await
        .map_err(SetupError::other("listing the interfaces"))?
    {
        let name = link.attributes.iter().find_map(|a| match a {
            LinkAttribute::IfName(name) => Some(name.clone()),
            _ => None,
        });
        let name = name.unwrap_or_else(|| format!("#{}", link.header.index));
        if name != "lo" {
            others.push((link.header.index, name));
        }
    }
    let mut removed = Vec::new();
    for (index, name) in others {
        match handle.link().del(index).execute().await {
            Ok(()) => removed.push(name),
            // Gone meanwhile: a veth's peer, deleted with its other end.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => {
                removed.push(name)
            }
            Err(e) => return Err(SetupError::other(format_args!("deleting {name}"))(e)),
        }
    }
    Ok(removed)
}

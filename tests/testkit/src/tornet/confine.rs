//! Kernel confinement of the tor processes (the network rule).
//!
//! The exits accept `*:*`, so a client could ask them for any address. Every tor
//! process runs as one dedicated uid, and a policy-routing rule sends that uid's
//! traffic to a table whose default routes (IPv4 and IPv6) are `unreachable`; the only
//! other route in it is the test host's subnet. Loopback still works because the
//! kernel's `local` table is consulted before any rule.

use std::io;
use std::process::Command;

use crate::net::ip;

/// The routing table and rule priority used for confinement.
pub const TABLE: &str = "4242";
const PRIORITY: &str = "4242";

/// Installed rules; removed when dropped.
pub struct Confinement {
    uid: u32,
    subnets: Vec<(String, String)>,
}

impl Confinement {
    /// Confines `uid`, allowing only `subnets` (CIDR, device) beyond loopback, and checks
    /// with `ip route get` (a lookup that sends nothing) that public and private
    /// addresses outside them are unreachable.
    pub fn install(uid: u32, subnets: &[(String, String)]) -> io::Result<Confinement> {
        let confinement = Confinement {
            uid,
            subnets: subnets.to_vec(),
        };
        let range = format!("{uid}-{uid}");
        for family in ["-4", "-6"] {
            // Remove leftovers of an interrupted run, then install afresh.
            while ip(&[family, "rule", "del", "uidrange", &range, "lookup", TABLE]).is_ok() {}
            ip(&[family, "route", "flush", "table", TABLE]).ok();
            ip(&[
                family,
                "route",
                "add",
                "unreachable",
                "default",
                "table",
                TABLE,
            ])?;
            ip(&[
                family, "rule", "add", "priority", PRIORITY, "uidrange", &range, "lookup", TABLE,
            ])?;
        }
        for (cidr, dev) in subnets {
            ip(&["route", "add", cidr, "dev", dev, "table", TABLE])?;
        }
        let uid_s = uid.to_string();
        for probe in [
            "192.0.2.1",
            "8.8.8.8",
            "10.1.2.3",
            "2001:db8::1",
            "2606:4700::1111",
        ] {
            let out = Command::new("ip")
                .args(["route", "get", probe, "uid", &uid_s])
                .output()?;
            if out.status.success() {
                return Err(io::Error::other(format!(
                    "confinement check failed: uid {uid} can route to {probe}: {}",
                    String::from_utf8_lossy(&out.stdout).trim()
                )));
            }
        }
        Ok(confinement)
    }
}

impl Drop for Confinement {
    fn drop(&mut self) {
        let range = format!("{}-{}", self.uid, self.uid);
        for family in ["-4", "-6"] {
            let _ = ip(&[family, "rule", "del", "uidrange", &range, "lookup", TABLE]);
            let _ = ip(&[family, "route", "flush", "table", TABLE]);
        }
        for (cidr, dev) in &self.subnets {
            let _ = ip(&["route", "del", cidr, "dev", dev, "table", TABLE]);
        }
    }
}

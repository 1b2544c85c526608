//! What Linux's `/proc` tells about this process and its children:
//! resident memory, and which listening sockets a process holds.

use std::collections::HashSet;
use std::fs;

/// Resident memory of this process in KiB (`VmRSS`).
pub fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// A figure in KiB from `/proc/self/status` (`VmRSS:`, `VmHWM:`).
pub fn status_kib(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The ports on 127.0.0.1 that process `pid` itself listens on: the
/// listening sockets of `/proc/net/tcp` whose inode is one of the
/// process's descriptors. A port that accepts connections is no proof of
/// who listens: another process (another test's server) may hold it.
pub fn listening_ports(pid: u32) -> Vec<u16> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let inodes: HashSet<String> = fds
        .flatten()
        .filter_map(|fd| fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect();
    const LISTEN: &str = "0A";
    let table = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            let port = local.strip_prefix("0100007F:")?;
            (*state == LISTEN && inodes.contains(*inode))
                .then(|| u16::from_str_radix(port, 16).ok())
                .flatten()
        })
        .collect()
}

/// Whether process `pid` holds the socket listening on 127.0.0.1:`port`.
pub fn listens(pid: u32, port: u16) -> bool {
    listening_ports(pid).contains(&port)
}

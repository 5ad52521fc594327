//! Who this process is among the replicas of a cluster: the name poller leases, outbox claims
//! and exported telemetry carry.

/// This process's name among the replicas of a cluster: host name, process id and a short
/// random suffix (a restarted process with a recycled pid is still someone else). Poller
/// leases are held under it.
pub fn replica_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let suffix: u32 = rand::random();
        format!("{host}-{}-{:06x}", std::process::id(), suffix & 0xff_ffff)
    })
}

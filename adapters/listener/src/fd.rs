//! The process's file-descriptor limit: every connection holds one, and the usual soft
//! default of 1,024 is exhausted by a thousand idle clients. The hard limit is what the
//! operator (systemd `LimitNOFILE`, container `ulimits`) granted; the soft one is raised to it.

/// The descriptor limit before and after [`raise_fd_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit found at start.
    pub before: u64,
    /// The soft limit now in force (the hard limit, unless raising failed).
    pub soft: u64,
    /// The hard limit.
    pub hard: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit.
#[cfg(unix)]
// rlim_t is u64 on Linux; the field types say so.
pub fn raise_fd_limit() -> std::io::Result<FdLimit> {
    // SAFETY: getrlimit/setrlimit only read and write the struct handed to them.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit = raised;
    }
    Ok(FdLimit {
        before,
        soft: limit.rlim_cur,
        hard: limit.rlim_max,
    })
}

/// Whether an `accept` error means the process or the system ran out of descriptors (or of
/// the memory behind them): the kind that clears when connections close, so worth a pause.
pub(crate) fn is_exhaustion(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let limit = raise_fd_limit().unwrap();
        assert_eq!(limit.soft, limit.hard);
        assert!(limit.soft >= limit.before);
    }
}

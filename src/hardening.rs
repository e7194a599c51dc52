//! Process hardening done first thing in `main`: no core dumps (they would hold decrypted
//! secrets) and no ptrace attach by other processes of the same user.

use std::sync::atomic::{AtomicU64, Ordering};

/// The core-dump limit the process started with, restored for children of `exec`.
static ORIGINAL_CORE: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

pub fn harden_process() {
    let mut original = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into a valid struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_CORE, &raw mut original) } == 0 {
        ORIGINAL_CORE[0].store(original.rlim_cur as _, Ordering::Relaxed);
        ORIGINAL_CORE[1].store(original.rlim_max as _, Ordering::Relaxed);
    }
    // Keep the hard limit, so a child of `exec` can get the original soft limit back.
    let no_core = libc::rlimit { rlim_cur: 0, rlim_max: original.rlim_max };
    // SAFETY: setrlimit reads a valid rlimit struct; failure leaves the limit as it was.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &raw const no_core);
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_DUMPABLE takes an integer argument and affects only this process.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    #[cfg(target_os = "macos")]
    // SAFETY: PT_DENY_ATTACH takes no address or data.
    unsafe {
        libc::ptrace(libc::PT_DENY_ATTACH, 0, std::ptr::null_mut(), 0);
    }
}

/// Gives a child process (after fork, before exec) the core-dump limit keyward started with:
/// the command `exec` runs is the user's, not keyward's. Async-signal-safe.
pub fn restore_core_limit() {
    let limit = libc::rlimit {
        rlim_cur: ORIGINAL_CORE[0].load(Ordering::Relaxed) as libc::rlim_t,
        rlim_max: ORIGINAL_CORE[1].load(Ordering::Relaxed) as libc::rlim_t,
    };
    // SAFETY: setrlimit reads a valid struct; it is async-signal-safe.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &raw const limit);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn core_dumps_and_ptrace_are_off() {
        super::harden_process();
        let mut limit = libc::rlimit { rlim_cur: 1, rlim_max: 1 };
        // SAFETY: getrlimit writes into a valid struct.
        unsafe { libc::getrlimit(libc::RLIMIT_CORE, &raw mut limit) };
        assert_eq!(limit.rlim_cur, 0);
        // SAFETY: PR_GET_DUMPABLE takes no arguments.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
    }
}

//! Process hardening done first thing in `main`: no core dumps (they would hold decrypted
//! secrets) and no ptrace attach by other processes of the same user.

use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};

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

/// The exit code after a mapped file was cut short: 5 (damaged), or 125 under `exec`.
static SHRUNK_EXIT: AtomicI32 = AtomicI32::new(crate::error::exit::DAMAGED);

/// The files keyward has mapped (see `files::Contents`), as (start, length) pairs; a length of
/// 0 is a free slot. Read by the SIGBUS handler, so atomics and a fixed size.
const MAPPINGS: usize = 8;
static MAP_START: [AtomicUsize; MAPPINGS] = [const { AtomicUsize::new(0) }; MAPPINGS];
static MAP_LEN: [AtomicUsize; MAPPINGS] = [const { AtomicUsize::new(0) }; MAPPINGS];

/// Records a mapped file for [`catch_shrunk_files`]; the slot to give back to
/// [`forget_mapping`] (`None` when all are taken: a fault there is then not caught).
pub fn remember_mapping(start: usize, len: usize) -> Option<usize> {
    (0..MAPPINGS).find(|&i| {
        MAP_START[i].compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed).is_ok() && {
            MAP_LEN[i].store(len, Ordering::Release);
            true
        }
    })
}

pub fn forget_mapping(slot: usize) {
    MAP_LEN[slot].store(0, Ordering::Release);
    MAP_START[slot].store(0, Ordering::Release);
}

/// Turns a SIGBUS in a mapped vault file into a one-line error and an exit code. keyward maps
/// large vault files (see `files::Contents`); another program truncating one while keyward reads
/// it raises SIGBUS at the first read past the new end, which would otherwise kill keyward with
/// no word. The vault itself is unchanged: it is only ever replaced by a rename, after the new
/// file is whole (a half-written temporary file is removed by the next write). Any other SIGBUS
/// (a fault elsewhere, `kill -BUS`) gets the default action, as if there were no handler.
pub fn catch_shrunk_files() {
    extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        const SAID: &[u8] =
            b"keyward: the vault file was cut short by another program while keyward read it \xe2\x80\x94 the vault was not changed; try again\n";
        // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
        let addr = unsafe { (*info).si_addr() } as usize;
        let ours = (0..MAPPINGS).any(|i| {
            let (len, start) = (MAP_LEN[i].load(Ordering::Acquire), MAP_START[i].load(Ordering::Acquire));
            len != 0 && addr >= start && addr - start < len
        });
        // SAFETY: write, _exit, signal and raise are async-signal-safe; the buffer is static.
        unsafe {
            if ours {
                libc::write(2, SAID.as_ptr().cast(), SAID.len());
                libc::_exit(SHRUNK_EXIT.load(Ordering::Relaxed));
            }
            libc::signal(libc::SIGBUS, libc::SIG_DFL);
            libc::raise(libc::SIGBUS);
        }
    }
    // SAFETY: a zeroed sigaction is valid (an empty mask once sigemptyset ran); the handler only
    // does what is async-signal-safe, and runs on the alternate stack where there is one (the
    // stack-overflow handler it replaces for SIGBUS did too).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction =
            on_sigbus as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&raw mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &raw const action, std::ptr::null_mut());
    }
}

/// The exit code [`catch_shrunk_files`] ends with (`exec` reports every failure of its own as
/// 125).
pub fn set_shrunk_file_exit(code: i32) {
    SHRUNK_EXIT.store(code, Ordering::Relaxed);
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
    /// In a child process (this test binary run again): a mapped file cut short under its
    /// mapping ends the process with the one-line error and exit 5, not a signal.
    #[test]
    fn a_file_cut_short_under_its_mapping_is_exit_5() {
        if let Some(mode) = std::env::var_os("KEYWARD_TEST_SIGBUS_CHILD") {
            super::catch_shrunk_files();
            if mode == "kill" {
                // SAFETY: raise has no preconditions.
                unsafe { libc::raise(libc::SIGBUS) };
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("vault.kw");
            std::fs::write(&path, vec![b'x'; 1 << 20]).unwrap();
            let map = crate::files::read_contents(std::fs::File::open(&path).unwrap(), 1 << 20).unwrap();
            std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(0).unwrap();
            let last = map[map.len() - 1];
            panic!("read {last} past the end of a truncated file");
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "hardening::tests::a_file_cut_short_under_its_mapping_is_exit_5", "--nocapture"])
            .env("KEYWARD_TEST_SIGBUS_CHILD", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{stderr}");
        assert!(stderr.contains("keyward: the vault file was cut short by another program"), "{stderr}");
        // Any other SIGBUS keeps its default action.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "hardening::tests::a_file_cut_short_under_its_mapping_is_exit_5", "--nocapture"])
            .env("KEYWARD_TEST_SIGBUS_CHILD", "kill")
            .output()
            .unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&out.status), Some(libc::SIGBUS));
    }

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

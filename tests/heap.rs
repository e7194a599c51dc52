//! The heap-leak test: no secret is freed without being wiped first.
//!
//! A global allocator that, while armed, scans every block it frees (and every block a
//! reallocation moves away from) for a set of sentinels: secret values (long and short) and
//! their encoded forms, the vault's data key, the audit secret, and the unlock code in
//! `KEYWARD_VAULT_KEY` with the key it decodes to. The
//! commands run in this process through `keyward::run`, as the binary runs them. A block freed
//! with a sentinel in it is a copy of a secret left in memory that the allocator hands to the next
//! caller (and that a core dump or a swapped page would show).
//!
//! Its own test binary: a global allocator applies to the whole process, and the commands read
//! the process environment and standard streams, which the other tests share.
//!
//! The exceptions the test cannot control are named in [`EXCEPTIONS`], each with the frame that
//! identifies it and the reason.

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

// ---------------------------------------------------------------- the scanning allocator

struct Scanning;

#[global_allocator]
static ALLOCATOR: Scanning = Scanning;

static ARMED: AtomicBool = AtomicBool::new(false);
/// The step running, for the report.
static STEP: AtomicUsize = AtomicUsize::new(0);
static SENTINELS: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
static FOUND: Mutex<Vec<Freed>> = Mutex::new(Vec::new());

thread_local! {
    /// Set while the allocator records a find: its own allocations are not scanned.
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}

/// A block freed with a sentinel in it.
struct Freed {
    step: usize,
    sentinel: &'static str,
    size: usize,
    backtrace: Backtrace,
}

fn scan(block: *mut u8, size: usize) {
    if !ARMED.load(Ordering::Relaxed) || RECORDING.with(Cell::get) {
        return;
    }
    let Some(sentinels) = SENTINELS.get() else { return };
    // SAFETY: the allocator is handed a live block of `size` bytes that it is about to free; the
    // bytes were written by its owner (blocks are only scanned once their owner is done with them).
    let bytes = unsafe { std::slice::from_raw_parts(block, size) };
    for (name, sentinel) in sentinels {
        if memchr::memmem::find(bytes, sentinel).is_some() {
            RECORDING.with(|r| r.set(true));
            let freed = Freed {
                step: STEP.load(Ordering::Relaxed),
                sentinel: name,
                size,
                backtrace: Backtrace::force_capture(),
            };
            FOUND.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(freed);
            RECORDING.with(|r| r.set(false));
            return;
        }
    }
}

// SAFETY: every call is passed on to the system allocator; `realloc` is alloc + copy + dealloc,
// which GlobalAlloc allows, so that the block a reallocation leaves behind is scanned too.
unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        scan(ptr, layout.size());
        // Every freed block is zeroed, scanned or not: a later owner that leaves part of its
        // block unwritten must not show an earlier owner's bytes (a value the harness read back,
        // an excused copy) as its own leak.
        // SAFETY: the block is live and `layout.size()` bytes long until it is freed below.
        unsafe { std::ptr::write_bytes(ptr, 0, layout.size()) };
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the new layout is valid (the caller guarantees new_size, rounded up to the
        // alignment, does not overflow).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as alloc.
        let new = unsafe { System.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live and at least min(old, new) bytes long, and distinct.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            // SAFETY: as dealloc.
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }
}

// ---------------------------------------------------------------- what the test cannot control

/// Copies made by code outside keyward that keyward cannot make wipe its buffers, each named by a
/// frame of the backtrace of the free and a reason.
const EXCEPTIONS: &[(&str, &str)] = &[(
    "std::sys::process",
    "std's Command copies the child's environment (injected values included) into its own map \
         and a C array of `VAR=value` strings, and frees them unwiped; the child gets the same \
         bytes in its own memory anyway",
)];

// ---------------------------------------------------------------- the commands

/// Long, with characters that percent-encoding and JSON escaping change.
const VALUE: &str = "HEAPSENTINEL-5b1e0d/value+abcdef&0123456789";
/// Short: the mask engine keeps values under 16 bytes in an Aho-Corasick automaton.
const SHORT: &str = "hpS7x/q9Zt";

struct Redirect {
    saved: [i32; 3],
}

impl Redirect {
    /// Points standard input at `stdin` and standard output and error at `log`.
    fn to(stdin: &Path, log: &Path) -> Redirect {
        let input = std::fs::File::open(stdin).unwrap();
        let output = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        // SAFETY: dup and dup2 on descriptors this process owns.
        unsafe {
            let saved = [libc::dup(0), libc::dup(1), libc::dup(2)];
            libc::dup2(input.as_raw_fd(), 0);
            libc::dup2(output.as_raw_fd(), 1);
            libc::dup2(output.as_raw_fd(), 2);
            Redirect { saved }
        }
    }
}

impl Drop for Redirect {
    fn drop(&mut self) {
        // SAFETY: restores the descriptors saved by `to`.
        unsafe {
            for (fd, saved) in self.saved.iter().enumerate() {
                libc::dup2(*saved, fd as i32);
                libc::close(*saved);
            }
        }
    }
}

struct Step {
    args: Vec<String>,
    stdin: String,
}

fn step(args: &[&str], stdin: &str) -> Step {
    Step { args: args.iter().map(|a| (*a).to_owned()).collect(), stdin: stdin.to_owned() }
}

/// Runs `keyward ARGS` in this process with `stdin` on standard input; panics unless it succeeds.
fn run(dir: &Path, index: usize, step: &Step, armed: bool) {
    let input = dir.join(format!("stdin-{index}"));
    std::fs::write(&input, &step.stdin).unwrap();
    let log = dir.join(format!("out-{index}"));
    let args: Vec<OsString> =
        std::iter::once("keyward").chain(step.args.iter().map(String::as_str)).map(OsString::from).collect();
    let code = {
        let _redirect = Redirect::to(&input, &log);
        STEP.store(index, Ordering::Relaxed);
        ARMED.store(armed, Ordering::SeqCst);
        let ending = keyward::run(args);
        ending.report();
        let code = ending.code();
        drop(ending);
        ARMED.store(false, Ordering::SeqCst);
        code
    };
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(code, 0, "keyward {}: exit {code}\n{out}", step.args.join(" "));
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KEYWARD_") {
            // SAFETY: single-threaded so far; nothing else reads the environment.
            unsafe { std::env::remove_var(k) };
        }
    }
    let vault = home.join("vault.kw");
    let recovery = dir.path().join("recovery.txt");
    // SAFETY: as above.
    unsafe {
        std::env::set_var("HOME", &home);
        std::env::set_var("XDG_DATA_HOME", home.join(".local/share"));
        std::env::set_var("XDG_CONFIG_HOME", home.join(".config"));
        std::env::set_var("XDG_STATE_HOME", home.join(".local/state"));
        std::env::set_var("KEYWARD_VAULT", &vault);
        std::env::remove_var("DBUS_SESSION_BUS_ADDRESS");
    }
    std::env::set_current_dir(&home).unwrap();
    let dir = dir.path();
    let second_recovery = dir.join("recovery-2.txt");
    let third_recovery = dir.join("recovery-3.txt");

    run(dir, 0, &step(&["init", "--keyring", "none", "--recovery-key-file", recovery.to_str().unwrap()], ""), false);
    let code = std::fs::read_to_string(&recovery).unwrap().trim().to_owned();
    // SAFETY: as above.
    unsafe { std::env::set_var("KEYWARD_VAULT_KEY", &code) };

    // The sentinels: the value and its base64 form (as the mask engine keeps it), the vault's
    // keys (the domain keys of format 2), the unlock code and the key it decodes to.
    let key = keyward::unlock::codes::parse(&code).expect("a recovery key");
    let locked = keyward::vault::Locked::read(&vault).unwrap();
    let mut credential = keyward::unlock::Credential::new(key);
    let opened = credential.open(&locked).expect("the key opens the vault");
    let code_key = keyward::unlock::codes::parse(&code).unwrap().secret.expose().to_vec();
    let opened_vault = locked.open(opened.key).unwrap();
    let data_key = opened_vault.backup_key().unwrap().expose().to_vec();
    let v2 = opened_vault.v2().expect("init makes format 2");
    let all_key = v2.domain_key("@all").unwrap().expose().expose().to_vec();
    let audit_secret =
        opened_vault.setting(keyward::audit::SECRET_SETTING).unwrap().expect("an audit secret").to_string();
    drop(opened_vault);
    SENTINELS
        .set(vec![
            ("the value", VALUE.as_bytes().to_vec()),
            ("the value in base64", data_encoding::BASE64.encode(VALUE.as_bytes()).into_bytes()),
            ("the value percent-encoded", keyward::mask::forms::percent_encode(VALUE).into_bytes()),
            ("the value JSON-escaped", r"HEAPSENTINEL-5b1e0d\/value+abcdef\u0026".as_bytes().to_vec()),
            ("the short value", SHORT.as_bytes().to_vec()),
            ("the default domain's key", data_key),
            ("the @all domain's key", all_key),
            ("the unlock code", code.clone().into_bytes()),
            ("the unlock code's key", code_key),
            ("the audit secret", audit_secret.into_bytes()),
        ])
        .unwrap_or_else(|_| unreachable!());

    let line = format!("a log line with {VALUE} and {SHORT} in it\n");
    // Files other tools left: a 1Password CSV export and a .env, imported (issue 21).
    let csv = dir.join("1password.csv");
    std::fs::write(&csv, format!("Title,Url,Username,Password,Notes\r\nHeap import,,,{VALUE},a note\r\n")).unwrap();
    let dotenv = dir.join("heap.env");
    std::fs::write(&dotenv, format!("HEAP_FROM_ENV=\"{VALUE}\"\n")).unwrap();
    let steps = [
        step(&["add", "heap/value", "--var", "HEAP_VALUE"], VALUE),
        step(&["add", "heap/short", "--var", "HEAP_SHORT"], SHORT),
        step(&["get", "heap/value"], ""),
        step(&["get", "-n", "heap/value", "--version", "current"], ""),
        step(&["list"], ""),
        step(&["exec", "--", "sh", "-c", "echo \"$HEAP_VALUE\""], ""),
        step(&["exec", "--no-mask", "--", "true"], ""),
        step(&["mask"], &line),
        step(&["mask", "--style", "label"], &line),
        step(&["export", "--format", "1password-csv", "--only", "heap/value"], ""),
        step(&["export", "--format", "dotenv", "--only", "heap/value"], ""),
        step(&["import", "--from", "1password", csv.to_str().unwrap()], ""),
        step(&["import", dotenv.to_str().unwrap()], ""),
        step(&["rotate", "heap/value", "--no-verify"], &format!("{VALUE}-next")),
        step(&["rotate", "heap/value", "--rollback", "--yes"], ""),
        step(&["key", "status"], ""),
        step(&["key", "token", "add", "ci"], ""),
        step(&["key", "token", "rm", "ci", "--yes"], ""),
        step(&["key", "passphrase", "--yes"], "a passphrase for the heap test\n"),
        step(&["key", "recovery", "--recovery-key-file", second_recovery.to_str().unwrap(), "--yes"], ""),
    ];
    for (i, s) in steps.iter().enumerate() {
        run(dir, i + 1, s, true);
    }
    // Re-keying last: it replaces the recovery key this process unlocks with.
    let rekey = step(&["key", "rotate", "--recovery-key-file", third_recovery.to_str().unwrap(), "--yes"], "");
    // SAFETY: as above.
    unsafe { std::env::set_var("KEYWARD_VAULT_KEY", std::fs::read_to_string(&second_recovery).unwrap().trim()) };
    run(dir, steps.len() + 1, &rekey, true);
    let steps: Vec<Step> = steps.into_iter().chain([rekey]).collect();

    let found = std::mem::take(&mut *FOUND.lock().unwrap());
    let mut failures = Vec::new();
    let mut excused = vec![0; EXCEPTIONS.len()];
    for freed in &found {
        let trace = freed.backtrace.to_string();
        if let Some(i) = EXCEPTIONS.iter().position(|(frame, _)| trace.contains(frame)) {
            excused[i] += 1;
            continue;
        }
        let args = steps[freed.step - 1].args.join(" ");
        failures.push(format!(
            "`keyward {args}` freed {} ({} bytes) unwiped:\n{}",
            freed.sentinel,
            freed.size,
            keyward_frames(&trace)
        ));
    }
    eprintln!("heap: {} commands scanned", steps.len());
    for ((frame, _), count) in EXCEPTIONS.iter().zip(&excused) {
        eprintln!("heap: {count} frees excused as {frame}");
    }
    if !failures.is_empty() {
        eprintln!("{}", failures.join("\n\n"));
        eprintln!("heap: {} unwiped frees of secrets", failures.len());
        std::process::exit(1);
    }
    eprintln!("heap: ok");
}

/// The frames of a backtrace worth reading: keyward's own, and the one just before the first.
fn keyward_frames(trace: &str) -> String {
    let lines: Vec<&str> = trace.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let is_frame = l.trim_start().chars().next().is_some_and(|c| c.is_ascii_digit());
        if is_frame && (l.contains("keyward::") || lines.get(i + 2).is_some_and(|n| n.contains("keyward::"))) {
            out.push(l.trim().to_owned());
            if let Some(at) = lines.get(i + 1).filter(|n| n.trim_start().starts_with("at ")) {
                out.push(format!("    {}", at.trim()));
            }
        }
    }
    out.join("\n")
}

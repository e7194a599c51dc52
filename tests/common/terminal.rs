//! A real pseudo-terminal for tests of what keyward does only when a person is at the keyboard
//! (the passphrase prompt): the child gets the terminal as its standard streams and as its
//! controlling terminal, so `/dev/tty` works, and the test types at it and reads what it shows.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Terminal {
    master: File,
    child: Child,
    /// Everything the terminal showed so far.
    pub screen: String,
    /// How much of `screen` earlier `expect`s matched.
    consumed: usize,
}

impl Terminal {
    pub(crate) fn spawn(cmd: Command) -> Terminal {
        Terminal::spawn_sized(cmd, 80, 24)
    }

    /// [`Terminal::spawn`] on a terminal of `columns` by `rows`.
    pub(crate) fn spawn_sized(mut cmd: Command, columns: u16, rows: u16) -> Terminal {
        let (mut master, mut slave) = (-1, -1);
        let size = libc::winsize { ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: two out-pointers to valid ints and a valid window size; no name, default settings.
        let rc = unsafe {
            libc::openpty(&raw mut master, &raw mut slave, std::ptr::null_mut(), std::ptr::null(), &raw const size)
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty returned two fresh descriptors that nothing else owns.
        let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // As in a login session: a test run started in the background of a script has
                // SIGINT and SIGQUIT ignored, and keyward (rightly) keeps ignored signals ignored.
                for signal in [libc::SIGINT, libc::SIGQUIT, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU, libc::SIGHUP] {
                    libc::signal(signal, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        // The command (and with it our copies of the slave side) is dropped once spawned, so the
        // master sees the end when the child exits.
        let child = cmd.spawn().expect("spawn on a terminal");
        Terminal { master, child, screen: String::new(), consumed: 0 }
    }

    /// Reads until the screen shows `text` after what earlier calls matched; panics with the
    /// screen after 30 s.
    pub(crate) fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(at) = self.screen[self.consumed..].find(text) {
                self.consumed += at + text.len();
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(self.read_some(left), "waited for {text:?}; the terminal showed: {:?}", self.screen);
        }
    }

    pub(crate) fn type_line(&mut self, line: &str) {
        self.master.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    /// Whether the terminal echoes what is typed (the child's settings outlive it).
    pub(crate) fn echoes(&self) -> bool {
        let mut t = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: a valid descriptor and room for one termios; Linux reports the terminal's
        // settings through its master side.
        assert_eq!(unsafe { libc::tcgetattr(self.master.as_raw_fd(), t.as_mut_ptr()) }, 0);
        // SAFETY: tcgetattr succeeded, so it filled the struct.
        let t = unsafe { t.assume_init() };
        t.c_lflag & libc::ECHO != 0
    }

    /// Types raw bytes (control characters included) at the terminal.
    pub(crate) fn type_bytes(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    /// Waits for the child and returns its status, reading whatever it still shows.
    pub(crate) fn finish(&mut self) -> (ExitStatus, String) {
        while self.read_some(Duration::from_secs(30)) {}
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.screen.clone());
            }
            assert!(Instant::now() < deadline, "the child did not exit; the terminal showed: {:?}", self.screen);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One read within `timeout`; false at the end (the child closed the terminal) or timeout.
    fn read_some(&mut self, timeout: Duration) -> bool {
        let mut pfd = libc::pollfd { fd: self.master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&raw mut pfd, 1, timeout.as_millis() as libc::c_int) };
        if n <= 0 {
            return false;
        }
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            // Linux reports EIO on the master once the last slave descriptor is closed.
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.screen.push_str(&String::from_utf8_lossy(&buf[..n]));
                true
            }
        }
    }
}

/// A test that fails half-way must not leave its child waiting at a prompt.
impl Drop for Terminal {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

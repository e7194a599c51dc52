//! Who and where: the host name (in keyring slot labels) and `user@host` (in audit entries and
//! notifications).

/// This machine's name, tamed for a slot label.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates or truncates.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = if rc == 0 { String::from_utf8_lossy(&buf[..end]).into_owned() } else { String::new() };
    tame_host(&name)
}

/// A host name as it goes into a slot label: letters, digits, `.`, `-` and `_`, at most 40.
pub(crate) fn tame_host(name: &str) -> String {
    let clean: String =
        name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(40).collect();
    if clean.is_empty() { "localhost".into() } else { clean }
}

/// `user@host`.
pub fn actor() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| {
        // SAFETY: getuid has no preconditions.
        format!("uid{}", unsafe { libc::getuid() })
    });
    format!("{}@{}", crate::sanitize::sanitize(&user), hostname())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_part_of_a_label_is_tame() {
        assert_eq!(tame_host("build-01.ci_pool.example"), "build-01.ci_pool.example");
        assert_eq!(tame_host("evil@host;rm -rf\n"), "evilhostrm-rf");
        assert_eq!(tame_host(&"h".repeat(64)), "h".repeat(40));
        assert_eq!(tame_host("\u{e9}@;"), "localhost");
        if let Ok(kernel) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            assert_eq!(hostname(), tame_host(kernel.trim_end()), "the name the kernel reports");
        }
        let host = hostname();
        assert!(!host.is_empty() && host.len() <= 40, "{host:?}");
        assert!(host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')), "{host:?}");
    }
}

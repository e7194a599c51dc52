//! Looking inside archives: zip (and jar, war, apk, whl, nupkg), tar, tar.gz and gzip. Each
//! member is handed to the scanner with its path inside the archive (`app.jar!config/app.yml`),
//! one nested archive deep. Bounded: a member larger than 64 MiB, more than 512 MiB out of one
//! archive, more than 100,000 members, or a member that inflates more than 200 times (a zip bomb)
//! is skipped and said so; nothing is ever extracted to disk.

use std::io::{self, Read, Seek};

/// A member larger than this is skipped.
pub const MAX_MEMBER: u64 = 64 << 20;
/// At most this much is read out of one archive, nested ones included.
pub const MAX_TOTAL: u64 = 512 << 20;
/// At most this many members of one archive are looked at.
pub const MAX_ENTRIES: usize = 100_000;
/// A member that inflates more than this many times its compressed size is a bomb.
pub const MAX_RATIO: u64 = 200;
/// An archive inside an archive is opened; one inside that is not.
pub const MAX_DEPTH: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Zip,
    Tar,
    TarGz,
    Gz,
}

/// The kind of archive a file name says it is.
#[must_use]
pub fn kind(name: &str) -> Option<Kind> {
    let lower = name.to_ascii_lowercase();
    let ends = |exts: &[&str]| exts.iter().any(|e| lower.ends_with(e));
    if ends(&[".zip", ".jar", ".war", ".ear", ".apk", ".whl", ".nupkg", ".1pux"]) {
        Some(Kind::Zip)
    } else if ends(&[".tar.gz", ".tgz"]) {
        Some(Kind::TarGz)
    } else if ends(&[".tar"]) {
        Some(Kind::Tar)
    } else if ends(&[".gz"]) {
        Some(Kind::Gz)
    } else {
        None
    }
}

/// What one archive yielded besides its members.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Members handed to the scanner, and their bytes.
    pub members: u64,
    pub bytes: u64,
    /// Why members were skipped, one line each.
    pub skipped: Vec<String>,
}

/// Counts what is read, and stops at a limit with an error the walk reports as "skipped".
struct Budget {
    left: u64,
}

struct Counted<'a, R> {
    inner: R,
    budget: &'a mut Budget,
    limit: u64,
    read: u64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit || n as u64 > self.budget.left {
            return Err(io::Error::other(Stop));
        }
        self.budget.left -= n as u64;
        Ok(n)
    }
}

/// The error a [`Counted`] reader stops with.
#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a limit was reached")
    }
}

impl std::error::Error for Stop {}

fn stopped(e: &io::Error) -> bool {
    e.get_ref().is_some_and(<dyn std::error::Error + Send + Sync>::is::<Stop>)
}

/// Reads `archive` (named `outer`, of `kind`) and calls `each(path inside, reader)` for every
/// regular member. `each` returns how many bytes it consumed.
/// A damaged archive is not an error: what was found before the damage is kept, and the damage
/// is one more skipped line.
pub fn walk<R: Read + Seek>(
    mut archive: R,
    kind: Kind,
    outer: &str,
    each: &mut dyn FnMut(&str, &mut dyn Read) -> io::Result<u64>,
) -> io::Result<Outcome> {
    let mut out = Outcome::default();
    let mut budget = Budget { left: MAX_TOTAL };
    let compressed = archive.seek(io::SeekFrom::End(0))?;
    archive.seek(io::SeekFrom::Start(0))?;
    // Everything a tar stream yields (headers, long names, skipped members) is counted too: at
    // most MAX_TOTAL, and at most MAX_RATIO times the file for a compressed one.
    let whole = |inner| Limited { inner, left: MAX_TOTAL.min(compressed.saturating_mul(MAX_RATIO).max(1 << 20)) };
    let result = match kind {
        Kind::Zip => zip_members(archive, outer, 1, &mut budget, each, &mut out),
        Kind::Tar => tar_members(Limited { inner: archive, left: MAX_TOTAL }, outer, 1, &mut budget, each, &mut out),
        Kind::TarGz => {
            tar_members(whole(flate2::read::MultiGzDecoder::new(archive)), outer, 1, &mut budget, each, &mut out)
        }
        Kind::Gz => {
            let inner = outer.strip_suffix(".gz").or_else(|| outer.strip_suffix(".GZ")).unwrap_or(outer);
            let name = format!("{outer}!{}", inner.rsplit('/').next().unwrap_or(inner));
            let decoder = flate2::read::MultiGzDecoder::new(archive);
            member(decoder, compressed, &name, MAX_MEMBER, 1, &mut budget, each, &mut out, None)
        }
    };
    if let Err(e) = result {
        let why = if stopped(&e) { "it inflates past its limits (a bomb?)".to_owned() } else { e.to_string() };
        out.skipped.push(format!("{outer}: the rest of it: {why}"));
    }
    Ok(out)
}

/// A reader that stops (with [`Stop`]) after `left` bytes.
struct Limited<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(io::Error::other(Stop));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// One member: scanned, or opened when it is itself an archive and depth allows.
#[allow(clippy::too_many_arguments)]
fn member(
    reader: impl Read,
    compressed: u64,
    path: &str,
    declared: u64,
    depth: u32,
    budget: &mut Budget,
    each: &mut dyn FnMut(&str, &mut dyn Read) -> io::Result<u64>,
    out: &mut Outcome,
    nested: Option<Kind>,
) -> io::Result<()> {
    if declared > MAX_MEMBER {
        out.skipped.push(format!("{path}: larger than 64 MiB"));
        return Ok(());
    }
    // The most this member may inflate to: its own limit, and 200 times its compressed size
    // (with room for small files, which compress well).
    let limit = MAX_MEMBER.min(compressed.saturating_mul(MAX_RATIO).max(1 << 20));
    let mut counted = Counted { inner: reader, budget, limit, read: 0 };
    if let (Some(kind), true) = (nested, depth < MAX_DEPTH) {
        let mut bytes = Vec::new();
        match counted.read_to_end(&mut bytes) {
            Ok(_) => {}
            Err(e) if stopped(&e) => {
                out.skipped.push(format!("{path}: inflates past its limits (a zip bomb?)"));
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let len = bytes.len() as u64;
        let cursor = io::Cursor::new(bytes);
        let inner = match kind {
            Kind::Zip => zip_members(cursor, path, depth + 1, counted.budget, each, out),
            Kind::Tar => tar_members(cursor, path, depth + 1, counted.budget, each, out),
            Kind::TarGz => {
                tar_members(flate2::read::MultiGzDecoder::new(cursor), path, depth + 1, counted.budget, each, out)
            }
            Kind::Gz => {
                let name = format!("{path}!{}", path.rsplit(['/', '!']).next().unwrap_or(path).trim_end_matches(".gz"));
                member(
                    flate2::read::MultiGzDecoder::new(cursor),
                    len,
                    &name,
                    MAX_MEMBER,
                    depth + 1,
                    counted.budget,
                    each,
                    out,
                    None,
                )
            }
        };
        return inner.or_else(|e| {
            out.skipped.push(format!("{path}: not a readable archive ({e})"));
            Ok(())
        });
    }
    if nested.is_some() {
        out.skipped.push(format!("{path}: an archive nested deeper than {MAX_DEPTH}"));
        return Ok(());
    }
    match each(path, &mut counted) {
        Ok(n) => {
            out.members += 1;
            out.bytes += n;
            Ok(())
        }
        Err(e) if stopped(&e) => {
            out.skipped.push(format!("{path}: inflates past its limits (a zip bomb?)"));
            Ok(())
        }
        Err(e) => {
            out.skipped.push(format!("{path}: {e}"));
            Ok(())
        }
    }
}

fn zip_members<R: Read + Seek>(
    archive: R,
    outer: &str,
    depth: u32,
    budget: &mut Budget,
    each: &mut dyn FnMut(&str, &mut dyn Read) -> io::Result<u64>,
    out: &mut Outcome,
) -> io::Result<()> {
    let mut zip = zip::ZipArchive::new(archive).map_err(io::Error::other)?;
    if zip.len() > MAX_ENTRIES {
        out.skipped.push(format!("{outer}: more than {MAX_ENTRIES} members"));
        return Ok(());
    }
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                out.skipped.push(format!("{outer}: member {i}: {e}"));
                continue;
            }
        };
        if !entry.is_file() {
            continue;
        }
        let inner = entry.name().map_or_else(|_| format!("member {i}"), std::borrow::Cow::into_owned);
        let name = format!("{outer}!{inner}");
        if entry.encrypted() {
            out.skipped.push(format!("{name}: encrypted"));
            continue;
        }
        let (declared, compressed) = (entry.size(), entry.compressed_size());
        let nested = kind(&inner);
        member(&mut entry, compressed, &name, declared, depth, budget, each, out, nested)?;
    }
    Ok(())
}

fn tar_members(
    archive: impl Read,
    outer: &str,
    depth: u32,
    budget: &mut Budget,
    each: &mut dyn FnMut(&str, &mut dyn Read) -> io::Result<u64>,
    out: &mut Outcome,
) -> io::Result<()> {
    let mut tar = tar::Archive::new(archive);
    for (i, entry) in tar.entries()?.enumerate() {
        if i >= MAX_ENTRIES {
            out.skipped.push(format!("{outer}: more than {MAX_ENTRIES} members"));
            break;
        }
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let inner = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let name = format!("{outer}!{inner}");
        let size = entry.size();
        let nested = kind(&inner);
        // Tar stores members as they are: the size is what will be read.
        member(&mut entry, size, &name, size, depth, budget, each, out, nested)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in files {
            zip.start_file(*name, options).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
        out.into_inner()
    }

    fn collect(bytes: Vec<u8>, kind: Kind, outer: &str) -> (Vec<(String, String)>, Outcome) {
        let mut seen = Vec::new();
        let outcome = walk(io::Cursor::new(bytes), kind, outer, &mut |path, r| {
            let mut text = String::new();
            r.read_to_string(&mut text)?;
            seen.push((path.to_owned(), text.clone()));
            Ok(text.len() as u64)
        })
        .unwrap();
        (seen, outcome)
    }

    #[test]
    fn members_come_with_their_path_and_nested_archives_open_once() {
        let inner = zip_of(&[("deep.env", b"KEY=inner")]);
        let outer = zip_of(&[("app/.env", b"KEY=outer"), ("lib/inner.zip", &inner)]);
        let (seen, outcome) = collect(outer, Kind::Zip, "dist/app.jar");
        assert_eq!(
            seen,
            [
                ("dist/app.jar!app/.env".to_owned(), "KEY=outer".to_owned()),
                ("dist/app.jar!lib/inner.zip!deep.env".to_owned(), "KEY=inner".to_owned())
            ]
        );
        assert_eq!(outcome.members, 2);
        // Three deep: the innermost is not opened, and that is said.
        let three = zip_of(&[("x.zip", &zip_of(&[("y.zip", &zip_of(&[("z.env", b"K=V")]))]))]);
        let (seen, outcome) = collect(three, Kind::Zip, "a.zip");
        assert!(seen.is_empty());
        assert!(outcome.skipped[0].contains("nested deeper"), "{:?}", outcome.skipped);
    }

    #[test]
    fn a_zip_bomb_is_skipped_not_inflated() {
        let bomb = zip_of(&[("zeros.txt", &vec![b'0'; 50 << 20])]);
        assert!(bomb.len() < 1 << 20, "it compresses well: {}", bomb.len());
        let (seen, outcome) = collect(bomb, Kind::Zip, "bomb.zip");
        assert!(seen.is_empty());
        assert!(outcome.skipped[0].contains("zip bomb"), "{:?}", outcome.skipped);
    }

    #[test]
    fn a_tar_gz_bomb_stops_at_the_whole_stream_limit_and_keeps_what_came_before() {
        let mut tar = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, data).unwrap();
        };
        add("first.env", b"TOKEN=found-before-the-bomb");
        add("zeros.bin", &vec![0u8; 40 << 20]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&tar.into_inner().unwrap()).unwrap();
        let tgz = gz.finish().unwrap();
        let (seen, outcome) = collect(tgz, Kind::TarGz, "bomb.tgz");
        assert_eq!(seen, [("bomb.tgz!first.env".to_owned(), "TOKEN=found-before-the-bomb".to_owned())]);
        assert!(outcome.skipped.iter().any(|s| s.contains("bomb")), "{:?}", outcome.skipped);
    }

    #[test]
    fn tar_gz_and_gz() {
        let mut tar = tar::Builder::new(Vec::new());
        let data = b"TOKEN=in-a-tarball";
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "etc/app.env", &data[..]).unwrap();
        let tar = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        let tgz = gz.finish().unwrap();
        let (seen, _) = collect(tgz, Kind::TarGz, "backup.tgz");
        assert_eq!(seen, [("backup.tgz!etc/app.env".to_owned(), "TOKEN=in-a-tarball".to_owned())]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"password=hunter2hunter2").unwrap();
        let (seen, _) = collect(gz.finish().unwrap(), Kind::Gz, "logs/app.log.gz");
        assert_eq!(seen, [("logs/app.log.gz!app.log".to_owned(), "password=hunter2hunter2".to_owned())]);
        assert_eq!(kind("X.TAR.GZ"), Some(Kind::TarGz));
        assert_eq!(kind("notes.txt"), None);
    }

    #[test]
    fn garbage_is_an_error_or_skipped_never_a_panic() {
        for kind in [Kind::Zip, Kind::Tar, Kind::TarGz, Kind::Gz] {
            let _ = walk(io::Cursor::new(b"PK\x03\x04garbage".to_vec()), kind, "x", &mut |_, r| {
                let mut sink = Vec::new();
                r.read_to_end(&mut sink).map(|n| n as u64)
            });
        }
    }
}

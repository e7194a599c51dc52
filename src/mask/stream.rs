//! Streaming: read blocks, mask, write blocks, with memory bounded by the block size whatever
//! the input (lines of any length included).
//!
//! Between blocks the reader keeps the last `lookahead` bytes unwritten, since a match may start
//! there and end in the next block; every match is at most that long. When the input has nothing
//! more to give right now (a `tail -f` upstream), everything up to the last newline is written
//! and flushed at once: no literal or pattern spans a newline, so that is safe, and interactive
//! use shows lines as they come without a write per line in bulk use.

use std::io::{self, Read, Write};
use std::os::fd::RawFd;

use zeroize::Zeroize;

use super::{Engine, Gates, Hits, Span, Window};

/// Bytes gathered before a block is masked and written.
pub const BLOCK: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Keep the lookahead back; more input is coming.
    Block,
    /// Input would block: write whole lines now.
    Lines,
    /// End of input: write everything.
    Eof,
}

/// What happens to each block once its spans are found: masking writes it out, scanning
/// reports the spans.
pub trait Sink {
    /// `hay[from..cut]` is final (`base` is the offset of `hay[0]` in the whole input, `eof`
    /// whether `hay` ends it); `spans` are the raw matches starting in it, unmerged. Returns how
    /// far the block was consumed (at most `cut`; less when a span must wait for the next block).
    fn block(&mut self, b: Block<'_>, spans: &mut Vec<Span>) -> io::Result<usize>;
    fn flush(&mut self) -> io::Result<()>;
}

/// One block handed to a [`Sink`].
#[derive(Clone, Copy)]
pub struct Block<'h> {
    pub hay: &'h [u8],
    pub from: usize,
    pub cut: usize,
    pub eof: bool,
    pub base: u64,
}

/// One stream's state: the buffer, what of it is done, and scratch space.
pub struct Stream<'e> {
    engine: &'e Engine,
    buf: Vec<u8>,
    filled: usize,
    /// The most of `buf` ever filled: what is wiped on drop (the rest was never written, and
    /// touching a megabyte of untouched pages would cost more than a small input's whole run).
    high: usize,
    emitted: usize,
    /// The offset of `buf[0]` in the whole input.
    base: u64,
    block: usize,
    lookahead: usize,
    /// The keyword gates and the PEM cursor at `emitted`.
    gates: Gates,
    hits: Hits,
    spans: Vec<Span>,
}

impl<'e> Stream<'e> {
    /// A stream that handles blocks of about `block` bytes.
    pub fn new(engine: &'e Engine, block: usize) -> Stream<'e> {
        Self::with_lookahead(engine, block, 0)
    }

    /// A stream that keeps at least `lookahead` bytes after a block's cut (a sink that looks
    /// further than the engine's matches).
    pub fn with_lookahead(engine: &'e Engine, block: usize, lookahead: usize) -> Stream<'e> {
        let lookahead = lookahead.max(engine.lookahead());
        // What is kept before the done point (keyword context, or a PEM line: less than the
        // lookahead), a block, and the lookahead after it.
        let cap = block + 2 * lookahead + engine.context() + 64;
        Stream {
            engine,
            buf: vec![0; cap],
            filled: 0,
            high: 0,
            emitted: 0,
            base: 0,
            block,
            lookahead,
            gates: engine.gates(),
            hits: Hits::default(),
            spans: Vec::new(),
        }
    }

    fn pending(&self) -> usize {
        self.filled - self.emitted
    }

    /// Reads once into the free space; returns the byte count (0 at end of input).
    fn fill(&mut self, reader: &mut dyn Read) -> io::Result<usize> {
        loop {
            match reader.read(&mut self.buf[self.filled..]) {
                Ok(n) => {
                    self.filled += n;
                    self.high = self.high.max(self.filled);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Finds the spans of what can be finished under `mode`, hands them to `sink`, then makes
    /// room.
    fn process(&mut self, mode: Cut, sink: &mut dyn Sink) -> io::Result<()> {
        let engine = self.engine;
        let hay = &self.buf[..self.filled];
        let emitted = self.emitted;
        let (cut, eof) = match mode {
            Cut::Eof => (self.filled, true),
            Cut::Block => (self.filled.saturating_sub(self.lookahead), false),
            Cut::Lines => match memchr::memrchr(b'\n', &hay[emitted..]) {
                Some(i) => (emitted + i + 1, false),
                None => return Ok(()),
            },
        };
        if cut <= emitted {
            return Ok(());
        }
        self.spans.clear();
        let window = Window { hay, from: emitted, until: cut, eof };
        engine.find(window, &self.gates, &mut self.hits, &mut self.spans);
        // Spans before the done point were handled with the previous block.
        self.spans.retain(|s| s.start >= emitted);
        let cut = sink.block(Block { hay, from: emitted, cut, eof, base: self.base }, &mut self.spans)?;
        engine.advance_gates(hay, emitted, cut, &self.hits, &mut self.gates);
        self.emitted = cut;
        // Keep only what the state still needs before the done point.
        let keep_from = engine.keep_from(self.emitted, &mut self.gates);
        if keep_from > 0 {
            self.buf.copy_within(keep_from..self.filled, 0);
            self.filled -= keep_from;
            self.emitted -= keep_from;
            self.base += keep_from as u64;
            for end in self.gates.armed.iter_mut().flatten() {
                *end = end.saturating_sub(keep_from);
            }
            self.gates.pem = self.gates.pem.shifted(keep_from);
        }
        Ok(())
    }
}

impl Drop for Stream<'_> {
    /// The buffer held the input, secrets and all (it was never reallocated: its size is fixed).
    fn drop(&mut self) {
        self.buf[..self.high].zeroize();
    }
}

/// The masking sink: merged spans replaced, the rest copied.
struct Masker<'e, 'w> {
    engine: &'e Engine,
    writer: &'w mut dyn Write,
    out: Vec<u8>,
}

impl Sink for Masker<'_, '_> {
    fn block(&mut self, b: Block<'_>, spans: &mut Vec<Span>) -> io::Result<usize> {
        let Block { hay, from, mut cut, .. } = b;
        Engine::merge(spans);
        // A span running past the cut is written next time, whole.
        if let Some(crossing) = spans.iter().position(|s| s.end > cut) {
            cut = spans[crossing].start;
            spans.truncate(crossing);
        }
        let mut pos = from;
        for s in spans.iter() {
            self.out.extend_from_slice(&hay[pos..s.start]);
            self.engine.replacement(s, &hay[s.start..s.end], &mut self.out);
            pos = s.end;
        }
        self.out.extend_from_slice(&hay[pos..cut]);
        self.writer.write_all(&self.out)?;
        self.out.clear();
        Ok(cut)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// Whether `fd` has input ready now (or is at end of file).
fn ready(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&raw mut pfd, 1, 0) };
    n != 0
}

/// Masks `reader` into `writer`. With `fd` (the reader's descriptor), output is flushed whenever
/// the next read would block.
pub fn mask_fd(engine: &Engine, reader: impl Read, writer: &mut dyn Write, fd: Option<RawFd>) -> io::Result<()> {
    let mut masker = Masker { engine, writer, out: Vec::with_capacity(BLOCK + 64) };
    run(Stream::new(engine, BLOCK), reader, &mut masker, fd)
}

/// Runs `reader` through the engine, handing every block's spans to `sink` (what `scan` uses).
/// `lookahead` is how far past a block's cut the sink needs to see.
pub fn find_spans(engine: &Engine, reader: impl Read, sink: &mut dyn Sink, lookahead: usize) -> io::Result<()> {
    run(Stream::with_lookahead(engine, BLOCK, lookahead), reader, sink, None)
}

fn run(mut stream: Stream<'_>, mut reader: impl Read, sink: &mut dyn Sink, fd: Option<RawFd>) -> io::Result<()> {
    loop {
        if stream.fill(&mut reader)? == 0 {
            stream.process(Cut::Eof, sink)?;
            return sink.flush();
        }
        if stream.pending() >= stream.block || stream.filled == stream.buf.len() {
            stream.process(Cut::Block, sink)?;
        }
        if let Some(fd) = fd
            && !ready(fd)
        {
            stream.process(Cut::Lines, sink)?;
            sink.flush()?;
        }
    }
}

/// Masks `reader` into `writer` (no interactive flushing).
pub fn mask(engine: &Engine, reader: impl Read, writer: &mut dyn Write) -> io::Result<()> {
    mask_fd(engine, reader, writer, None)
}

/// Masks input fed in arbitrary chunks with a tiny block size, so tests and the fuzzer exercise
/// block boundaries everywhere.
pub fn mask_chunks(engine: &Engine, chunks: &[&[u8]], block: usize, writer: &mut dyn Write) -> io::Result<()> {
    struct Chunks<'a> {
        chunks: &'a [&'a [u8]],
        at: usize,
        off: usize,
    }
    impl Read for Chunks<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            while let Some(c) = self.chunks.get(self.at) {
                if self.off < c.len() {
                    let n = buf.len().min(c.len() - self.off);
                    buf[..n].copy_from_slice(&c[self.off..self.off + n]);
                    self.off += n;
                    return Ok(n);
                }
                self.at += 1;
                self.off = 0;
            }
            Ok(0)
        }
    }
    let mut masker = Masker { engine, writer, out: Vec::new() };
    run(Stream::new(engine, block.max(1)), Chunks { chunks, at: 0, off: 0 }, &mut masker, None)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::mask::{KnownValue, Options, Style};

    const KNOWN: &str = "internal-known-value-0123";

    fn engine() -> Engine {
        let known = [KnownValue { name: "x", value: KNOWN, public_prefix: None }];
        Engine::build(&known, None, Options { style: Style::Full, min_length: 6, scan: false })
    }

    /// A writer that hands every write to a channel and counts flushes.
    struct Recorder {
        writes: mpsc::Sender<Vec<u8>>,
        flushes: usize,
    }

    impl Write for Recorder {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let _ = self.writes.send(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.flushes += 1;
            Ok(())
        }
    }

    #[test]
    fn a_paused_pipe_gets_its_whole_lines_at_once() {
        let (reader, mut upstream) = io::pipe().unwrap();
        let (tx, rx) = mpsc::channel();
        let masking = std::thread::spawn(move || {
            let fd = reader.as_raw_fd();
            let mut out = Recorder { writes: tx, flushes: 0 };
            mask_fd(&engine(), reader, &mut out, Some(fd)).map(|()| out.flushes)
        });
        upstream.write_all(format!("first {KNOWN} line\nsecond, unfinished").as_bytes()).unwrap();
        // The upstream is still open: the finished line must come out now, the rest must wait.
        let first = rx.recv_timeout(Duration::from_secs(10)).expect("the finished line was held back");
        assert_eq!(String::from_utf8(first).unwrap(), "first ******** line\n");
        upstream.write_all(b" line\n").unwrap();
        let second = rx.recv_timeout(Duration::from_secs(10)).expect("the second line was held back");
        assert_eq!(String::from_utf8(second).unwrap(), "second, unfinished line\n");
        drop(upstream);
        assert!(masking.join().unwrap().unwrap() >= 2);
    }

    #[test]
    fn input_that_is_always_ready_is_flushed_once() {
        // 3 MiB from a file, three blocks: a flush (and a write) per read would be the interactive
        // path taken for bulk input, and a write per few KiB a block size gone wrong.
        let line = format!("a log line with {KNOWN} in it\n");
        let mut file = tempfile::tempfile().unwrap();
        let lines = (3 << 20) / line.len();
        file.write_all(line.repeat(lines).as_bytes()).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        let (tx, rx) = mpsc::channel();
        let mut out = Recorder { writes: tx, flushes: 0 };
        mask_fd(&engine(), &file, &mut out, Some(file.as_raw_fd())).unwrap();
        assert_eq!(out.flushes, 1);
        drop(out);
        let written: Vec<Vec<u8>> = rx.iter().collect();
        assert!(written.len() <= 5, "{} writes for 3 MiB", written.len());
        let all = String::from_utf8(written.concat()).unwrap();
        assert_eq!(all, "a log line with ******** in it\n".repeat(lines));
    }

    /// A pipe gives 64 KiB a read: the blocks are still about a mebibyte each.
    #[test]
    fn short_reads_are_gathered_into_blocks() {
        struct Pipe<'a>(&'a [u8]);
        impl Read for Pipe<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(64 << 10);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let input = format!("a log line with {KNOWN} in it\n").repeat((3 << 20) / 40);
        let (tx, rx) = mpsc::channel();
        let mut out = Recorder { writes: tx, flushes: 0 };
        mask(&engine(), Pipe(input.as_bytes()), &mut out).unwrap();
        drop(out);
        let written: Vec<Vec<u8>> = rx.iter().collect();
        assert!(written.len() <= 5, "{} writes for 3 MiB read 64 KiB at a time", written.len());
        assert_eq!(String::from_utf8(written.concat()).unwrap(), input.replace(KNOWN, "********"));
    }

    /// Reads that are interrupted by a signal are retried, not taken for an error or the end.
    #[test]
    fn interrupted_reads_are_retried() {
        struct Flaky<'a>(&'a [u8], bool);
        impl Read for Flaky<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 = !self.1;
                if self.1 {
                    return Err(io::ErrorKind::Interrupted.into());
                }
                let n = buf.len().min(self.0.len()).min(5);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let input = format!("key {KNOWN} end\n");
        let mut out = Vec::new();
        mask(&engine(), Flaky(input.as_bytes(), false), &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "key ******** end\n");
    }

    #[test]
    fn read_and_write_errors_are_returned() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::ErrorKind::PermissionDenied.into())
            }
        }
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = mask(&engine(), Broken, &mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        let err = mask(&engine(), &b"some text\n"[..], &mut Broken).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }
}

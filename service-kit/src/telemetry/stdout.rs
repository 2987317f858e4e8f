//! Log lines to standard output without `std::io::Stdout`'s lock.
//!
//! `Stdout` serializes every writer on one process-wide lock, held through the `write(2)` of
//! each line: the threads of a busy server, each ending a request with its access line, queue on
//! it and sleep in the kernel (`futex`). A line is already whole when it is written (the fmt
//! layer formats it into its own buffer and writes it with one `write_all`), so the lock buys
//! nothing for the lines that one `write(2)` takes whole, which is every line up to `PIPE_BUF`
//! bytes on a pipe and any line on a file or a terminal. Such lines go straight to a duplicate of
//! the descriptor. A longer line could be split across several writes on a pipe; it takes a lock
//! that the short lines share (readers) and it excludes (writer), so no line lands inside it.

use std::{
    fs::File,
    io::{self, Write},
    os::fd::AsFd,
    sync::{PoisonError, RwLock},
};

use tracing_subscriber::fmt::MakeWriter;

/// The longest write the system guarantees whole on a pipe: `PIPE_BUF`, 4096 bytes on Linux;
/// elsewhere POSIX's least, 512 (macOS's).
#[cfg(target_os = "linux")]
const PIPE_BUF: usize = 4096;
#[cfg(not(target_os = "linux"))]
const PIPE_BUF: usize = 512;

/// Standard output, for the fmt layer (see the module).
#[derive(Debug)]
pub(crate) struct Stdout {
    file: Option<File>,
    /// Shared by lines up to `PIPE_BUF` bytes, exclusive for longer ones.
    long_lines: RwLock<()>,
}

impl Stdout {
    /// A duplicate of descriptor 1; when it cannot be made (no descriptor left), lines go
    /// through `std::io::stdout()` as before.
    pub(crate) fn new() -> Self {
        let file = io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map(File::from)
            .ok();
        Self {
            file,
            long_lines: RwLock::new(()),
        }
    }
}

/// One event's writer.
#[derive(Debug)]
pub(crate) struct Line<'a>(&'a Stdout);

impl Line<'_> {
    /// `write` on the descriptor, holding the lock as a line of `len` bytes must; on standard
    /// output when there is no descriptor of our own.
    fn locked<R>(&self, len: usize, write: impl FnOnce(&mut dyn Write) -> R) -> R {
        let Some(mut file) = self.0.file.as_ref() else {
            return write(&mut io::stdout());
        };
        let lock = &self.0.long_lines;
        if len <= PIPE_BUF {
            let _shared = lock.read().unwrap_or_else(PoisonError::into_inner);
            write(&mut file)
        } else {
            let _alone = lock.write().unwrap_or_else(PoisonError::into_inner);
            write(&mut file)
        }
    }
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.locked(buf.len(), |w| w.write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.locked(buf.len(), |w| w.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Stdout {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line(self)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// Lines written by several threads at once, short and long, each arrive whole.
    #[test]
    fn concurrent_lines_arrive_whole() {
        let (mut reader, writer) = io::pipe().unwrap();
        let out = Stdout {
            file: Some(File::from(std::os::fd::OwnedFd::from(writer))),
            long_lines: RwLock::new(()),
        };
        let lines: Vec<String> = (0..8)
            .map(|t| {
                let len = if t % 2 == 0 { 100 } else { 3 * PIPE_BUF };
                format!("{}\n", char::from(b'a' + t).to_string().repeat(len))
            })
            .collect();
        let reading = std::thread::spawn(move || {
            let mut all = String::new();
            reader.read_to_string(&mut all).unwrap();
            all
        });
        std::thread::scope(|s| {
            for line in &lines {
                let out = &out;
                s.spawn(move || {
                    for _ in 0..50 {
                        out.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                });
            }
        });
        drop(out);
        let all = reading.join().unwrap();
        assert_eq!(all.lines().count(), 8 * 50);
        for got in all.lines() {
            let first = got.chars().next().unwrap();
            assert!(got.chars().all(|c| c == first), "a line was split");
            assert!(lines.iter().any(|l| l.trim_end() == got), "{}", got.len());
        }
    }
}

//! JSONL: a streaming reader with precise errors, a crash-safe appender, an atomic writer.
//!
//! The reader holds one line at a time (bounded by a configurable limit, 64 MiB by default), skips
//! blank lines, accepts CRLF endings and a UTF-8 byte-order mark, and reports errors with the
//! file, the 1-based line and serde's path to the field. [`ReadMode::Strict`] stops at the first
//! bad line; [`ReadMode::Lenient`] skips bad lines, counts them and keeps their errors.
//!
//! The appender writes each record with one `write` call and flushes it, so a killed process
//! loses at most the record being written. If a previous run died mid-record, the partial
//! last line is moved to `<file>.partial` (never discarded) before appending.

use crate::error::DataError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// How a reader treats a bad line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// Stop at the first bad line with its error.
    #[default]
    Strict,
    /// Skip bad lines; their errors are kept for a report at the end.
    Lenient,
}

/// A line the lenient reader skipped.
#[derive(Debug)]
pub struct BadLine {
    /// 1-based line number.
    pub line: usize,
    /// Why it was skipped.
    pub error: DataError,
}

/// Default longest line, in bytes.
const DEFAULT_MAX_LINE: usize = 64 << 20;

/// Streams records of type `T` from a JSONL file, one line in memory at a time.
pub struct JsonlReader<T> {
    path: PathBuf,
    reader: BufReader<File>,
    line: usize,
    mode: ReadMode,
    max_line: usize,
    buf: Vec<u8>,
    bad: Vec<BadLine>,
    done: bool,
    _record: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonlReader<T> {
    /// Opens a file.
    pub fn open(path: impl AsRef<Path>, mode: ReadMode) -> Result<Self, DataError> {
        let path = path.as_ref().to_owned();
        let file = File::open(&path).map_err(DataError::io(&path))?;
        Ok(Self {
            path,
            reader: BufReader::with_capacity(1 << 16, file),
            line: 0,
            mode,
            max_line: DEFAULT_MAX_LINE,
            buf: Vec::new(),
            bad: Vec::new(),
            done: false,
            _record: PhantomData,
        })
    }

    /// Sets the longest line accepted, in bytes.
    #[must_use]
    pub fn with_max_line_bytes(mut self, max: usize) -> Self {
        self.max_line = max;
        self
    }

    /// The lines skipped so far (lenient mode).
    pub fn bad_lines(&self) -> &[BadLine] {
        &self.bad
    }

    /// Consumes the reader, returning the skipped lines.
    pub fn into_bad_lines(self) -> Vec<BadLine> {
        self.bad
    }

    /// Reads the next raw line into `self.buf`; false at end of file.
    fn read_line(&mut self) -> Result<bool, DataError> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = self.reader.fill_buf().map_err(DataError::io(&self.path))?;
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, end) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if self.buf.len() + take > self.max_line + 2 {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.reader.consume(take);
            if end {
                break;
            }
        }
        if !any {
            return Ok(false);
        }
        self.line += 1;
        if too_long {
            return Err(DataError::LineTooLong {
                path: self.path.clone(),
                line: self.line,
                limit: self.max_line,
            });
        }
        Ok(true)
    }

    fn parse(&self) -> Result<Option<T>, DataError> {
        let mut bytes = self.buf.as_slice();
        if self.line == 1 {
            bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        }
        let text = std::str::from_utf8(bytes).map_err(|e| DataError::InvalidUtf8 {
            path: self.path.clone(),
            line: self.line,
            byte: e.valid_up_to(),
        })?;
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            return Ok(None);
        }
        let de = &mut serde_json::Deserializer::from_str(text);
        let record = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            DataError::Json {
                path: self.path.clone(),
                line: self.line,
                field,
                source: e.into_inner(),
            }
        })?;
        Ok(Some(record))
    }
}

impl<T: DeserializeOwned> Iterator for JsonlReader<T> {
    /// The 1-based line number and the record.
    type Item = Result<(usize, T), DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let parsed = match self.read_line() {
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Ok(true) => self.parse(),
                Err(e) => Err(e),
            };
            match parsed {
                Ok(Some(record)) => return Some(Ok((self.line, record))),
                Ok(None) => {}
                Err(e @ DataError::Io { .. }) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Err(e) if self.mode == ReadMode::Lenient => self.bad.push(BadLine {
                    line: self.line,
                    error: e,
                }),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// Reads a whole JSONL file: the records and, in lenient mode, the skipped lines.
pub fn read_jsonl<T: DeserializeOwned>(
    path: impl AsRef<Path>,
    mode: ReadMode,
) -> Result<(Vec<T>, Vec<BadLine>), DataError> {
    let mut reader = JsonlReader::open(path, mode)?;
    let mut records = Vec::new();
    for item in reader.by_ref() {
        records.push(item?.1);
    }
    Ok((records, reader.into_bad_lines()))
}

/// Appends records to a JSONL file, one flushed line per record.
#[derive(Debug)]
pub struct JsonlAppender {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
}

impl JsonlAppender {
    /// Opens (or creates) a file for appending. A partial last line left by a crash is moved
    /// to `<file>.partial` first, so every line of the file stays a whole record.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref().to_owned();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(DataError::io(&path))?;
        Self::set_aside_partial_line(&path, &mut file)?;
        Ok(Self {
            path,
            file,
            buf: Vec::new(),
        })
    }

    fn set_aside_partial_line(path: &Path, file: &mut File) -> Result<(), DataError> {
        let io = |e| DataError::io(path)(e);
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Ok(());
        }
        // Scan back for the last newline, a block at a time.
        let mut end = len;
        let mut tail_start = None;
        let mut block = vec![0u8; 8192];
        while end > 0 && tail_start.is_none() {
            let start = end.saturating_sub(block.len() as u64);
            let n = (end - start) as usize;
            file.seek(SeekFrom::Start(start)).map_err(io)?;
            file.read_exact(&mut block[..n]).map_err(io)?;
            if start + n as u64 == len && block[n - 1] == b'\n' {
                return Ok(());
            }
            if let Some(i) = block[..n].iter().rposition(|&b| b == b'\n') {
                tail_start = Some(start + i as u64 + 1);
            }
            end = start;
        }
        let tail_start = tail_start.unwrap_or(0);
        let mut tail = Vec::new();
        file.seek(SeekFrom::Start(tail_start)).map_err(io)?;
        file.read_to_end(&mut tail).map_err(io)?;
        let partial = PathBuf::from(format!("{}.partial", path.display()));
        let mut side = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&partial)
            .map_err(DataError::io(&partial))?;
        tail.push(b'\n');
        side.write_all(&tail).map_err(DataError::io(&partial))?;
        side.sync_all().map_err(DataError::io(&partial))?;
        file.set_len(tail_start).map_err(io)?;
        Ok(())
    }

    /// Appends one record as one line and flushes it to the operating system.
    pub fn append<T: Serialize>(&mut self, record: &T) -> Result<(), DataError> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, record).map_err(|source| DataError::Json {
            path: self.path.clone(),
            line: 0,
            field: ".".into(),
            source,
        })?;
        self.buf.push(b'\n');
        self.file
            .write_all(&self.buf)
            .and_then(|()| self.file.flush())
            .map_err(DataError::io(&self.path))
    }

    /// Forces what was appended onto the disk (survives power loss, not only a killed process).
    pub fn sync(&self) -> Result<(), DataError> {
        self.file.sync_data().map_err(DataError::io(&self.path))
    }
}

/// Writes a whole JSONL file atomically: a temporary file beside it, synced, then renamed over it.
pub fn write_jsonl_atomic<'a, T, I>(path: impl AsRef<Path>, records: I) -> Result<(), DataError>
where
    T: Serialize + 'a,
    I: IntoIterator<Item = &'a T>,
{
    let path = path.as_ref();
    crate::atomic::write_atomic(path, |out| {
        for r in records {
            serde_json::to_writer(&mut *out, r).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })
}

//! `--write-streams DIR`: each direction's reassembled payload in its own file, named as
//! tcpflow names them (`127.000.000.001.59144-127.000.000.001.00025` holds what
//! 127.0.0.1:59144 sent to port 25), so the files are interchangeable with tcpflow's.
//!
//! Gaps are left as holes at their stream offset (sparse, read back as zero bytes, exactly
//! as tcpflow does), and listed beside the file in `NAME.gaps`, one `offset length` per line.
//! A second connection on the same 4-tuple gets a `c2`, `c3`, … suffix.
//!
//! At most `MAX_OPEN` files are open at once; the least recently written is closed and
//! reopened at its offset when needed, so a capture with a million concurrent connections
//! does not run out of file descriptors.

use crate::session::GapRecord;
use crate::types::Endpoint;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

const MAX_OPEN: usize = 256;

/// One direction's output file.
#[derive(Debug)]
pub struct StreamFile {
    pub name: String,
    key: u64,
    /// Stream offset the file has been written (or skipped) up to.
    end: u64,
    /// Where the file handle's cursor is, if it is open.
    pub gaps: Vec<GapRecord>,
}

pub struct StreamDir {
    dir: PathBuf,
    open: HashMap<u64, (BufWriter<File>, u64)>,
    lru: VecDeque<u64>,
    names: HashSet<String>,
    next_key: u64,
}

fn ip_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{:03}.{:03}.{:03}.{:03}", o[0], o[1], o[2], o[3])
        }
        IpAddr::V6(v6) => v6
            .segments()
            .iter()
            .map(|s| format!("{s:04x}"))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

fn endpoint_name(e: Endpoint) -> String {
    format!("{}.{:05}", ip_name(e.ip), e.port)
}

impl StreamDir {
    pub fn new(dir: &Path) -> io::Result<StreamDir> {
        std::fs::create_dir_all(dir)?;
        Ok(StreamDir {
            dir: dir.to_path_buf(),
            open: HashMap::new(),
            lru: VecDeque::new(),
            names: HashSet::new(),
            next_key: 0,
        })
    }

    pub fn path_of(&self, file: &StreamFile) -> PathBuf {
        self.dir.join(&file.name)
    }

    /// A new output file for the bytes `from` sent to `to`; nothing is created until the
    /// first write or the close.
    pub fn stream(&mut self, from: Endpoint, to: Endpoint) -> StreamFile {
        let base = format!("{}-{}", endpoint_name(from), endpoint_name(to));
        let mut name = base.clone();
        let mut n = 1;
        while !self.names.insert(name.clone()) {
            n += 1;
            name = format!("{base}c{n}");
        }
        self.next_key += 1;
        StreamFile {
            name,
            key: self.next_key,
            end: 0,
            gaps: Vec::new(),
        }
    }

    fn handle(&mut self, file: &StreamFile) -> io::Result<&mut (BufWriter<File>, u64)> {
        if !self.open.contains_key(&file.key) {
            while self.open.len() >= MAX_OPEN {
                let Some(victim) = self.lru.pop_front() else {
                    break;
                };
                if let Some((mut w, _)) = self.open.remove(&victim) {
                    w.flush()?;
                }
            }
            let path = self.dir.join(&file.name);
            let f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(file.end == 0)
                .open(path)?;
            self.open
                .insert(file.key, (BufWriter::with_capacity(16 * 1024, f), 0));
            self.lru.push_back(file.key);
        }
        self.open
            .get_mut(&file.key)
            .ok_or_else(|| io::Error::other("stream file vanished"))
    }

    /// Writes bytes at stream offset `offset` (reassembly delivers them in order).
    pub fn write(&mut self, file: &mut StreamFile, offset: u64, data: &[u8]) -> io::Result<()> {
        let (w, pos) = self.handle(file)?;
        if *pos != offset {
            w.seek(SeekFrom::Start(offset))?;
        }
        w.write_all(data)?;
        *pos = offset + data.len() as u64;
        file.end = file.end.max(*pos);
        Ok(())
    }

    /// Records a hole: the next write lands after it.
    pub fn gap(&mut self, file: &mut StreamFile, offset: u64, len: u64) {
        file.gaps.push(GapRecord { offset, len });
        file.end = file.end.max(offset + len);
    }

    /// Flushes and closes the file (creating it if nothing was ever written), sizes it to
    /// cover a trailing gap, and writes the `.gaps` list when there were gaps.
    pub fn close(&mut self, file: &mut StreamFile) -> io::Result<()> {
        let end = file.end;
        let (w, _) = self.handle(file)?;
        w.flush()?;
        if w.get_ref().metadata()?.len() < end {
            w.get_ref().set_len(end)?;
        }
        self.open.remove(&file.key);
        self.lru.retain(|k| *k != file.key);
        if !file.gaps.is_empty() {
            let mut list = String::new();
            for g in &file.gaps {
                list.push_str(&format!("{} {}\n", g.offset, g.len));
            }
            std::fs::write(self.dir.join(format!("{}.gaps", file.name)), list)?;
        }
        Ok(())
    }
}

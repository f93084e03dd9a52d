//! Segment files: records of `u32 length | u32 crc32c | entry`, appended in order.
//!
//! Reading stops at the first record that is not whole and intact. If nothing but zeros follows
//! that record (a write cut short by a crash: the "torn tail"), it can be cut away; a bad
//! record with more data after it is damage, never silently skipped.
//!
//! The writer preallocates the segment it appends to by writing zeros ahead of its records, so
//! that a sync flushes data only (the file's size and block map do not change with every batch).
//! A record is never empty, so a zero length where a record would start is the end of the
//! records: everything from there to the end of the file must then be zeros, or it is damage
//! (a zero run with data after it is never skipped over). A closed or rotated segment has no
//! zero tail.

/// The name of the first segment file in a ledger directory.
pub const SEGMENT: &str = "segment-00000000.log";

/// The name of segment `n`.
pub fn name(n: u32) -> String {
    format!("segment-{n:08}.log")
}

/// The segment files of a ledger directory, in order.
pub fn list(dir: &std::path::Path) -> Vec<(u32, std::path::PathBuf)> {
    let mut out: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let n = e.file_name().into_string().ok()?;
                    let num = n
                        .strip_prefix("segment-")?
                        .strip_suffix(".log")?
                        .parse()
                        .ok()?;
                    Some((num, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Every segment of a directory read in order.
#[derive(Debug)]
pub struct Loaded {
    /// Intact entries, across segments.
    pub entries: Vec<Vec<u8>>,
    /// The last segment (number, path, bytes up to its last intact record), if any.
    pub last: Option<(u32, std::path::PathBuf, u64)>,
    /// What follows the last intact record of the last segment.
    pub tail: Tail,
}

/// Reads all segments into memory. Only the last may end in a torn record; damage anywhere is
/// reported. For whole-log passes prefer [`visit`], which holds one segment at a time.
pub fn load(dir: &std::path::Path) -> Result<Loaded, String> {
    let mut entries = Vec::new();
    let end = visit(dir, |_, bytes| {
        entries.push(bytes.to_vec());
        Ok(())
    })?;
    Ok(Loaded {
        entries,
        last: end.last,
        tail: end.tail,
    })
}

/// How a log ends, after [`visit`].
#[derive(Debug)]
pub struct End {
    /// Intact records, across segments.
    pub entries: u64,
    /// The last segment (number, path, bytes up to its last intact record), if any.
    pub last: Option<(u32, std::path::PathBuf, u64)>,
    /// What follows the last intact record of the last segment.
    pub tail: Tail,
}

/// Calls `f(index, record)` for every intact record, in order, holding one segment in memory at a
/// time (memory does not grow with the log). Only the last segment may end in a torn record;
/// damage anywhere, or an error from `f`, stops the walk.
pub fn visit(
    dir: &std::path::Path,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), String>,
) -> Result<End, String> {
    let segments = list(dir);
    let mut count = 0u64;
    let mut last = None;
    let mut tail = Tail::Clean;
    for (i, (n, path)) in segments.iter().enumerate() {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let s = scan(&data);
        for e in &s.entries {
            f(count, e)?;
            count += 1;
        }
        let is_last = i + 1 == segments.len();
        match (&s.tail, is_last) {
            (Tail::Clean, _) => {}
            (Tail::Torn, true) => tail = Tail::Torn,
            (Tail::Torn, false) => {
                return Err(format!(
                    "{}: ends in an incomplete record but later segments exist",
                    path.display()
                ));
            }
            (Tail::Damaged(what), _) => return Err(format!("{}: {what}", path.display())),
        }
        if is_last {
            last = Some((*n, path.clone(), s.good_len));
        }
    }
    Ok(End {
        entries: count,
        last,
        tail,
    })
}

/// Frames an entry as a record.
pub fn frame(entry: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(entry.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(entry).to_be_bytes());
    out.extend_from_slice(entry);
}

/// What reading a segment found.
#[derive(Debug)]
pub struct Scan<'a> {
    /// Intact records, in order.
    pub entries: Vec<&'a [u8]>,
    /// Byte offset just past the last intact record.
    pub good_len: u64,
    /// What follows the intact records, if anything.
    pub tail: Tail,
}

/// What follows the intact records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// Nothing: the file ends after the last record.
    Clean,
    /// An incomplete last record (a crash during a write): safe to cut.
    Torn,
    /// A complete record whose checksum is wrong, or a length that cannot be right, with data
    /// after it: damage or tampering.
    Damaged(String),
}

fn zeros(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// Splits a segment into records.
pub fn scan(data: &[u8]) -> Scan<'_> {
    let mut at = 0usize;
    let mut entries = Vec::new();
    // Each `break` names what follows the intact records, which end at `at`.
    let tail = loop {
        let rest = &data[at..];
        if zeros(rest) {
            // The end of the file, or of the records in a preallocated one.
            break Tail::Clean;
        }
        if rest.len() < 8 {
            break Tail::Torn;
        }
        let len = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_be_bytes(rest[4..8].try_into().expect("4 bytes"));
        let n = entries.len();
        if len == 0 {
            break Tail::Damaged(format!(
                "record {n} at byte {at}: zero length with data after it"
            ));
        }
        if len > super::entry::MAX_ENTRY {
            break Tail::Damaged(format!(
                "record {n} at byte {at}: length {len} is over the limit"
            ));
        }
        if rest.len() < 8 + len {
            break Tail::Torn;
        }
        let body = &rest[8..8 + len];
        if crc32c::crc32c(body) != crc {
            break if zeros(&rest[8 + len..]) {
                // The last record, complete but with a bad checksum: a torn write too.
                Tail::Torn
            } else {
                Tail::Damaged(format!("record {n} at byte {at}: checksum mismatch"))
            };
        }
        entries.push(body);
        at += 8 + len;
    };
    Scan {
        entries,
        good_len: at as u64,
        tail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tails_and_damage_are_told_apart() {
        let mut data = Vec::new();
        for e in [&b"one"[..], b"two", b"three"] {
            frame(e, &mut data);
        }
        let s = scan(&data);
        assert_eq!((s.entries.len(), s.tail.clone()), (3, Tail::Clean));
        for cut in 0..data.len() {
            let s = scan(&data[..cut]);
            assert!(matches!(s.tail, Tail::Torn | Tail::Clean), "cut {cut}");
        }
        // A preallocated file: zeros after the records end them; a torn record before the
        // zeros is still torn; a zero run with data after it is damage, never skipped.
        let mut padded = data.clone();
        padded.resize(data.len() + 4096, 0);
        let s = scan(&padded);
        assert_eq!((s.entries.len(), s.good_len), (3, data.len() as u64));
        assert_eq!(s.tail, Tail::Clean);
        for cut in 0..data.len() {
            let mut torn = data[..cut].to_vec();
            torn.resize(data.len() + 4096, 0);
            let s = scan(&torn);
            assert!(matches!(s.tail, Tail::Torn | Tail::Clean), "cut {cut}");
        }
        let mut gap = padded.clone();
        gap.extend_from_slice(&data);
        assert!(matches!(scan(&gap).tail, Tail::Damaged(_)));
        let mut flipped = data.clone();
        flipped[9] ^= 1; // inside the first record's body
        assert!(matches!(scan(&flipped).tail, Tail::Damaged(_)));
    }
}

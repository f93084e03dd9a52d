//! Where a disclosure's data-subject hashes go. Up to
//! [`MAX_INLINE_SUBJECTS`](super::entry::MAX_INLINE_SUBJECTS) stay in the `end` entry (sorted);
//! more go to a content-addressed side file `subjects/<sha256>.bin` beside the log, whose digest
//! the entry records. The hashes are spilled to that file while the body streams, so memory stays
//! bounded however many people one body is about.
//!
//! Ending takes two steps. [`SubjectSpill::seal`] writes what is still held and gives the
//! digest — what the `end` entry needs — without waiting for the disk; [`SideFile::commit`] then
//! syncs the file and gives it its name, and only after that may the entry be written. A body
//! about a million people has a 32 MB side file, and its sync is no business of the thread that
//! sends the body's last bytes: the disclosure commits it on a blocking thread.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use super::entry::MAX_INLINE_SUBJECTS;

/// Held in memory before a spill to disk.
const SPILL_AT: usize = 4096;

/// Where a disclosure's subjects ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Few enough to sit in the entry (sorted).
    Inline(Vec<[u8; 32]>),
    /// In `subjects/<digest>.bin`, in the order they appeared.
    Side {
        /// SHA-256 of the file.
        digest: [u8; 32],
        /// How many hashes it holds.
        count: u64,
    },
}

/// Collects one disclosure's subject hashes, spilling to a temporary file past [`SPILL_AT`].
pub struct SubjectSpill {
    dir: PathBuf,
    held: Vec<[u8; 32]>,
    file: Option<(File, PathBuf)>,
    hash: Option<ring::digest::Context>,
    count: u64,
}

impl std::fmt::Debug for SubjectSpill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubjectSpill")
            .field("held", &self.held.len())
            .field("spilled", &self.count)
            .finish_non_exhaustive()
    }
}

impl SubjectSpill {
    /// Spills into `dir` (the ledger's `subjects` directory).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            held: Vec::new(),
            file: None,
            hash: None,
            count: 0,
        }
    }

    /// Adds hashes; writes what is held to the side file once there is enough of it.
    pub fn push(&mut self, subjects: Vec<[u8; 32]>) -> std::io::Result<()> {
        if self.held.is_empty() {
            self.held = subjects;
        } else {
            self.held.extend_from_slice(&subjects);
        }
        if self.held.len() >= SPILL_AT {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> std::io::Result<()> {
        if self.file.is_none() {
            std::fs::create_dir_all(&self.dir)?;
            let tmp = self.dir.join(format!(
                "partial-{}-{:016x}.tmp",
                std::process::id(),
                rand_u64()
            ));
            self.file = Some((File::create(&tmp)?, tmp));
            self.hash = Some(ring::digest::Context::new(&ring::digest::SHA256));
        }
        let bytes = self.held.concat();
        let (file, _) = self.file.as_mut().expect("just created");
        file.write_all(&bytes)?;
        self.hash.as_mut().expect("with the file").update(&bytes);
        self.count += self.held.len() as u64;
        self.held.clear();
        Ok(())
    }

    /// Adds the last hashes and settles where they all are: inline, or in a side file whose
    /// digest is known and which still has to be [committed](SideFile::commit) (synced and
    /// named) before an entry may cite it.
    pub fn seal(mut self, rest: Vec<[u8; 32]>) -> std::io::Result<(Stored, Option<SideFile>)> {
        self.held.extend_from_slice(&rest);
        if self.file.is_none() && self.held.len() <= MAX_INLINE_SUBJECTS {
            let mut inline = std::mem::take(&mut self.held);
            inline.sort_unstable();
            return Ok((Stored::Inline(inline), None));
        }
        self.spill()?;
        let (file, tmp) = self.file.take().expect("spilled");
        let digest: [u8; 32] = self
            .hash
            .take()
            .expect("with the file")
            .finish()
            .as_ref()
            .try_into()
            .expect("32 bytes");
        let dest = self
            .dir
            .join(format!("{}.bin", sluice_policy::hex::hex(&digest)));
        let stored = Stored::Side {
            digest,
            count: self.count,
        };
        let side = SideFile {
            file,
            tmp,
            dest,
            named: false,
        };
        Ok((stored, Some(side)))
    }

    /// [`seal`](Self::seal) and [`commit`](SideFile::commit) in one.
    #[cfg(test)]
    fn finish(self, rest: Vec<[u8; 32]>) -> std::io::Result<Stored> {
        let (stored, side) = self.seal(rest)?;
        if let Some(side) = side {
            side.commit()?;
        }
        Ok(stored)
    }
}

/// A sealed side file: written, its digest known, not yet synced or named. Dropped uncommitted,
/// it removes itself.
#[derive(Debug)]
pub struct SideFile {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
    named: bool,
}

impl SideFile {
    /// Syncs the file and gives it its content-addressed name; an entry may cite it afterwards.
    pub fn commit(mut self) -> std::io::Result<()> {
        self.file.sync_all()?;
        std::fs::rename(&self.tmp, &self.dest)?;
        self.named = true;
        Ok(())
    }
}

impl Drop for SideFile {
    fn drop(&mut self) {
        if !self.named {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl Drop for SubjectSpill {
    fn drop(&mut self) {
        // An abandoned disclosure (aborted, dropped) leaves no partial file behind.
        if let Some((_, tmp)) = self.file.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> (PathBuf, super::super::scratch::Scratch) {
        super::super::scratch::scratch("spill", name)
    }

    /// `n` distinct hashes: each one's number in its first four bytes.
    fn numbered(n: u32) -> Vec<[u8; 32]> {
        (0..n)
            .map(|i| {
                let mut h = [0u8; 32];
                h[..4].copy_from_slice(&i.to_le_bytes());
                h
            })
            .collect()
    }

    #[test]
    fn few_subjects_stay_inline_and_sorted() {
        let (d, _cleanup) = scratch("inline");
        let mut s = SubjectSpill::new(d.clone());
        s.push(vec![[3; 32], [1; 32]]).unwrap();
        assert_eq!(
            s.finish(vec![[2; 32]]).unwrap(),
            Stored::Inline(vec![[1; 32], [2; 32], [3; 32]])
        );
        assert!(!d.exists(), "no file for inline subjects");
    }

    #[test]
    fn many_subjects_stream_to_a_content_addressed_file() {
        let (d, _cleanup) = scratch("side");
        let all = numbered(10_000);
        let mut s = SubjectSpill::new(d.clone());
        for chunk in all[..9_000].chunks(1000) {
            s.push(chunk.to_vec()).unwrap();
            assert!(s.held.len() < SPILL_AT, "memory stays bounded");
        }
        let Stored::Side { digest, count } = s.finish(all[9_000..].to_vec()).unwrap() else {
            panic!("expected a side file");
        };
        assert_eq!(count, 10_000);
        let bytes = all.concat();
        assert_eq!(
            digest.as_slice(),
            ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref()
        );
        let name = sluice_policy::hex::hex(&digest);
        assert_eq!(std::fs::read(d.join(format!("{name}.bin"))).unwrap(), bytes);
        let leftovers = std::fs::read_dir(&d).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left");
    }

    /// The sync of a large side file held the thread serving the body before its last bytes
    /// went out; sealing now gives the digest the entry needs without it, and the file is named
    /// only once committed.
    #[test]
    fn sealing_gives_the_digest_before_the_file_is_synced_and_named() {
        let (d, _cleanup) = scratch("seal");
        let all = numbered(SPILL_AT as u32 + 100);
        let mut s = SubjectSpill::new(d.clone());
        s.push(all[..SPILL_AT].to_vec()).unwrap();
        let (stored, side) = s.seal(all[SPILL_AT..].to_vec()).unwrap();
        let Stored::Side { digest, count } = stored else {
            panic!("expected a side file");
        };
        assert_eq!(count, all.len() as u64);
        let bytes = all.concat();
        assert_eq!(
            digest.as_slice(),
            ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref()
        );
        let named = d.join(format!("{}.bin", sluice_policy::hex::hex(&digest)));
        let names = || -> Vec<String> {
            std::fs::read_dir(&d)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        };
        assert!(!named.exists(), "not named before it is committed");
        assert!(names()[0].starts_with("partial-"), "{:?}", names());
        side.expect("a side file to commit").commit().unwrap();
        assert_eq!(std::fs::read(&named).unwrap(), bytes);
        assert_eq!(names().len(), 1, "the partial file became the named one");
    }

    #[test]
    fn a_sealed_file_dropped_uncommitted_leaves_nothing() {
        let (d, _cleanup) = scratch("sealed-dropped");
        let mut s = SubjectSpill::new(d.clone());
        s.push(vec![[7; 32]; SPILL_AT]).unwrap();
        let (_, side) = s.seal(Vec::new()).unwrap();
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        drop(side);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
    }

    #[test]
    fn inline_subjects_have_nothing_to_commit() {
        let (d, _cleanup) = scratch("seal-inline");
        let (stored, side) = SubjectSpill::new(d.clone())
            .seal(vec![[2; 32], [1; 32]])
            .unwrap();
        assert_eq!(stored, Stored::Inline(vec![[1; 32], [2; 32]]));
        assert!(side.is_none());
        assert!(!d.exists());
    }

    #[test]
    fn an_abandoned_spill_leaves_nothing() {
        let (d, _cleanup) = scratch("abandoned");
        let mut s = SubjectSpill::new(d.clone());
        s.push(vec![[7; 32]; SPILL_AT]).unwrap();
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        drop(s);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
    }
}

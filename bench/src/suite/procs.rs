//! The processes of a bench run — the mock API, nginx, sluice — started (optionally pinned to a
//! core with `taskset`), measured through `/proc` (CPU seconds, peak RSS) and stopped.
//!
//! A target may be several processes (nginx's master and worker), so measurements sum over the
//! process and its children. Peak RSS is reset between scenarios (`/proc/PID/clear_refs` ← 5), so
//! each scenario reports its own peak.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A started process, stopped when dropped: asked with SIGTERM first (nginx's master then stops
/// its workers, sluice drains and closes its ledger), killed if still running after two seconds.
#[derive(Debug)]
pub struct Proc {
    /// What it is, for messages.
    pub name: String,
    child: Child,
}

/// Starts `program args`, pinned to `core` when given; stdout is piped so the caller can read a
/// ready line, stderr goes to `log`.
pub fn start(
    name: &str,
    program: &Path,
    args: &[&str],
    core: Option<usize>,
    log: &Path,
) -> Result<Proc, String> {
    let mut command = match core {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", &c.to_string()]).arg(program);
            cmd
        }
        None => Command::new(program),
    };
    let log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let child = command
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("{name}: cannot start {}: {e}", program.display()))?;
    Ok(Proc {
        name: name.to_string(),
        child,
    })
}

impl Proc {
    /// Kills the process with SIGKILL, no warning: for checks of what a crash leaves behind.
    pub fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process id (with `taskset`, `exec` keeps it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads stdout until a line starting with `prefix`; returns the rest of that line.
    pub fn wait_line(&mut self, prefix: &str) -> Result<String, String> {
        let stdout = self
            .child
            .stdout
            .take()
            .ok_or_else(|| format!("{}: stdout already read", self.name))?;
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.map_err(|e| format!("{}: {e}", self.name))?;
            if let Some(rest) = line.strip_prefix(prefix) {
                // Keep draining stdout so the process never blocks on a full pipe.
                std::thread::spawn(move || lines.for_each(drop));
                return Ok(rest.trim().to_string());
            }
        }
        Err(format!("{}: exited before printing {prefix:?}", self.name))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Already gone (and reaped now): its pid may belong to someone else soon; no signal.
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SIGKILL alone would orphan nginx's worker, which then keeps its port and its CPU.
        let asked = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if asked {
            for _ in 0..100 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something accepts TCP connections on `address`.
pub fn wait_port(address: &str, name: &str) -> Result<(), String> {
    for _ in 0..200 {
        if std::net::TcpStream::connect(address).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("{name}: nothing listens on {address} after 10 s"))
}

/// A free loopback port (bound and released; good enough on a quiet machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `pid` and its descendants.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let p = all[i];
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")) {
            all.extend(
                text.split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
        i += 1;
    }
    all
}

/// CPU seconds (user + system) used so far by `pid` and its descendants.
pub fn cpu_seconds(pid: u32) -> f64 {
    // /proc/PID/stat counts in USER_HZ ticks, 100 per second on Linux.
    const USER_HZ: f64 = 100.0;
    tree(pid)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .map(|stat| {
            // Fields after the command name (which may contain spaces) start at ") ".
            let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
            (ticks(11) + ticks(12)) / USER_HZ
        })
        .sum()
}

/// Peak resident memory (VmHWM) of `pid` and its descendants, in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    tree(pid)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .sum::<f64>()
        / 1024.0
}

/// Current resident memory (VmRSS) of `pid` and its descendants, in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    tree(pid)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .sum::<f64>()
        / 1024.0
}

/// Resets the peak RSS of `pid` and its descendants to their current RSS.
pub fn reset_peak_rss(pid: u32) {
    for p in tree(pid) {
        let _ = std::fs::write(format!("/proc/{p}/clear_refs"), "5");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Running, not a zombie (an orphan's parent may never reap it in a container).
    fn running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| Some(s.rsplit_once(") ")?.1.starts_with('Z')))
            .is_some_and(|zombie| !zombie)
    }

    #[test]
    fn stopping_a_process_lets_it_stop_its_children() {
        // A parent that stops its child on SIGTERM, as nginx's master stops its workers.
        let dir = std::env::temp_dir().join(format!("sluice-bench-procs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = "sleep 300 & c=$!; trap 'kill $c; exit 0' TERM; echo \"child $c\"; wait";
        let mut parent = start(
            "tree",
            Path::new("sh"),
            &["-c", script],
            None,
            &dir.join("log"),
        )
        .unwrap();
        let child: u32 = parent.wait_line("child ").unwrap().parse().unwrap();
        assert!(running(child));
        drop(parent);
        let stopped = (0..250).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !running(child)
        });
        if !stopped {
            let _ = Command::new("kill")
                .args(["-KILL", &child.to_string()])
                .status();
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(stopped, "the child {child} outlived its stopped parent");
    }
}

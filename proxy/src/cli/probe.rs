//! `sluice probe ADDRESS [PATH]`: a health probe for images without curl or a shell.
//!
//! It sends one plain HTTP/1.1 `GET` to the admin listener (loopback, no TLS) and exits 0 when the
//! answer is `200`, 1 otherwise. The container image's `HEALTHCHECK` and the systemd unit's
//! `ExecStartPost` use it; Kubernetes probes call the admin port directly.

use super::Failure;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    /// The admin listener's address, e.g. 127.0.0.1:9090.
    address: SocketAddr,
    /// The path to ask for.
    #[arg(default_value = "/livez")]
    path: String,
    /// Give up after this many milliseconds.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
}

pub(crate) fn run(args: ProbeArgs) -> Result<(), Failure> {
    match probe(&args) {
        Ok(200) => Ok(()),
        Ok(status) => {
            eprintln!("probe {}{}: status {status}", args.address, args.path);
            Err(Failure::Failed)
        }
        Err(e) => {
            eprintln!("probe {}{}: {e}", args.address, args.path);
            Err(Failure::Failed)
        }
    }
}

fn probe(args: &ProbeArgs) -> std::io::Result<u16> {
    if !args.path.starts_with('/') || args.path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(std::io::Error::other(
            "the path must start with / and hold no spaces",
        ));
    }
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let mut stream = TcpStream::connect_timeout(&args.address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        args.path, args.address
    )?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    while !head.contains(&b'\n') && head.len() < 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let status = std::str::from_utf8(line)
        .ok()
        .and_then(|l| {
            l.strip_prefix("HTTP/1.1 ")
                .or_else(|| l.strip_prefix("HTTP/1.0 "))
        })
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok());
    status.ok_or_else(|| std::io::Error::other("the answer is not an HTTP/1.x status line"))
}

//! A throwaway PostgreSQL cluster on loopback, for the demo, the tests and the bench: `initdb` into
//! a directory, a server on a free loopback port (password authentication, optionally TLS),
//! stopped and its directory removed when dropped. Never for production: the data is deleted and
//! durability is off (`fsync=off`).
//!
//! It needs PostgreSQL's server programs (Debian: `apt-get install postgresql`;
//! [`server_programs`] finds them). As root the server runs as the `postgres` account the package
//! creates (PostgreSQL refuses to run as root).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The administrator's name in every throwaway cluster.
pub const ADMIN: &str = "sluice_admin";
/// The administrator's password.
pub const ADMIN_PASSWORD: &str = "admin-pw-for-tests";

/// A running throwaway cluster.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    /// The loopback port it listens on.
    pub port: u16,
    tls: Option<(PathBuf, PathBuf)>,
    client_ca: Option<PathBuf>,
    child: Option<Child>,
}

/// The directory of PostgreSQL's server programs (`initdb`, `postgres`, `pg_isready`): `PG_BIN`,
/// else the newest `/usr/lib/postgresql/*/bin`.
pub fn server_programs() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// `program` run as the server's user (the `postgres` account when running as root).
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ]);
        c.arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn chown_to_server_user(path: &Path) -> Result<(), String> {
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!("chown {} to postgres failed", path.display()));
        }
    }
    Ok(())
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> String {
    let path = path.display().to_string();
    let what = what.to_string();
    move |e| format!("{what} {path}: {e}")
}

impl Cluster {
    /// Creates and starts a cluster in `dir` (emptied first). With `tls`, the server also accepts
    /// TLS with that certificate and key (PEM files, copied into the cluster).
    pub fn start(dir: &Path, tls: Option<(&Path, &Path)>) -> Result<Self, String> {
        Self::start_with(dir, tls, None)
    }

    /// As [`start`](Self::start), and with `client_ca` every role but the administrator must
    /// connect over TLS presenting a client certificate that CA signed (`clientcert=verify-ca`),
    /// besides its password.
    pub fn start_requiring_client_certificates(
        dir: &Path,
        tls: (&Path, &Path),
        client_ca: &Path,
    ) -> Result<Self, String> {
        Self::start_with(dir, Some(tls), Some(client_ca))
    }

    fn start_with(
        dir: &Path,
        tls: Option<(&Path, &Path)>,
        client_ca: Option<&Path>,
    ) -> Result<Self, String> {
        let bin = server_programs().ok_or(
            "PostgreSQL's server programs are not installed (no /usr/lib/postgresql/*/bin/initdb, no PG_BIN): apt-get install postgresql",
        )?;
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, format!("{ADMIN_PASSWORD}\n")).map_err(io("writing", &pwfile))?;
        let tls = match tls {
            None => None,
            Some((cert, key)) => {
                use std::os::unix::fs::PermissionsExt;
                let (c, k) = (dir.join("server.crt"), dir.join("server.key"));
                std::fs::copy(cert, &c).map_err(io("copying", cert))?;
                std::fs::copy(key, &k).map_err(io("copying", key))?;
                std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600))
                    .map_err(io("restricting", &k))?;
                Some((c, k))
            }
        };
        chown_to_server_user(dir)?;
        let out = as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args([
                "-U",
                ADMIN,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut client_ca_file = None;
        if let Some(ca) = client_ca {
            let copy = dir.join("client-ca.pem");
            std::fs::copy(ca, &copy).map_err(io("copying", ca))?;
            let hba = dir.join("data/pg_hba.conf");
            std::fs::write(
                &hba,
                format!(
                    "hostnossl all {ADMIN} 127.0.0.1/32 scram-sha-256\n\
                     hostssl   all {ADMIN} 127.0.0.1/32 scram-sha-256\n\
                     hostssl   all all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca\n"
                ),
            )
            .map_err(io("writing", &hba))?;
            chown_to_server_user(dir)?;
            client_ca_file = Some(copy);
        }
        let mut cluster = Cluster {
            dir: dir.to_path_buf(),
            bin,
            port: free_port()?,
            tls,
            client_ca: client_ca_file,
            child: None,
        };
        cluster.resume()?;
        Ok(cluster)
    }

    /// Starts the server again (after [`stop`](Self::stop)) on the same port and data.
    pub fn resume(&mut self) -> Result<(), String> {
        if self.child.is_some() {
            return Ok(());
        }
        let mut cmd = as_server_user(&self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.dir.display()))
            .args(["-c", "fsync=off", "-c", "max_connections=50"]);
        if let Some((cert, key)) = &self.tls {
            cmd.args(["-c", "ssl=on"])
                .arg("-c")
                .arg(format!("ssl_cert_file={}", cert.display()))
                .arg("-c")
                .arg(format!("ssl_key_file={}", key.display()));
        }
        if let Some(ca) = &self.client_ca {
            cmd.arg("-c").arg(format!("ssl_ca_file={}", ca.display()));
        }
        let log_path = self.dir.join("server.log");
        let log = std::fs::File::create(&log_path).map_err(io("creating", &log_path))?;
        chown_to_server_user(&log_path)?;
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting postgres: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return Err(format!(
                    "postgres exited ({status}): {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                ));
            }
            if Instant::now() > deadline {
                return Err("postgres did not become ready in 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (fast shutdown), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs `sql` as `user` with `password` (psql, on the database `db`).
    pub fn psql_as(
        &self,
        user: &str,
        password: &str,
        db: &str,
        sql: &str,
    ) -> Result<Output, String> {
        let psql = [self.bin.join("psql"), PathBuf::from("/usr/bin/psql")]
            .into_iter()
            .find(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("psql"));
        Command::new(psql)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                user,
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ])
            .env("PGPASSWORD", password)
            .output()
            .map_err(|e| format!("running psql: {e}"))
    }

    /// Runs `sql` as the administrator (on the database `db`); its output, or psql's error.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = self.psql_as(ADMIN, ADMIN_PASSWORD, db, sql)?;
        if !out.status.success() {
            return Err(format!(
                "psql {sql}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Creates database `db` owned by a new role `user` with `password`.
    pub fn database(&self, db: &str, user: &str, password: &str) -> Result<(), String> {
        self.psql(
            "postgres",
            &format!("CREATE ROLE {user} LOGIN PASSWORD '{password}'"),
        )?;
        self.psql("postgres", &format!("CREATE DATABASE {db} OWNER {user}"))?;
        Ok(())
    }

    /// `postgresql://USER@127.0.0.1:PORT/DB?sslmode=disable`.
    pub fn url(&self, user: &str, db: &str) -> String {
        format!(
            "postgresql://{user}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

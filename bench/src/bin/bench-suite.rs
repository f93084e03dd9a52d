//! `bench-suite`: runs every bench scenario against every target in one run and writes
//! `bench/results/<date>-<commit>.{md,json,svg}`. Usually started by `bench/run.sh`, which builds
//! the binaries, installs nginx when it can and pins this process to the load generator's core.
//!
//! ```text
//! bench-suite [--seconds 5] [--rounds 1] [--proxy-core 0] [--stream-mib 1024] [--profile]
//!             [--out bench/results] [--targets nginx,sluice-reference] [--scenarios '1 KiB h1,NDJSON']
//!             [--sluice target/pgo/sluice] [--candidate /tmp/other/sluice]
//! ```
//!
//! `--rounds N` measures each scenario N times, the targets in turn within each round, and sums
//! the rounds (the per-round ratios of sluice-reference to nginx, and of export on to off, go
//! into the notes).
//!
//! `--sluice` measures another build of sluice than `target/release/sluice` (`bench/run.sh --pgo`
//! passes the profile-guided build the container image ships).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use sluice_bench::suite::{self, markdown, targets};
use sluice_bench::{arg, arg_opt};

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    Some(String::from_utf8_lossy(&text).trim().to_string())
}

fn machine(nginx: Option<&Path>) -> Vec<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut m = vec![
        format!(
            "CPU: {model}; {} logical cores online; {mem_gib:.0} GiB memory",
            output("nproc", &["--all"]).unwrap_or_else(|| cores.to_string())
        ),
        format!("kernel: {}", output("uname", &["-sr"]).unwrap_or_default()),
        format!(
            "rustc: {}",
            output("rustc", &["--version"]).unwrap_or_default()
        ),
    ];
    if let Some(n) = nginx {
        m.push(format!(
            "nginx: {}",
            output(&n.display().to_string(), &["-v"]).unwrap_or_default()
        ));
    }
    m
}

/// Profiles `pid` for `seconds` with `perf record` (software clock: hardware counters are often
/// unavailable on these machines) while `during` runs; returns the top of `perf report`.
async fn profile<F: std::future::Future>(
    pid: u32,
    seconds: f64,
    dir: &Path,
    during: F,
) -> (Option<String>, F::Output) {
    let data = dir.join("perf.data");
    let recorder = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-F", "999", "-g", "-o"])
        .arg(&data)
        .args(["-p", &pid.to_string(), "--", "sleep", &format!("{seconds}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let out = during.await;
    let Ok(mut recorder) = recorder else {
        return (None, out);
    };
    if !recorder.wait().is_ok_and(|s| s.success()) {
        return (None, out);
    }
    // Where the time goes by thread and library first (the flat symbol list alone hides that
    // the kernel's network stack and the ledger's fsyncs are most of it), then the top symbols.
    let report = |sort: &str, lines: usize| {
        Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "-g",
                "none",
                "--percent-limit",
                "1",
            ])
            .args(["--sort", sort, "-i"])
            .arg(&data)
            .output()
            .ok()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                    .take(lines)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    let by_dso = report("comm,dso", 12);
    let by_sym = report("comm,sym", 25);
    let text = format!("by thread and library:\n{by_dso}\n\ntop symbols:\n{by_sym}");
    ((!by_dso.is_empty()).then_some(text), out)
}

/// `--help`.
const USAGE: &str = "Runs every bench scenario against every target on loopback and writes bench/results/<date>-<commit>.{md,json,svg}.

Usage: bench-suite [--seconds 5] [--rounds 1] [--proxy-core 0] [--stream-mib 1024] [--profile]
                   [--out bench/results] [--targets nginx,sluice-reference]
                   [--scenarios '1 KiB h1,NDJSON'] [--sluice PATH] [--candidate PATH]

--rounds N measures each scenario N times, the targets in turn within each round, and sums the
rounds: on a machine whose speed drifts, the targets a ratio compares are then measured within one
round of each other. The notes give sluice-reference ÷ nginx and sluice-otel ÷ sluice-reference
round by round.

--candidate PATH adds sluice-candidate: sluice-reference's configuration run by the build at PATH,
measured in every round right after sluice-reference, with sluice-candidate ÷ sluice-reference
round by round in the notes: an A/B of two builds that the machine's drift cannot tilt.

Usually started by bench/run.sh (builds, installs nginx, pins cores).";

fn main() -> ExitCode {
    if sluice_bench::help_requested(USAGE) {
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-suite: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf();
    // Optional filters: run only the targets / scenarios whose names contain these words.
    let only = |flag: &str| -> Vec<String> {
        arg_opt(flag)
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    };
    let (only_targets, only_scenarios) = (only("--targets"), only("--scenarios"));
    let chosen = |filter: &[String], name: &str| {
        filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()))
    };
    let seconds: f64 = arg("--seconds", "5")
        .parse()
        .map_err(|_| "--seconds: expected a number")?;
    let rounds: u32 = arg("--rounds", "1")
        .parse()
        .ok()
        .filter(|&n| n >= 1)
        .ok_or("--rounds: expected a whole number of at least 1")?;
    let stream_mib: u64 = arg("--stream-mib", "1024")
        .parse()
        .map_err(|_| "--stream-mib: expected a whole number")?;
    let core: Option<usize> = arg_opt("--proxy-core")
        .map(|c| {
            c.parse()
                .map_err(|_| "--proxy-core: expected a core number")
        })
        .transpose()?;
    let out_dir = PathBuf::from(arg(
        "--out",
        &root.join("bench/results").display().to_string(),
    ));
    let want_profile = std::env::args().any(|a| a == "--profile");
    let bin = |name: &str| root.join("target/release").join(name);
    let custom = sluice_bench::arg_opt("--sluice");
    let sluice = custom
        .as_ref()
        .map(PathBuf::from)
        .unwrap_or_else(|| bin("sluice"));
    if !sluice.exists() {
        return Err(format!(
            "{}: missing (cargo build --release -p sluice)",
            sluice.display()
        ));
    }

    let candidate = sluice_bench::arg_opt("--candidate").map(PathBuf::from);
    if let Some(c) = candidate.as_ref().filter(|c| !c.exists()) {
        return Err(format!("--candidate {}: missing", c.display()));
    }

    let (mut setup, mock) = targets::prepare("bench", &root.join("target/release"), core)?;
    setup.sluice = sluice;
    let dir = setup.dir.clone();
    let mut notes = Vec::new();
    let nginx_bin = targets::nginx_binary();
    let mut all = vec![targets::direct(&setup, mock.pid())];
    match &nginx_bin {
        Some(b) => all.push(targets::nginx(&setup, b)?),
        None => notes.push(
            "nginx is not installed (bench/run.sh installs it when run as root): no nginx column."
                .to_string(),
        ),
    }
    all.push(targets::sluice(
        &setup,
        "sluice-passthrough",
        "passthrough-policy.toml",
    )?);
    all.push(targets::sluice(
        &setup,
        "sluice-reference",
        "reference-policy.toml",
    )?);
    if let Some(c) = &candidate {
        all.push(targets::sluice_candidate(&setup, c)?);
    }
    // sluice-reference with telemetry exported over OTLP: the cost of export on.
    let (sink, exported) = suite::otlp_sink::start()?;
    all.push(targets::sluice_otel(&setup, sink)?);
    let otel_named = only_targets.iter().any(|f| f == "sluice-otel");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut scenarios = suite::scenarios(stream_mib);
    scenarios.retain(|s| chosen(&only_scenarios, s.name));
    for scenario in &mut scenarios {
        scenario.body_bytes = runtime.block_on(suite::body_length(&setup, &all[0], scenario))?;
    }
    let mut rows: Vec<suite::Row> = Vec::new();
    for scenario in &scenarios {
        // Export on is compared with export off where the fixed cost per request shows: small
        // bodies, unless asked for by name.
        let targets: Vec<&targets::Target> = all
            .iter()
            .filter(|t| t.name == "sluice-candidate" || chosen(&only_targets, t.name))
            .filter(|t| t.name != "sluice-otel" || otel_named || scenario.name.starts_with("1 KiB"))
            .collect();
        // Round by round, every target in turn: a machine whose speed drifts within minutes
        // drifts under all of them alike, and the per-round ratios show how far it moved.
        let mut summed: Vec<Option<suite::Row>> = vec![None; targets.len()];
        let mut per_round = Vec::new();
        for round in 1..=rounds {
            for (target, sum) in targets.iter().zip(&mut summed) {
                // Warm up connections, caches and the proxy's pools before measuring.
                if scenario.count.is_none() {
                    runtime.block_on(suite::measure(
                        &setup,
                        target,
                        scenario,
                        seconds.min(1.0) / 2.0,
                    ))?;
                }
                let row = runtime.block_on(suite::measure(&setup, target, scenario, seconds))?;
                if rounds > 1 {
                    println!("round {round}/{rounds}: {}", suite::line(&row));
                }
                match sum {
                    Some(s) => s.absorb(&row),
                    None => *sum = Some(row.clone()),
                }
                per_round.push((round, row));
            }
        }
        if rounds > 1 {
            notes.extend(suite::round_spread(
                scenario.name,
                &per_round,
                "sluice-reference",
                "nginx",
            ));
            notes.extend(suite::round_spread(
                scenario.name,
                &per_round,
                "sluice-candidate",
                "sluice-reference",
            ));
            // Export on ÷ off: the telemetry issue's bar, round by round.
            notes.extend(suite::round_spread(
                scenario.name,
                &per_round,
                "sluice-otel",
                "sluice-reference",
            ));
        }
        for row in summed.into_iter().flatten() {
            println!("{}", suite::line(&row));
            rows.push(row);
        }
    }

    // Telemetry export on ÷ off, per scenario both ran.
    for on in rows.iter().filter(|r| r.target == "sluice-otel") {
        if let Some(off) = rows
            .iter()
            .find(|r| r.target == "sluice-reference" && r.scenario == on.scenario)
        {
            notes.push(format!(
                "Telemetry export cost, {}: sluice-otel {:.1} µs CPU/request ÷ sluice-reference {:.1} = {:.3} (OTLP/HTTP to an in-process sink, {} bytes exported in the run).",
                on.scenario,
                on.cpu_us_per_request,
                off.cpu_us_per_request,
                on.cpu_us_per_request / off.cpu_us_per_request.max(1e-9),
                exported.bytes()
            ));
        }
    }

    // The worst scenario for sluice-reference relative to nginx (or direct), profiled again.
    let mut profile_text = None;
    if want_profile {
        let base = if nginx_bin.is_some() {
            "nginx"
        } else {
            "direct"
        };
        let worst = rows
            .iter()
            .filter(|r| r.target == "sluice-reference" && !r.scenario.contains("stream"))
            .filter_map(|r| {
                let b = rows
                    .iter()
                    .find(|b| b.target == base && b.scenario == r.scenario)?;
                Some((r.report.rate() / b.report.rate().max(1e-9), r.scenario))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let (Some((ratio, name)), Some(target)) =
            (worst, all.iter().find(|t| t.name == "sluice-reference"))
        {
            let scenario = scenarios
                .iter()
                .find(|s| s.name == name)
                .expect("a measured scenario");
            let (text, _) = runtime.block_on(profile(
                target.measured,
                seconds,
                &dir,
                suite::measure(&setup, target, scenario, seconds),
            ));
            match text {
                Some(t) => {
                    notes.push(format!("Profiled: sluice-reference, {name} ({ratio:.2}× {base}), `perf record -e cpu-clock -g`, self time by thread and library, then by symbol (entries ≥ 1%)."));
                    profile_text = Some(t);
                }
                None => notes.push("--profile: perf record did not work on this machine.".into()),
            }
        }
    }
    drop(all);
    drop(mock);

    let date = output("date", &["-u", "+%Y-%m-%d"]).unwrap_or_default();
    let commit = output(
        "git",
        &[
            "-C",
            &root.display().to_string(),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    )
    .unwrap_or_else(|| "unknown".into());
    // Another build than target/release/sluice is named in the file names and the settings.
    let label = custom.as_ref().and_then(|p| {
        let dir = Path::new(p).parent()?.file_name()?.to_str()?;
        Some(dir.to_string())
    });
    let stem = match &label {
        Some(l) => format!("{date}-{commit}-{l}"),
        None => format!("{date}-{commit}"),
    };
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let chart = out_dir.join(format!("{stem}.svg"));
    suite::chart::draw(&rows, &chart)?;
    let mut settings = vec![
        match rounds {
            1 => format!("{seconds} s per scenario and target after a short warm-up; the NDJSON stream is one {stream_mib} MiB response"),
            n => format!("{n} rounds of {seconds} s per scenario and target, each after a short warm-up, the targets in turn within each round (figures are the rounds summed); the NDJSON stream is one {stream_mib} MiB response per round"),
        },
        "connections: h1 16 (16 MiB: 8); h2 4 × 16 streams (64 KiB: 4 × 4; 16 MiB: 1 × 8); new conn: 16 clients, one mTLS handshake per request".into(),
        "closed loop (sluice-load); direct is plain HTTP to the mock, every other target is TLS 1.3 with client certificates and no session resumption".into(),
    ];
    if let Some(path) = &custom {
        settings.push(format!("sluice binary: {path} (not target/release/sluice)"));
    }
    settings.push(match core {
        Some(c) => format!("proxy and mock pinned to core {c} (taskset); the load generator runs on the other core(s)"),
        None => "no pinning: proxy, mock and load generator share all cores".into(),
    });
    let ctx = markdown::Context {
        date,
        commit,
        machine: machine(nginx_bin.as_deref()),
        settings,
        notes,
        profile: profile_text,
        chart: format!("{stem}.svg"),
    };
    let md_path = out_dir.join(format!("{stem}.md"));
    std::fs::write(&md_path, markdown::render(&rows, &ctx))
        .map_err(|e| format!("{}: {e}", md_path.display()))?;
    let json_path = out_dir.join(format!("{stem}.json"));
    std::fs::write(&json_path, format!("{:#}\n", markdown::json(&rows, &ctx)))
        .map_err(|e| format!("{}: {e}", json_path.display()))?;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "report: {}\nchart:  {}\ndata:   {}",
        md_path.display(),
        chart.display(),
        json_path.display()
    );
    Ok(())
}

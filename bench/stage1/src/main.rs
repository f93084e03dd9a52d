//! `sluice-stage1-probe FEED [ROUNDS]`: how fast the first stage of a simdjson-style parser — a
//! structural index, see [`index`] — runs on the reference feed on this machine, by instruction
//! set, next to memcpy and UTF-8 validation of the same bytes in the same run.
//!
//! Issue 3 asks whether the engine can reach 500 MB/s on the reference workload; the engine's
//! report measures the work no parser can remove (UTF-8, the output's SHA-256, the HMACs). This
//! measures what a redesigned walker would start from: the index alone, before any key is
//! looked up, any scalar validated or any byte written. Every classifier's index is checked
//! against the byte-by-byte [`index::reference`] on the whole feed before it is timed.

mod classify;
mod index;

use std::time::Instant;

fn best(rounds: usize, mut f: impl FnMut() -> usize) -> f64 {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

type Build = fn(&[u8], &mut Vec<u32>) -> usize;

/// The index builders this machine can run.
fn builds() -> Vec<(&'static str, Build)> {
    let mut v: Vec<(&'static str, Build)> = vec![
        ("scalar classifier", classify::index_scalar),
        // SAFETY: SSE2 is part of x86-64.
        ("SSE2", |t, o| unsafe { classify::index_sse2(t, o) }),
    ];
    if is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("bmi1")
        && is_x86_feature_detected!("bmi2")
        && is_x86_feature_detected!("pclmulqdq")
        && is_x86_feature_detected!("popcnt")
    {
        // SAFETY: every feature it is compiled for was detected above.
        v.push(("AVX2", |t, o| unsafe { classify::index_avx2(t, o) }));
        if is_x86_feature_detected!("avx512bw") {
            // SAFETY: as above, and AVX-512BW.
            v.push(("AVX-512BW", |t, o| unsafe { classify::index_avx512(t, o) }));
        }
    }
    v
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: sluice-stage1-probe FEED [ROUNDS]");
    let rounds: usize = args.get(2).map_or(5, |r| r.parse().expect("ROUNDS"));
    let feed = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let records = feed.windows(6).filter(|w| w == b"{\"id\":").count().max(1);
    let expected = index::reference(&feed);

    let builds = builds();
    let mut out = Vec::new();
    for (name, build) in &builds {
        let n = build(&feed, &mut out);
        assert!(
            out[..n] == expected,
            "{name}: index differs from the reference"
        );
    }

    let mb = feed.len() as f64 / 1e6;
    let mut sink = Vec::with_capacity(feed.len());
    let t_memcpy = best(rounds, || {
        sink.clear();
        sink.extend_from_slice(&feed);
        sink.len()
    });
    let t_utf8 = best(rounds, || {
        usize::from(simdutf8::basic::from_utf8(&feed).is_ok())
    });
    println!(
        "reference feed: {mb:.1} MB, {records} records, {} index entries ({:.0} per KB), best of {rounds}",
        expected.len(),
        expected.len() as f64 / (feed.len() as f64 / 1024.0)
    );
    println!("{:<40} {:>8} {:>12}", "", "MB/s", "µs/record");
    let row = |name: &str, t: f64| {
        println!(
            "{name:<40} {:>8.0} {:>12.3}",
            mb / t,
            t / records as f64 * 1e6
        )
    };
    row("memcpy", t_memcpy);
    row("UTF-8 validation (simdutf8)", t_utf8);
    for (name, build) in &builds {
        let t = best(rounds, || build(&feed, &mut out));
        row(&format!("structural index, {name}"), t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8]) -> Vec<(&'static str, Vec<u32>)> {
        let mut out = Vec::new();
        builds()
            .into_iter()
            .map(|(name, build)| {
                let n = build(text, &mut out);
                (name, out[..n].to_vec())
            })
            .collect()
    }

    #[test]
    fn every_classifier_gives_the_reference_index_across_block_boundaries() {
        // Escapes, strings and scalars placed across the 64-byte boundaries at every offset.
        let piece =
            br#"{"a\\":"x\"y\\\\","b":[1,-2.5e3,true,null,"\\\""],"c" : { } , "d":"{[,:]}"}"#;
        for pad in 0..130 {
            let mut text = vec![b' '; pad];
            text.extend_from_slice(piece);
            text.extend_from_slice(b"\n");
            text.extend_from_slice(piece);
            let expected = index::reference(&text);
            for (name, got) in all(&text) {
                assert_eq!(got, expected, "{name} at padding {pad}");
            }
        }
    }

    #[test]
    fn a_run_of_backslashes_at_a_block_end_escapes_the_next_block_when_it_is_odd() {
        for run in 1..6 {
            for end in 60..68 {
                let mut text = b"[\"".to_vec();
                text.resize(end - run, b'a');
                text.extend(std::iter::repeat_n(b'\\', run));
                text.extend_from_slice(if run % 2 == 1 { b"\"x\",1]" } else { b"\",1]" });
                let expected = index::reference(&text);
                for (name, got) in all(&text) {
                    assert_eq!(got, expected, "{name}: {run} backslashes ending at {end}");
                }
            }
        }
    }
}

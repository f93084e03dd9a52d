//! Synthetic data subjects for the tests: valid resident identity numbers, and the institution's
//! answer about a range of applicants (one subject each).

/// A valid 18-digit resident identity number (GB 11643) for `n`.
pub fn id_no(n: u32) -> String {
    // Region 110105, a birth date in 1960–1999, a 3-digit sequence: 17 digits.
    let base = format!(
        "11010519{:02}{:02}{:02}{:03}",
        60 + n % 40,
        1 + n % 12,
        1 + n % 28,
        n % 1000
    );
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = base
        .bytes()
        .zip(weights)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{base}{check}")
}

/// `{"applicants":[…]}` about the applicants `people` (an application number and an identity
/// number each), leaked for a mock's `'static` body.
pub fn applicants(people: std::ops::Range<u32>) -> &'static [u8] {
    let items: Vec<String> = people
        .map(|n| {
            format!(
                r#"{{"applicant_no":"LA{:08}","id_no":"{}"}}"#,
                20_000_000 + n,
                id_no(n)
            )
        })
        .collect();
    Box::leak(
        format!(r#"{{"applicants":[{}]}}"#, items.join(","))
            .into_bytes()
            .into_boxed_slice(),
    )
}

//! Masks for textual values: names, addresses, e-mail, passports, plates, and `partial(F,L)`.

use super::reading::{digit_value, is_chinese_numeral};

/// A digit that does not belong in a name: any digit but the Chinese numerals, which are
/// ordinary name characters (张三, 李四, 王五).
fn is_digit_in_a_name(c: char) -> bool {
    digit_value(c).is_some() && !is_chinese_numeral(c)
}

/// Compound surnames (复姓) kept whole when masking a name.
/// Sorted by bytes (for a binary search; a test checks the order).
const COMPOUND_SURNAMES: &[&str] = &[
    "万俟", "上官", "东方", "东郭", "亓官", "令狐", "仲孙", "公冶", "公孙", "单于", "南宫", "南门",
    "司徒", "司空", "司马", "呼延", "夏侯", "太史", "宇文", "宗政", "尉迟", "左丘", "微生", "慕容",
    "拓跋", "梁丘", "欧阳", "淳于", "澹台", "濮阳", "独孤", "申屠", "百里", "皇甫", "端木", "第五",
    "羊舌", "西门", "诸葛", "赫连", "轩辕", "钟离", "长孙", "闻人", "闾丘",
];

/// The six bytes of a two-character compound surname as a number, ordered as the bytes are.
const fn surname_key(s: &[u8]) -> u64 {
    let mut k = 0;
    let mut i = 0;
    while i < 6 {
        k = k << 8 | s[i] as u64;
        i += 1;
    }
    k
}

/// [`COMPOUND_SURNAMES`] as [`surname_key`]s, in the same (sorted) order: a name's first six
/// bytes are looked up with integer compares.
static SURNAME_KEYS: [u64; COMPOUND_SURNAMES.len()] = {
    let mut keys = [0; COMPOUND_SURNAMES.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = surname_key(COMPOUND_SURNAMES[i].as_bytes());
        i += 1;
    }
    keys
};

const NAME_SEPARATORS: &[char] = &['·', '•', '．', '・'];

fn stars(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n('*', n));
}

/// `张伟` → `张*`, `欧阳明轩` → `欧阳**`, `阿依古丽·买买提` → `阿***·买**`.
pub(super) fn name(value: &str, out: &mut String) -> bool {
    let v = value.trim();
    let n = v.chars().count();
    if n == 0
        || n > 64
        || v.chars()
            .any(|c| is_digit_in_a_name(c) || c == '@' || c.is_control())
    {
        return false;
    }
    // Every separator starts with one of these bytes; Han names seldom have any.
    if v.bytes().any(|b| matches!(b, 0xC2 | 0xE2 | 0xE3 | 0xEF)) && v.contains(NAME_SEPARATORS) {
        let mut first = true;
        for seg in v.split(NAME_SEPARATORS) {
            if !first {
                out.push('·');
            }
            first = false;
            let mut chars = seg.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            stars(out, chars.count());
        }
        return true;
    }
    let compound = n > 2
        && v.as_bytes()
            .get(..6)
            .is_some_and(|head| SURNAME_KEYS.binary_search(&surname_key(head)).is_ok());
    let keep = if compound { 2 } else { 1 };
    out.extend(v.chars().take(keep));
    stars(out, n.saturating_sub(keep).max(1));
    true
}

const L1_SUFFIXES: &[&str] = &["特别行政区", "自治区", "省", "市"];
const L2_SUFFIXES: &[&str] = &["自治州", "地区", "市", "州", "盟"];
const L3_SUFFIXES: &[&str] = &["自治县", "新区", "区", "县", "市", "旗"];

/// Takes one administrative unit of 2–9 Han characters ending in one of `suffixes` from the
/// start of `s`; returns its byte length.
fn admin_unit(s: &str, suffixes: &[&str]) -> Option<usize> {
    let mut best = None;
    for (count, (idx, c)) in s.char_indices().enumerate() {
        if count >= 9 || !('\u{4E00}'..='\u{9FFF}').contains(&c) {
            break;
        }
        let end = idx + c.len_utf8();
        if count >= 1 && suffixes.iter().any(|suf| s[..end].ends_with(suf)) {
            best = Some(end);
            break;
        }
    }
    best
}

/// Keeps province / city / district and replaces the rest with a fixed `****`:
/// `上海市浦东新区张江路123弄5号1202室` → `上海市浦东新区****`.
pub(super) fn address(value: &str, out: &mut String) -> bool {
    let v = value.trim();
    let mut at = 0;
    let mut units = 0;
    for suffixes in [L1_SUFFIXES, L2_SUFFIXES, L3_SUFFIXES] {
        if let Some(len) = admin_unit(&v[at..], suffixes) {
            at += len;
            units += 1;
        }
    }
    if units == 0 {
        return false;
    }
    out.push_str(&v[..at]);
    out.push_str("****");
    true
}

/// `ouyang.mx@163.com` → `o***@163.com`.
pub(super) fn email(value: &str, out: &mut String) -> bool {
    let v = value.trim();
    let Some((local, domain)) = v.split_once(['@', '＠']) else {
        return false;
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    let Some(first) = local.chars().next() else {
        return false;
    };
    if !domain_ok || local.chars().any(|c| c.is_whitespace() || c == '@') {
        return false;
    }
    out.push(first);
    out.push_str("***@");
    out.push_str(domain);
    true
}

/// Passports and permits: letters and digits, 8–10 characters, keep first 2 and last 2.
pub(super) fn passport(value: &str, out: &mut String) -> bool {
    let v = value.trim();
    let n = v.chars().count();
    if !(8..=10).contains(&n)
        || !v.chars().all(|c| c.is_ascii_alphanumeric())
        || !v.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return false;
    }
    out.push_str(&v[..2]);
    stars(out, n - 4);
    out.push_str(&v[n - 2..]);
    true
}

/// Licence plates: `京A·12345` → `京A·1***5`, `粤BD12345` → `粤BD****5`.
pub(super) fn plate(value: &str, out: &mut String) -> bool {
    let v = value.trim();
    let mut chars = v.chars();
    let (Some(prov), Some(letter)) = (chars.next(), chars.next()) else {
        return false;
    };
    if !('\u{4E00}'..='\u{9FFF}').contains(&prov) || !letter.is_ascii_uppercase() {
        return false;
    }
    let rest: String = chars.collect();
    let (dot, body) = match rest.strip_prefix(['·', '•', ' ']) {
        Some(b) => (true, b.to_string()),
        None => (false, rest),
    };
    let n = body.chars().count();
    if !(5..=6).contains(&n)
        || !body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ('\u{4E00}'..='\u{9FFF}').contains(&c))
    {
        return false;
    }
    out.push(prov);
    out.push(letter);
    if dot {
        out.push('·');
    }
    let body: Vec<char> = body.chars().collect();
    let keep_front = 1;
    out.extend(&body[..keep_front]);
    stars(out, n - keep_front - 1);
    out.push(body[n - 1]);
    true
}

/// Keeps the first `first` and last `last` characters; a value too short to keep anything is
/// all stars.
pub(super) fn partial(value: &str, first: usize, last: usize, out: &mut String) -> bool {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    if n == 0 {
        return false;
    }
    if n <= first + last {
        stars(out, n);
        return true;
    }
    out.extend(&chars[..first]);
    stars(out, n - first - last);
    out.extend(&chars[n - last..]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: fn(&str, &mut String) -> bool, v: &str) -> Option<String> {
        let mut out = String::new();
        f(v, &mut out).then_some(out)
    }

    #[test]
    fn compound_surnames_are_sorted_and_two_characters_long() {
        assert!(COMPOUND_SURNAMES.is_sorted());
        assert!(SURNAME_KEYS.is_sorted(), "keys order as the bytes do");
        assert!(
            COMPOUND_SURNAMES
                .iter()
                .all(|s| s.len() == 6 && s.chars().count() == 2)
        );
    }

    #[test]
    fn names() {
        assert_eq!(run(name, "张三丰").as_deref(), Some("张**"));
        assert_eq!(run(name, "司马懿").as_deref(), Some("司马*"));
        assert_eq!(run(name, "阿依古丽·买买提").as_deref(), Some("阿***·买**"));
        for sep in ['•', '．', '・'] {
            let masked = run(name, &format!("阿依古丽{sep}买买提"));
            assert_eq!(masked.as_deref(), Some("阿***·买**"), "{sep}");
        }
        for surname in COMPOUND_SURNAMES {
            let masked = run(name, &format!("{surname}明轩"));
            assert_eq!(masked, Some(format!("{surname}**")), "{surname}");
        }
        assert_eq!(run(name, "欧阳").as_deref(), Some("欧*"));
        assert_eq!(
            run(name, "OUYANG MINGXUAN").as_deref(),
            Some("O**************")
        );
    }

    #[test]
    fn addresses() {
        assert_eq!(
            run(address, "广东省深圳市南山区珞喻路419号802室").as_deref(),
            Some("广东省深圳市南山区****")
        );
        assert_eq!(
            run(address, "北京市朝阳区建国路88号").as_deref(),
            Some("北京市朝阳区****")
        );
        assert_eq!(
            run(address, "上海市徐汇区文一西路798号1318室").as_deref(),
            Some("上海市徐汇区****")
        );
        assert_eq!(
            run(address, "内蒙古自治区呼和浩特市新城区xx路").as_deref(),
            Some("内蒙古自治区呼和浩特市新城区****")
        );
    }

    #[test]
    fn email_passport_plate_partial() {
        assert_eq!(
            run(email, "ouyang.mx@163.com").as_deref(),
            Some("o***@163.com")
        );
        assert_eq!(run(passport, "E12345678").as_deref(), Some("E1*****78"));
        assert_eq!(run(plate, "京A·12345").as_deref(), Some("京A·1***5"));
        assert_eq!(run(plate, "粤BD12345").as_deref(), Some("粤BD****5"));
        let mut out = String::new();
        assert!(partial("abcdefgh", 2, 3, &mut out));
        assert_eq!(out, "ab***fgh");
        out.clear();
        assert!(partial("ab", 2, 3, &mut out));
        assert_eq!(out, "**");
    }
}

//! The JSON and NDJSON engine.
//!
//! ## Shape
//! A UTF-8 pre-pass validates each chunk with SIMD ([`utf8`]); a pushdown automaton then walks the
//! JSON grammar byte by byte, with a block-at-a-time fast path through string interiors. Its stack
//! holds one small frame per open container, each pointing at a node of the route's compiled
//! trie, or marking a stripped or whole-kept subtree. Stripped members produce no output but are
//! validated like everything else. Kept scalars are copied byte-exact as they stream; only values
//! a rule must see whole (masks, hashes, constraints, scans, subjects) are captured, up to the
//! token limit — and a value that lies whole in a chunk is not even copied: its rule reads it in
//! place, as the text the UTF-8 pre-pass already produced.
//!
//! The automaton can stop and resume at any byte, which is what chunked input needs but costs a
//! dispatch per byte. What lies whole inside the current chunk — the members of an object at a
//! trie node, a stripped value, a container kept whole — takes the fast paths of [`fast`]
//! instead, parsed with local state. They never decide a verdict: on anything unusual they hand
//! the same byte back to the automaton, so both agree by construction (and tests and the fuzz
//! targets compare them: whole bodies against the same bodies fed a byte at a time).
//!
//! ## Memory
//! Per body: the stack (bounded by `max_depth`), one captured token (`max_token_len`), the keys
//! of the open kept-whole objects (`max_keys_per_object`), and — only when a consent list is in
//! force — the output of one record (`record_cap`). Nothing grows with the body.

mod fast;
mod machine;
mod number;
mod records;
mod skip;
mod structure;
mod values;

pub(crate) use machine::JsonRedactor;

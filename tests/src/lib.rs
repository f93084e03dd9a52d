//! # sluice-tests
//!
//! End-to-end and conformance tests for sluice, and the helpers they share.

//! Support code.

//! Grid expansion.

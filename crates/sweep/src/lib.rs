//! sweep library.

//! collect library.

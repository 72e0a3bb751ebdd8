//! A deterministic synthetic market (clearly labelled as synthetic) for the demo and the
//! default tests.

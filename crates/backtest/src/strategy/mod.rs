//! Strategies behind one trait, and the registry that names them.

pub mod registry {
    //! The list of strategies.
}

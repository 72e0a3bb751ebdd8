//! Interruption by SIGINT or SIGTERM, noticed instead of dying mid-write: while an
//! [`Interrupt`] guard lives, the two signals only raise a flag that long loops (writing a
//! manifest, running tasks) check, so they can remove what they half wrote, stop their
//! children, and say what they left. The default actions come back when the guard drops.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};

/// The process-wide handlers, registered once: each signal stores its number in
/// `received`, and takes its default action (ends the process) while `default_action` is
/// set, that is while no guard lives.
struct Handlers {
    received: Arc<AtomicUsize>,
    default_action: Arc<AtomicBool>,
    /// Guards alive.
    guards: Mutex<usize>,
}

fn handlers() -> std::io::Result<&'static Handlers> {
    static HANDLERS: OnceLock<Handlers> = OnceLock::new();
    if let Some(h) = HANDLERS.get() {
        return Ok(h);
    }
    let h = Handlers {
        received: Arc::new(AtomicUsize::new(0)),
        default_action: Arc::new(AtomicBool::new(true)),
        guards: Mutex::new(0),
    };
    for sig in [SIGINT, SIGTERM] {
        // Order matters: the default action, when armed, ends the process first.
        signal_hook::flag::register_conditional_default(sig, Arc::clone(&h.default_action))?;
        signal_hook::flag::register_usize(sig, Arc::clone(&h.received), sig as usize)?;
    }
    Ok(HANDLERS.get_or_init(|| h))
}

/// Catches SIGINT and SIGTERM while it lives.
#[derive(Debug)]
pub struct Interrupt {
    _private: (),
}

impl Interrupt {
    /// Starts catching SIGINT and SIGTERM (the flag starts lowered).
    pub fn install() -> std::io::Result<Interrupt> {
        let h = handlers()?;
        let mut guards = h.guards.lock().unwrap_or_else(|e| e.into_inner());
        if *guards == 0 {
            h.received.store(0, Ordering::SeqCst);
        }
        *guards += 1;
        h.default_action.store(false, Ordering::SeqCst);
        Ok(Interrupt { _private: () })
    }

    /// The signal received so far (SIGINT = 2, SIGTERM = 15), if any.
    pub fn received(&self) -> Option<i32> {
        let h = handlers().ok()?;
        match h.received.load(Ordering::SeqCst) {
            0 => None,
            s => i32::try_from(s).ok(),
        }
    }

    /// The conventional exit status after signal `sig`: 128 + its number (130, 143).
    pub fn exit_status(sig: i32) -> u8 {
        u8::try_from(128 + sig).unwrap_or(130)
    }

    /// The signal's name.
    pub fn name(sig: i32) -> &'static str {
        match sig {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            _ => "a signal",
        }
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        if let Ok(h) = handlers() {
            let mut guards = h.guards.lock().unwrap_or_else(|e| e.into_inner());
            *guards = guards.saturating_sub(1);
            if *guards == 0 {
                h.default_action.store(true, Ordering::SeqCst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_raises_the_flag_instead_of_killing() {
        let guard = Interrupt::install().expect("install");
        assert_eq!(guard.received(), None);
        signal_hook::low_level::raise(SIGTERM).expect("raise");
        assert_eq!(guard.received(), Some(SIGTERM));
        assert_eq!(Interrupt::exit_status(SIGTERM), 143);
        assert_eq!(Interrupt::name(SIGINT), "SIGINT");
    }
}

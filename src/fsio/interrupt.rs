//! SIGINT and SIGTERM: a run that is stopped leaves no half-written files.
//!
//! [`install`] (first thing in `main`, before any thread starts) blocks both signals in
//! every thread and waits for them in a thread of its own. A signal that arrives while the
//! run stages files removes the temporary files staged so far and ends the process (exit
//! 130 for SIGINT, 143 for SIGTERM). A signal that arrives while a commit is swapping files
//! in only raises a flag: the commit sees it between two renames, puts every file back as
//! it was, and then ends the process the same way. SIGKILL and a power loss cannot be
//! caught: the next run that writes the folder finds the commit's journal and puts the
//! files back then ([`super::commit::recover`]).

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The signal received, 0 for none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// A commit is swapping files in: it handles a signal itself.
static COMMITTING: AtomicBool = AtomicBool::new(false);
/// The temporary files staged and not yet committed or removed.
static STAGED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Blocks SIGINT and SIGTERM in this thread and every thread it starts from now on, and
/// handles them in a thread of their own. Call it before any other thread starts.
pub fn install() {
    // SAFETY: plain libc calls on a sigset_t this function owns.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let spawned = std::thread::Builder::new()
        .name("keyhygiene-signals".into())
        .spawn(move || {
            loop {
                let mut signal: libc::c_int = 0;
                // SAFETY: waits on the set blocked above; `signal` is a valid out pointer.
                if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                    continue;
                }
                RECEIVED.store(signal, Ordering::SeqCst);
                if !COMMITTING.load(Ordering::SeqCst) {
                    remove_staged();
                    std::process::exit(exit_code(signal));
                }
            }
        });
    if spawned.is_err() {
        // Without the thread the signals stay blocked: unblock them, so that a signal still
        // ends the process (leaving temporary files for the next run to clean).
        // SAFETY: as above.
        unsafe {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

/// The exit code of a process ended by `signal`: 128 plus its number, as shells report it.
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}

/// The signal received, if one was.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        n => Some(n),
    }
}

/// Marks a commit in progress (or over): while it is, a signal only raises the flag.
pub(super) fn committing(on: bool) {
    COMMITTING.store(on, Ordering::SeqCst);
}

/// Notes a staged temporary file, removed if the run is stopped before committing it.
pub(super) fn staged(path: PathBuf) {
    STAGED.lock().expect("staged lock").push(path);
}

/// Forgets a staged file: committed, or removed by its owner.
pub(super) fn unstaged(path: &std::path::Path) {
    STAGED.lock().expect("staged lock").retain(|p| p != path);
}

/// Removes every staged temporary file (the process is about to end).
pub(super) fn remove_staged() {
    let staged = std::mem::take(&mut *STAGED.lock().unwrap_or_else(|e| e.into_inner()));
    for path in staged {
        let _ = std::fs::remove_file(path);
    }
}

/// Ends the process for the signal received, after the caller put everything back.
pub(super) fn exit_for(signal: i32) -> ! {
    remove_staged();
    std::process::exit(exit_code(signal))
}

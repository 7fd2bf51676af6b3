//! keyhygiene's logs: stderr, plain, one escaped line per event, and never a credential.

/// Logs go to stderr, plain (no colour codes), one line per event with its control and
/// bidirectional characters escaped: a name from AWS or from a saved file can neither
/// forge a line nor change the terminal. `KEYHYGIENE_LOG` sets the level (`warn` by
/// default).
///
/// Whatever the level asked for, the AWS SDK's and the HTTP stack's own logs never pass
/// `info`: at `debug` and `trace` they print signed request headers, session tokens and the
/// caller's access key id. keyhygiene's own logs never contain a credential.
pub(super) fn init_logging(quiet: bool) {
    use tracing_subscriber::prelude::*;

    let default = if quiet { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYHYGIENE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("keyhygiene={default}")));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(|| EscapingStderr)
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .with_filter(tracing_subscriber::filter::filter_fn(may_log))
        .with_filter(filter);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// stderr, for log lines: every control or bidirectional character escaped but the line's
/// own end, and S3 locations named as the user gave them.
struct EscapingStderr;

impl std::io::Write for EscapingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (line, end) = match text.strip_suffix('\n') {
            Some(line) => (line, "\n"),
            None => (text.as_ref(), ""),
        };
        // A file of the run's private copy of an S3 location is named by its location.
        let line = crate::storage::shown::text(line);
        let safe = crate::text::for_terminal(&line);
        std::io::stderr().write_all(format!("{safe}{end}").as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Only keyhygiene's own code logs below `info`.
fn may_log(meta: &tracing::Metadata<'_>) -> bool {
    meta.target().starts_with("keyhygiene") || *meta.level() <= tracing::Level::INFO
}

//! What a path is called in messages and reports: a file of a run's private temporary
//! folder is named by the S3 location it stands for.
//!
//! The run registers each temporary folder with its location ([`register`]) before it
//! uses it; [`path`] and [`text`] replace the folder by the location wherever a path is
//! shown (the summary, the error lines, the reports' sources). The registry is
//! process-wide because paths reach the terminal from every layer.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

static ROOTS: RwLock<Vec<(PathBuf, String)>> = RwLock::new(Vec::new());

/// From now on, `local` (a folder, or a file) is shown as `location`.
pub fn register(local: &Path, location: String) {
    let mut roots = ROOTS.write().unwrap_or_else(|e| e.into_inner());
    roots.push((local.to_path_buf(), location));
    // The longest folder first, so a nested folder wins over its parent.
    roots.sort_by_key(|(p, _)| std::cmp::Reverse(p.as_os_str().len()));
}

/// `path` as the user named it.
pub fn path(path: &Path) -> String {
    let roots = ROOTS.read().unwrap_or_else(|e| e.into_inner());
    for (local, location) in roots.iter() {
        if let Ok(rest) = path.strip_prefix(local) {
            let rest = rest.to_string_lossy();
            return if rest.is_empty() {
                location.clone()
            } else {
                format!("{}{rest}", with_slash(location))
            };
        }
    }
    path.display().to_string()
}

/// `text` with every registered folder replaced by its location.
pub fn text(text: &str) -> String {
    let roots = ROOTS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for (local, location) in roots.iter() {
        let local = local.display().to_string();
        if out.contains(&local) {
            out = out.replace(&format!("{local}/"), &with_slash(location));
            out = out.replace(&local, location);
        }
    }
    out
}

fn with_slash(location: &str) -> String {
    if location.ends_with('/') {
        location.to_string()
    } else {
        format!("{location}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_folders_are_shown_as_their_locations() {
        register(
            Path::new("/tmp/kh-x1/out"),
            "s3://b/reports/runs/r1/".into(),
        );
        register(Path::new("/tmp/kh-x1/out/inner"), "s3://b/other/".into());
        assert_eq!(
            path(Path::new("/tmp/kh-x1/out/report.html")),
            "s3://b/reports/runs/r1/report.html"
        );
        assert_eq!(
            path(Path::new("/tmp/kh-x1/out/inner/a.json")),
            "s3://b/other/a.json"
        );
        assert_eq!(path(Path::new("/tmp/kh-x1/out")), "s3://b/reports/runs/r1/");
        assert_eq!(
            path(Path::new("/srv/out/report.html")),
            "/srv/out/report.html"
        );
        assert_eq!(
            text("/tmp/kh-x1/out/account-1.json: line 3: bad"),
            "s3://b/reports/runs/r1/account-1.json: line 3: bad"
        );
    }
}

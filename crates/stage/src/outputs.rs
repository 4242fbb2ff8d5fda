//! Atomic outputs: every file a stage writes goes to a temporary file beside its target and
//! is renamed into place only when the whole stage has succeeded, so a failing stage leaves
//! no output created or changed. A stage killed before it renames leaves its temporary files
//! behind (nothing runs on `kill -9`); each is named after its target and its process
//! (`.NAME.PID.RANDOM.tmp`), and the next write of the target removes those whose process is
//! gone.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use tempfile::NamedTempFile;

/// The files a stage has written but not yet put in place.
#[derive(Debug, Default)]
pub struct Outputs {
    pending: Vec<(NamedTempFile, PathBuf)>,
}

impl Outputs {
    /// No pending output.
    pub fn new() -> Outputs {
        Outputs::default()
    }

    /// Writes the future content of `path` with `fill`, into a temporary file in the same
    /// folder (created if missing).
    ///
    /// # Errors
    /// If the folder or the temporary file cannot be created, or `fill` fails.
    pub fn write<E>(
        &mut self,
        path: &Path,
        fill: impl FnOnce(&mut BufWriter<&File>) -> Result<(), E>,
    ) -> anyhow::Result<()>
    where
        E: Into<anyhow::Error>,
    {
        let context = || format!("failed to write {}", path.display());
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).with_context(context)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        remove_stale(dir, &name);
        let prefix = format!(".{name}.{}.", std::process::id());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // Temporary files are private by default; outputs are ordinary files.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
        let tmp = builder.tempfile_in(dir).with_context(context)?;
        {
            let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
            fill(&mut w).map_err(Into::into).with_context(context)?;
            w.flush().with_context(context)?;
        }
        tmp.as_file().sync_all().with_context(context)?;
        self.pending.push((tmp, path.to_owned()));
        Ok(())
    }

    /// Writes `value` as pretty JSON with a final newline.
    ///
    /// # Errors
    /// As [`Outputs::write`].
    pub fn write_json<T: serde::Serialize>(&mut self, path: &Path, value: &T) -> anyhow::Result<()> {
        self.write(path, |w| -> anyhow::Result<()> {
            serde_json::to_writer_pretty(&mut *w, value)?;
            w.write_all(b"\n")?;
            Ok(())
        })
    }

    /// Where the future content of `path` is while it is pending (to read it before the
    /// commit, as the tracking does); `path` itself when it was not written.
    pub fn staged<'a>(&'a self, path: &'a Path) -> &'a Path {
        self.pending.iter().find(|(_, target)| target == path).map_or(path, |(tmp, _)| tmp.path())
    }

    /// Puts every pending file in place.
    ///
    /// # Errors
    /// If a rename fails; files renamed before it stay in place.
    pub fn commit(self) -> anyhow::Result<()> {
        for (tmp, path) in self.pending {
            tmp.persist(&path).with_context(|| format!("failed to move the new {} into place", path.display()))?;
        }
        Ok(())
    }
}

/// Removes the temporary files of earlier writes of `name` in `dir` whose process is gone (a
/// stage killed before its commit). Only on Linux, where `/proc` tells which processes live;
/// a file that cannot be removed is left for the next run.
fn remove_stale(dir: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)).and_then(|f| f.strip_suffix(".tmp"))
        else {
            continue;
        };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!("removed {}, left by a run that was killed", entry.path().display()),
                Err(e) => tracing::warn!("could not remove {}, left by a killed run: {e}", entry.path().display()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_appears_before_commit_and_a_failure_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("sub/a.json");
        let b = dir.path().join("b.txt");
        std::fs::write(&b, "old").unwrap();
        let mut out = Outputs::new();
        out.write_json(&a, &[1, 2]).unwrap();
        let failed = out.write(&b, |w| -> anyhow::Result<()> {
            w.write_all(b"half")?;
            anyhow::bail!("boom")
        });
        assert!(failed.unwrap_err().to_string().contains("b.txt"));
        assert!(!a.exists());
        drop(out);
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "old");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert!(left.is_empty(), "temporary files left behind: {left:?}");

        let mut out = Outputs::new();
        out.write_json(&a, &[1, 2]).unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "[\n  1,\n  2\n]\n");
    }

    #[test]
    fn the_next_write_removes_what_a_killed_run_left() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        // A process that is gone (PIDs above the kernel's maximum never live), one that lives
        // (this one: a write in progress), another output's, and a file of the user's.
        let dead = dir.path().join(".a.json.4294967295.x1y2z3.tmp");
        let live = dir.path().join(format!(".a.json.{}.q7.tmp", std::process::id()));
        let other = dir.path().join(".b.json.4294967295.k9.tmp");
        let mine = dir.path().join(".a.json.notes");
        for f in [&dead, &live, &other, &mine] {
            std::fs::write(f, "x").unwrap();
        }
        let mut out = Outputs::new();
        out.write_json(&a, &[1]).unwrap();
        let staged = out.staged(&a).to_owned();
        assert!(staged != a && staged.exists() && !a.exists());
        assert_eq!(out.staged(&dir.path().join("unwritten")), dir.path().join("unwritten"));
        out.commit().unwrap();
        assert!(!dead.exists(), "a dead run's file was kept");
        assert!(live.exists() && other.exists() && mine.exists());
        assert!(!staged.exists() && a.exists());
    }
}

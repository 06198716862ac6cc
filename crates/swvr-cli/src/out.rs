//! The output folder `OUT`: what swvr owns there, and the one atomic switch
//! by which a command's outputs replace the previous ones (docs/out.md).
//!
//! Layout after a command:
//!
//! ```text
//! OUT/.swvr-current -> .swvr-gen-N        the pointer: renamed into place once per commit
//! OUT/.swvr-gen-N/{ingest,…,report,export}/…, manifest.json, .swvr-owned
//! OUT/ingest -> .swvr-current/ingest      one link per stage folder, made once
//! OUT/manifest.json -> .swvr-current/manifest.json
//! ```
//!
//! A command builds its generation in `OUT/.swvr-staging-PID` (a stage
//! command first hard-links the current generation's other stage folders
//! there), renames it to `.swvr-gen-N`, and then replaces the pointer
//! `.swvr-current` with one `rename`: every path `OUT/<stage>/<file>` and
//! `OUT/manifest.json` resolves through the pointer, so readers see the
//! whole previous run or the whole new one, whenever the process is killed.
//! Old generations are removed after the switch.
//!
//! Before any work, under `OUT/.swvr-lock` (an exclusive `flock` the kernel
//! releases when the process dies, with the holder's PID inside):
//! - the stage paths are checked: missing, swvr's own link, or (an OUT
//!   written by an older swvr) a real folder; a file, a special file or
//!   another symbolic link there is an error naming it;
//! - what killed commands left is removed: staging folders whose process is
//!   gone, generations that are not current, the pointer's temporary link;
//! - files in the stage folders that swvr did not write stop the command,
//!   named (the generation's record `.swvr-owned` lists what swvr wrote);
//! - an OUT with real stage folders (older swvr) is converted to the layout
//!   above.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Stage folders under OUT, in pipeline order (`export` last: only some
/// commands write it). A folder a generation holds under another name is
/// handled the same way (linked, checked, carried): a new stage needs no
/// change here.
pub const STAGES: [&str; 7] = ["ingest", "fieldwork", "weight", "tabulate", "model", "report", "export"];
/// The manifest of a `swvr run`.
pub const MANIFEST: &str = "manifest.json";
/// Where a run that accepted no row keeps its ingest outputs.
pub const FAILED: &str = "failed";
/// The pointer to the current generation.
const CURRENT: &str = ".swvr-current";
/// The pointer's temporary name while it is replaced.
const CURRENT_NEW: &str = ".swvr-current.new";
const GEN: &str = ".swvr-gen-";
const STAGING: &str = ".swvr-staging-";
/// A stage folder of an older swvr while it is replaced by a link.
const LEGACY: &str = ".swvr-legacy-";
const LOCK: &str = ".swvr-lock";
/// In each generation: the files swvr wrote there, one relative path a line.
const OWNED: &str = ".swvr-owned";

/// Test hook (documented in docs/out.md): with `SWVR_TEST_KILL_AT=<step>`
/// in the environment, the process kills itself with SIGKILL at that step
/// of a command, as a power cut or `kill -9` would.
pub fn step(name: &str) {
    if std::env::var_os("SWVR_TEST_KILL_AT").is_some_and(|v| v == name) {
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
        std::thread::sleep(std::time::Duration::from_secs(5));
        std::process::abort();
    }
}

/// True when process `pid` exists (Linux `/proc`; elsewhere assumed alive,
/// so nothing of another process is ever removed by mistake).
fn alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new("/proc").join(pid.to_string()).exists()
}

/// What a file type is, in words.
fn kind(ft: &std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a folder"
    } else if ft.is_file() {
        "a file"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        swvr_core::io::special_kind(ft)
    }
}

/// A relative path with `/` separators.
fn slash(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The link swvr puts at `OUT/<name>`: `.swvr-current/<name>`.
fn link_target(name: &str) -> PathBuf {
    Path::new(CURRENT).join(name)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}

fn no_symlink(p: &Path) -> String {
    format!(
        "{}: cannot create a symbolic link (swvr's output folder needs a file system with symbolic links: docs/out.md)",
        p.display()
    )
}

/// Makes `link` a symbolic link to `target`, replacing what is there with
/// one rename (a link of the same name, or a file).
fn replace_link(out: &Path, target: &Path, link: &Path) -> Result<()> {
    let tmp = out.join(format!(".swvr-link.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    symlink(target, &tmp).with_context(|| no_symlink(&tmp))?;
    std::fs::rename(&tmp, link).with_context(|| format!("{}: cannot move into place", link.display()))
}

/// Holds `OUT/.swvr-lock` while a command writes into OUT.
pub struct Lock {
    path: PathBuf,
    _file: File,
}

impl Lock {
    /// Takes the lock of `out`, or fails at once naming the process that holds it.
    fn acquire(out: &Path) -> Result<Self> {
        let path = out.join(LOCK);
        loop {
            let mut opts = OpenOptions::new();
            opts.read(true).write(true).create(true).truncate(false);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                // Never through a link (out of OUT), never blocking on a FIFO.
                opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
            }
            let mut file = opts.open(&path).with_context(|| {
                let what = std::fs::symlink_metadata(&path).map_or("", |m| kind(&m.file_type()));
                format!(
                    "{}: cannot open the lock{}",
                    path.display(),
                    if what.is_empty() || what == "a file" {
                        String::new()
                    } else {
                        format!(" (it is {what}; expected a file swvr makes: remove it)")
                    }
                )
            })?;
            if !file.metadata()?.is_file() {
                bail!(
                    "{}: is {}; expected the lock file swvr makes: remove it",
                    path.display(),
                    kind(&file.metadata()?.file_type())
                );
            }
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    // The holder writes its PID right after locking: give it a moment.
                    let mut pid = String::new();
                    for _ in 0..50 {
                        pid.clear();
                        let _ = std::fs::File::open(&path).and_then(|mut f| f.read_to_string(&mut pid));
                        if !pid.trim().is_empty() {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    let pid = match pid.trim() {
                        "" => "unknown".to_string(),
                        p => p.to_string(),
                    };
                    bail!(
                        "{}: another swvr command (process {pid}) is writing into this folder; wait for it to end, or use another --out",
                        out.display()
                    );
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("{}: cannot lock", path.display()));
                }
            }
            // The previous holder may have removed the file between our open
            // and our lock: then the lock is on a file nobody else sees.
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0)?;
            write!(file, "{}", std::process::id())?;
            file.flush()?;
            return Ok(Self { path, _file: file });
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, path: &Path) -> bool {
    path.is_file()
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held; the file handle unlocks when it closes.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// OUT, locked and checked: the commands stage and commit through it.
pub struct Out {
    root: PathBuf,
    _lock: Lock,
}

/// A generation being built (`OUT/.swvr-staging-PID`), removed on drop
/// unless committed.
pub struct Staging {
    dir: PathBuf,
    done: bool,
}

impl Staging {
    /// The folder the stages write into (it stands for OUT).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Out {
    /// Creates OUT if missing, checks its stage paths, takes the lock,
    /// removes what killed commands left, refuses files swvr did not write in
    /// its stage folders, and converts an older layout. Nothing of the
    /// previous outputs changes here.
    pub fn open(out: &Path) -> Result<Self> {
        std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create output folder", out.display()))?;
        let meta = std::fs::metadata(out).with_context(|| format!("{}: cannot read", out.display()))?;
        if !meta.is_dir() {
            bail!(
                "{}: is {}; expected a folder for the outputs",
                out.display(),
                kind(&meta.file_type())
            );
        }
        let lock = Lock::acquire(out)?;
        let me = Self {
            root: out.to_path_buf(),
            _lock: lock,
        };
        step("locked");
        me.check_paths()?;
        me.remove_stale()?;
        me.check_foreign()?;
        me.adopt_legacy()?;
        me.repair_links()?;
        if me.current()?.is_none() {
            // The first command in OUT: a file system without symbolic links
            // fails here, before any work.
            let probe = me.root.join(format!(".swvr-link.{}", std::process::id()));
            let _ = std::fs::remove_file(&probe);
            symlink(Path::new(CURRENT), &probe).with_context(|| no_symlink(&probe))?;
            std::fs::remove_file(&probe).with_context(|| format!("{}: cannot remove", probe.display()))?;
        }
        step("opened");
        Ok(me)
    }

    /// The run folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The current generation's folder, if any.
    fn current(&self) -> Result<Option<PathBuf>> {
        let p = self.root.join(CURRENT);
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            return Ok(None);
        };
        let bad = |why: String| {
            anyhow::anyhow!(
                "{}: {why}; expected swvr's link to a {GEN}N folder: remove it (and run again)",
                p.display()
            )
        };
        if !meta.file_type().is_symlink() {
            return Err(bad(format!("is {}", kind(&meta.file_type()))));
        }
        let target = std::fs::read_link(&p)?;
        let name = target.to_string_lossy();
        let ok_name =
            target.components().count() == 1 && name.strip_prefix(GEN).is_some_and(|n| n.parse::<u64>().is_ok());
        if !ok_name {
            return Err(bad(format!("points to {}", target.display())));
        }
        let gen_dir = self.root.join(&target);
        if !std::fs::symlink_metadata(&gen_dir).is_ok_and(|m| m.is_dir()) {
            return Err(bad(format!("points to {}, which is not a folder", target.display())));
        }
        Ok(Some(gen_dir))
    }

    /// The stage folders: [`STAGES`] and the folders of the current
    /// generation (sorted, without duplicates).
    fn stages(&self) -> Result<Vec<String>> {
        let mut v: Vec<String> = STAGES.iter().map(|s| s.to_string()).collect();
        if let Some(g) = self.current()? {
            v.extend(folders(&g)?);
        }
        v.sort();
        v.dedup();
        Ok(v)
    }

    /// Stage paths, the manifest and `failed`: each missing, swvr's, or an error naming it.
    fn check_paths(&self) -> Result<()> {
        let root_canon = std::fs::canonicalize(&self.root)?;
        let stages = self.stages()?;
        for name in stages.iter().map(String::as_str).chain([MANIFEST, FAILED]) {
            let p = self.root.join(name);
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let ft = meta.file_type();
            let what = match name {
                MANIFEST => "its manifest".to_string(),
                FAILED => "the ingest outputs of a run that accepted no row".to_string(),
                s => format!("its {s} outputs"),
            };
            if ft.is_symlink() {
                let target = std::fs::read_link(&p)?;
                if name != FAILED && target == link_target(name) {
                    continue;
                }
                let resolved = std::fs::canonicalize(&p).unwrap_or_else(|_| self.root.join(&target));
                if !resolved.starts_with(&root_canon) {
                    bail!(
                        "{}: a symbolic link to {}, outside {}; swvr writes only inside its output folder: remove the link",
                        p.display(),
                        resolved.display(),
                        self.root.display()
                    );
                }
                bail!(
                    "{}: a symbolic link to {} that swvr did not make; swvr keeps {what} there: remove the link",
                    p.display(),
                    target.display()
                );
            }
            let fine = match name {
                MANIFEST => ft.is_file(),
                _ => ft.is_dir(),
            };
            if !fine {
                let expected = if name == MANIFEST { "a file" } else { "a folder" };
                bail!(
                    "{}: is {}, not {expected}; swvr keeps {what} under this name: move it away",
                    p.display(),
                    kind(&ft)
                );
            }
        }
        self.current()?;
        Ok(())
    }

    /// Removes what killed commands left: staging folders whose process is
    /// gone, generations that are not current (no live process owns one: a
    /// generation is made and switched to under the lock we hold), the
    /// pointer's and links' temporary names, stage folders of an interrupted
    /// conversion.
    fn remove_stale(&self) -> Result<()> {
        let me = std::process::id();
        let current = self.current()?;
        for entry in std::fs::read_dir(&self.root).with_context(|| format!("{}: cannot list", self.root.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let stale = if let Some(pid) = name.strip_prefix(STAGING) {
                pid.parse::<u32>().is_ok_and(|pid| pid == me || !alive(pid))
            } else if let Some(n) = name.strip_prefix(GEN) {
                n.parse::<u64>().is_ok() && current.as_deref() != Some(path.as_path())
            } else if let Some(pid) = name.strip_prefix(".swvr-link.") {
                pid.parse::<u32>().is_ok_and(|pid| pid == me || !alive(pid))
            } else {
                name == CURRENT_NEW || name.starts_with(LEGACY)
            };
            if stale {
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                let r = if is_dir {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                r.with_context(|| format!("{}: cannot remove what a killed swvr command left", path.display()))?;
            }
        }
        Ok(())
    }

    /// Files in the stage folders (and `failed/`) that swvr did not write:
    /// an error naming the first, before any work.
    fn check_foreign(&self) -> Result<()> {
        let mut foreign: Vec<PathBuf> = Vec::new();
        let current = self.current()?;
        let owned: BTreeSet<String> = match &current {
            Some(g) => read_owned(g)?,
            None => BTreeSet::new(),
        };
        // An older layout's manifest lists what that run wrote.
        let listed = legacy_listed(&self.root.join(MANIFEST));
        for stage in self.stages()? {
            let stage = stage.as_str();
            let p = self.root.join(stage);
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                // A real folder: an older swvr's.
                walk_files(&p, &mut |rel, ft| {
                    let full = format!("{stage}/{rel}");
                    let top = !rel.contains('/');
                    let ours = ft.is_file() && (listed.contains(&full) || (top && known(stage, rel)) || temp_file(rel));
                    if !ours {
                        foreign.push(p.join(rel));
                    }
                })?;
            } else if let Some(g) = &current {
                let dir = g.join(stage);
                if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                    walk_files(&dir, &mut |rel, ft| {
                        if !(ft.is_file() && owned.contains(&format!("{stage}/{rel}"))) {
                            foreign.push(p.join(rel));
                        }
                    })?;
                }
            }
        }
        let failed = self.root.join(FAILED);
        if std::fs::symlink_metadata(&failed).is_ok_and(|m| m.is_dir()) {
            walk_files(&failed, &mut |rel, ft| {
                let ours = ft.is_file() && rel.strip_prefix("ingest/").is_some_and(|f| known("ingest", f));
                if !ours {
                    foreign.push(failed.join(rel));
                }
            })?;
        }
        foreign.sort();
        if let Some(first) = foreign.first() {
            let more = match foreign.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            bail!(
                "{}: not written by swvr{more}; swvr replaces its stage folders whole and deletes only files it wrote: move it out of {} and run again",
                first.display(),
                self.root.display()
            );
        }
        Ok(())
    }

    /// Converts an OUT written by an older swvr (real stage folders, a real
    /// manifest.json): its files become a generation (hard links), then each
    /// real folder is replaced by swvr's link. Readers see the same files
    /// throughout, except for the instant between the two renames that
    /// replace one folder (docs/out.md).
    fn adopt_legacy(&self) -> Result<()> {
        let stages = self.stages()?;
        let real: Vec<&str> = stages
            .iter()
            .map(String::as_str)
            .filter(|s| std::fs::symlink_metadata(self.root.join(s)).is_ok_and(|m| m.is_dir()))
            .collect();
        let manifest_real = std::fs::symlink_metadata(self.root.join(MANIFEST)).is_ok_and(|m| m.is_file());
        if real.is_empty() && !manifest_real {
            return Ok(());
        }
        let current = self.current()?;
        let staging = self.new_staging()?;
        for stage in stages.iter().map(String::as_str) {
            let from = if real.contains(&stage) {
                Some(self.root.join(stage))
            } else {
                current.as_ref().map(|g| g.join(stage))
            };
            if let Some(from) = from.filter(|f| std::fs::symlink_metadata(f).is_ok_and(|m| m.is_dir())) {
                link_tree(&from, &staging.dir.join(stage))?;
            }
        }
        let manifest_from = if manifest_real {
            Some(self.root.join(MANIFEST))
        } else {
            current.as_ref().map(|g| g.join(MANIFEST))
        };
        if let Some(m) = manifest_from.filter(|m| m.is_file()) {
            link_or_copy(&m, &staging.dir.join(MANIFEST))?;
        }
        let gen_dir = self.seal(staging)?;
        self.point_to(&gen_dir)?;
        for stage in real {
            let legacy = self.root.join(format!("{LEGACY}{stage}"));
            let p = self.root.join(stage);
            std::fs::rename(&p, &legacy).with_context(|| format!("{}: cannot move", p.display()))?;
            step("legacy-moved");
            replace_link(&self.root, &link_target(stage), &p)?;
            std::fs::remove_dir_all(&legacy).with_context(|| format!("{}: cannot remove", legacy.display()))?;
        }
        if manifest_real {
            replace_link(&self.root, &link_target(MANIFEST), &self.root.join(MANIFEST))?;
        }
        self.prune()?;
        Ok(())
    }

    /// Links for the current generation's folders that are missing (after a
    /// kill during a conversion, or removed by hand).
    fn repair_links(&self) -> Result<()> {
        let Some(g) = self.current()? else {
            return Ok(());
        };
        self.make_links(&g)
    }

    /// Links for the folders (and manifest) of generation `g` whose link is missing.
    fn make_links(&self, g: &Path) -> Result<()> {
        let mut names = folders(g)?;
        names.push(MANIFEST.to_string());
        for name in &names {
            let p = self.root.join(name);
            if std::fs::symlink_metadata(g.join(name)).is_ok() && std::fs::symlink_metadata(&p).is_err() {
                replace_link(&self.root, &link_target(name), &p)?;
            }
        }
        Ok(())
    }

    fn new_staging(&self) -> Result<Staging> {
        let dir = self.root.join(format!("{STAGING}{}", std::process::id()));
        if std::fs::symlink_metadata(&dir).is_ok() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("{}: cannot remove", dir.display()))?;
        }
        std::fs::create_dir(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
        Ok(Staging { dir, done: false })
    }

    /// A new generation in staging, empty (`swvr run` writes every stage).
    pub fn fresh_staging(&self) -> Result<Staging> {
        let staging = self.new_staging()?;
        step("staged");
        Ok(staging)
    }

    /// A new generation in staging, holding (hard links to) the current
    /// generation's stage folders except `replaced`, which the command writes.
    pub fn staging(&self, replaced: &[&str]) -> Result<Staging> {
        let staging = self.new_staging()?;
        if let Some(g) = self.current()? {
            for stage in folders(&g)?.iter().filter(|s| !replaced.contains(&s.as_str())) {
                link_tree(&g.join(stage), &staging.dir.join(stage))?;
            }
        }
        step("staged");
        Ok(staging)
    }

    /// Writes the record of owned files and renames staging to the next
    /// generation (not yet current).
    fn seal(&self, mut staging: Staging) -> Result<PathBuf> {
        let mut files = Vec::new();
        walk_files(&staging.dir, &mut |rel, ft| {
            if ft.is_file() && !rel.split('/').any(|c| c.starts_with('.')) {
                files.push(rel.to_string());
            }
        })?;
        files.sort();
        let mut text = files.join("\n");
        text.push('\n');
        swvr_core::io::write_atomic(&staging.dir.join(OWNED), text.as_bytes())?;
        let n = self.next_generation()?;
        let gen_dir = self.root.join(format!("{GEN}{n}"));
        // Every folder's entries on disk before the generation can become current.
        sync_tree(&staging.dir);
        std::fs::rename(&staging.dir, &gen_dir)
            .with_context(|| format!("{}: cannot move into place", gen_dir.display()))?;
        sync_dir(&self.root);
        staging.done = true;
        step("sealed");
        Ok(gen_dir)
    }

    fn next_generation(&self) -> Result<u64> {
        let mut max = 0;
        for entry in std::fs::read_dir(&self.root)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if let Some(n) = name.strip_prefix(GEN).and_then(|n| n.parse::<u64>().ok()) {
                max = max.max(n);
            }
        }
        Ok(max + 1)
    }

    /// The switch: `.swvr-current` replaced by one rename.
    fn point_to(&self, gen_dir: &Path) -> Result<()> {
        let tmp = self.root.join(CURRENT_NEW);
        let _ = std::fs::remove_file(&tmp);
        let name = gen_dir.file_name().map(PathBuf::from).unwrap_or_default();
        symlink(&name, &tmp).with_context(|| no_symlink(&tmp))?;
        step("pointer-ready");
        std::fs::rename(&tmp, self.root.join(CURRENT)).with_context(|| {
            format!(
                "{}: cannot switch to the new outputs",
                self.root.join(CURRENT).display()
            )
        })?;
        sync_dir(&self.root);
        step("switched");
        Ok(())
    }

    /// After a switch: links to folders the new generation does not have,
    /// and generations that are not current, are removed.
    fn prune(&self) -> Result<()> {
        let Some(g) = self.current()? else {
            return Ok(());
        };
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let p = entry.path();
            let ours = std::fs::read_link(&p).is_ok_and(|t| t == link_target(&name));
            if ours && std::fs::symlink_metadata(g.join(&name)).is_err() {
                std::fs::remove_file(&p).with_context(|| format!("{}: cannot remove", p.display()))?;
            }
        }
        step("unlinked");
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.strip_prefix(GEN).is_some_and(|n| n.parse::<u64>().is_ok()) && path != g {
                std::fs::remove_dir_all(&path).with_context(|| format!("{}: cannot remove", path.display()))?;
            }
        }
        step("pruned");
        Ok(())
    }

    /// Makes `staging` the outputs of OUT, with `manifest` (a `swvr run`)
    /// or without (a stage command: the previous manifest no longer
    /// describes the folder). The one instant of change is the rename of
    /// `.swvr-current`.
    pub fn commit(&self, staging: Staging, manifest: Option<&[u8]>) -> Result<()> {
        if let Some(bytes) = manifest {
            swvr_core::io::write_atomic(&staging.dir.join(MANIFEST), bytes)?;
        }
        let gen_dir = self.seal(staging)?;
        // Links for folders the new generation has: until the switch they
        // lead where the previous generation has nothing (or the same name).
        self.make_links(&gen_dir)?;
        step("linked");
        self.point_to(&gen_dir)?;
        self.prune()
    }

    /// An error whose text names paths in `staging` named as under OUT
    /// (what the user sees), on one line.
    pub fn user_paths(&self, staging: &Staging, err: anyhow::Error) -> anyhow::Error {
        let from = staging.dir.display().to_string();
        let text = crate::one_line(&err);
        if !text.contains(&from) {
            return err;
        }
        anyhow::anyhow!(text.replace(&from, &self.root.display().to_string()))
    }
}

/// The folders of a generation (not `.` names), sorted.
fn folders(gen_dir: &Path) -> Result<Vec<String>> {
    let mut v = Vec::new();
    for entry in std::fs::read_dir(gen_dir).with_context(|| format!("{}: cannot list", gen_dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.file_type()?.is_dir() {
            v.push(name);
        }
    }
    v.sort();
    Ok(v)
}

/// Syncs a folder and every folder below it (best effort).
fn sync_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                sync_tree(&entry.path());
            }
        }
    }
    sync_dir(dir);
}

/// Syncs a folder's entries to disk (best effort).
fn sync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Every entry under `dir` that is not a folder, relative and
/// `/`-separated, with its type (links are not followed).
fn walk_files(dir: &Path, f: &mut dyn FnMut(&str, &std::fs::FileType)) -> Result<()> {
    fn go(root: &Path, dir: &Path, f: &mut dyn FnMut(&str, &std::fs::FileType)) -> Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("{}: cannot list", dir.display()))?
            .collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let ft = entry.file_type()?;
            let path = entry.path();
            if ft.is_dir() {
                go(root, &path, f)?;
            } else if let Ok(rel) = path.strip_prefix(root) {
                f(&slash(rel), &ft);
            }
        }
        Ok(())
    }
    go(dir, dir, f)
}

/// `to` as a copy of the tree `from` made of hard links (regular files
/// only; swvr replaces files by rename and never writes into one, so the
/// generations can share them).
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("{}: cannot create", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("{}: cannot list", from.display()))? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if ft.is_dir() {
            link_tree(&entry.path(), &to.join(&name))?;
        } else if ft.is_file() {
            link_or_copy(&entry.path(), &to.join(&name))?;
        }
    }
    Ok(())
}

fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).with_context(|| format!("{}: cannot copy to {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// The record of a generation (empty when missing).
fn read_owned(gen_dir: &Path) -> Result<BTreeSet<String>> {
    let p = gen_dir.join(OWNED);
    match swvr_core::io::open_input(&p) {
        Ok(mut f) => {
            let mut text = String::new();
            f.read_to_string(&mut text)
                .with_context(|| format!("{}: cannot read", p.display()))?;
            Ok(text.lines().map(str::to_string).collect())
        }
        Err(_) => Ok(BTreeSet::new()),
    }
}

/// Outputs listed in a manifest of an older layout (a real file).
fn legacy_listed(path: &Path) -> BTreeSet<String> {
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        return BTreeSet::new();
    }
    let Ok(f) = swvr_core::io::open_input(path) else {
        return BTreeSet::new();
    };
    let v: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(f)).unwrap_or_default();
    v.get("outputs")
        .and_then(|o| o.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|o| o.get("path").and_then(|p| p.as_str()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The files a stage folder holds when an older swvr wrote it.
fn known(stage: &str, name: &str) -> bool {
    match stage {
        "ingest" => matches!(
            name,
            "respondents.arrow" | "rejects.csv" | "validation.json" | "questionnaire.toml"
        ),
        "fieldwork" => matches!(
            name,
            "quality.arrow"
                | "interviewers.arrow"
                | "summary.json"
                | "response_rates.arrow"
                | "reconciliation.csv"
                | "calls_rejects.csv"
        ),
        "weight" => matches!(
            name,
            "weighted.arrow" | "diagnostics.json" | "scheme.toml" | "replicates.arrow"
        ),
        "tabulate" => matches!(name, "tables.arrow" | "tables.csv" | "contrasts.arrow" | "report.md"),
        "model" => matches!(name, "odds_ratios.arrow" | "report.md" | "spec.toml"),
        "report" => name == "index.html",
        "export" => ["weighted.", "tables.", "odds_ratios.", "topline."]
            .iter()
            .any(|p| name.starts_with(p)),
        _ => false,
    }
}

/// A temporary file of [`swvr_core::io::AtomicFile`]: `.NAME.PID.tmp`.
fn temp_file(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

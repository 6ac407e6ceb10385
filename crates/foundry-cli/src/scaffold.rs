//! Writing generated files: a plan of new files and registrations (lines inserted before
//! `// foundry:<marker>` comments) that is checked as a whole before anything is written, so
//! a refused generator leaves the app untouched.

use std::path::{Path, PathBuf};

/// The comment that marks where a registration goes: `// foundry:<name>`.
pub(crate) fn marker(name: &str) -> String {
    format!("// foundry:{name}")
}

/// One registration: `line` goes before the `marker` comment in `file`.
#[derive(Debug, Clone)]
struct Registration {
    file: String,
    marker: String,
    line: String,
}

/// What a generator will write, relative to the app root.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    files: Vec<(String, String)>,
    registrations: Vec<Registration>,
}

impl Plan {
    /// Create `path` with `contents`.
    pub(crate) fn file(&mut self, path: impl Into<String>, contents: impl Into<String>) {
        self.files.push((path.into(), contents.into()));
    }

    /// Insert `line` (one or more lines) before `// foundry:<marker>` in `file`.
    pub(crate) fn register(&mut self, file: &str, marker_name: &str, line: impl Into<String>) {
        self.registrations.push(Registration {
            file: file.to_owned(),
            marker: marker(marker_name),
            line: line.into(),
        });
    }

    /// Whether the plan creates `path`.
    pub(crate) fn creates(&self, path: &str) -> bool {
        self.files.iter().any(|(p, _)| p == path)
    }

    /// Check the whole plan, then write it under `root`. Existing files are refused unless
    /// `force`; a missing marker is an error naming the file and the comment to restore.
    /// Returns what was done, one line per file (`created …`, `updated …`).
    pub(crate) fn apply(&self, root: &Path, force: bool) -> Result<Vec<String>, String> {
        let existing: Vec<&str> = self
            .files
            .iter()
            .filter(|(path, _)| root.join(path).exists())
            .map(|(path, _)| path.as_str())
            .collect();
        if !force && !existing.is_empty() {
            return Err(format!(
                "{} already exist{}; nothing was written (pass --force to overwrite)",
                existing.join(", "),
                if existing.len() == 1 { "s" } else { "" }
            ));
        }
        // Registrations apply to the file as it is on disk, or as this plan creates it.
        let mut edited: Vec<(String, String)> = Vec::new();
        for reg in &self.registrations {
            let current = match edited.iter().position(|(p, _)| *p == reg.file) {
                Some(i) => edited[i].1.clone(),
                None => match self.files.iter().find(|(p, _)| *p == reg.file) {
                    Some((_, contents)) => contents.clone(),
                    None => std::fs::read_to_string(root.join(&reg.file)).map_err(|err| {
                        format!(
                            "cannot read {} to register `{}`: {err}; is this the app's root directory?",
                            reg.file,
                            reg.line.trim()
                        )
                    })?,
                },
            };
            let updated = insert_before_marker(&current, &reg.marker, &reg.line).ok_or_else(|| {
                format!(
                    "{} has no `{}` comment, so `{}` cannot be registered there; put the comment back where generated entries belong, or add the line yourself",
                    reg.file,
                    reg.marker,
                    reg.line.trim()
                )
            })?;
            match edited.iter_mut().find(|(p, _)| *p == reg.file) {
                Some(entry) => entry.1 = updated,
                None => edited.push((reg.file.clone(), updated)),
            }
        }
        let mut report = Vec::new();
        for (path, contents) in &self.files {
            let contents = edited
                .iter()
                .find(|(p, _)| p == path)
                .map_or(contents, |(_, c)| c);
            write(&root.join(path), contents)?;
            let verb = if existing.contains(&path.as_str()) {
                "overwrote"
            } else {
                "created"
            };
            report.push(format!("{verb} {path}"));
        }
        for (path, contents) in &edited {
            if self.creates(path) {
                continue;
            }
            let before = std::fs::read_to_string(root.join(path)).unwrap_or_default();
            if before != *contents {
                write(&root.join(path), contents)?;
                report.push(format!("updated {path}"));
            }
        }
        Ok(report)
    }
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    }
    std::fs::write(path, contents).map_err(|err| format!("cannot write {}: {err}", path.display()))
}

/// `text` with `lines` inserted before the line holding only `marker`, indented like it.
/// Lines already present (ignoring indentation) are not inserted again, so re-running a
/// generator with `--force` does not register twice. `None` when the marker is missing.
pub(crate) fn insert_before_marker(text: &str, marker: &str, lines: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + lines.len() + 16);
    let mut found = false;
    let present: Vec<&str> = text.lines().map(str::trim).collect();
    for line in text.split_inclusive('\n') {
        if !found && line.trim() == marker {
            found = true;
            let indent = &line[..line.len() - line.trim_start().len()];
            let new: Vec<&str> = lines.lines().collect();
            let already = new
                .iter()
                .filter(|l| !l.trim().is_empty())
                .all(|l| present.contains(&l.trim()));
            if !already {
                for new_line in new {
                    if new_line.trim().is_empty() {
                        out.push('\n');
                    } else {
                        out.push_str(indent);
                        out.push_str(new_line);
                        out.push('\n');
                    }
                }
            }
        }
        out.push_str(line);
    }
    found.then_some(out)
}

/// The app directory: `dir` when its `Cargo.toml` declares a package that depends on
/// `foundry`. Returns the package name too.
pub(crate) fn find_app(dir: &Path) -> Result<(PathBuf, String), String> {
    let manifest = dir.join("Cargo.toml");
    let hint = "run `foundry` from the directory of a RustForge app (the one with its Cargo.toml and foundry.toml)";
    let text = std::fs::read_to_string(&manifest).map_err(|_| {
        format!(
            "{} is not a RustForge app: there is no Cargo.toml; {hint}",
            dir.display()
        )
    })?;
    let doc: toml::Table = text
        .parse()
        .map_err(|err| format!("cannot parse {}: {err}", manifest.display()))?;
    let Some(package) = doc.get("package").and_then(toml::Value::as_table) else {
        return Err(format!(
            "{} is not a RustForge app: its Cargo.toml has no [package] (a workspace root?); {hint}",
            dir.display()
        ));
    };
    let depends = ["dependencies", "dev-dependencies"]
        .iter()
        .filter_map(|section| doc.get(*section).and_then(toml::Value::as_table))
        .any(|deps| deps.contains_key("foundry"));
    if !depends {
        return Err(format!(
            "{} is not a RustForge app: its Cargo.toml does not depend on `foundry`; {hint}",
            dir.display()
        ));
    }
    let name = package
        .get("name")
        .and_then(toml::Value::as_str)
        .unwrap_or("app")
        .to_owned();
    Ok((dir.to_path_buf(), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str =
        "pub fn all() -> Vec<u8> {\n    vec![\n        1,\n        // foundry:items\n    ]\n}\n";

    #[test]
    fn lines_go_before_the_marker_with_its_indentation_once() {
        let once = insert_before_marker(LIST, "// foundry:items", "2,").unwrap();
        assert_eq!(
            once,
            "pub fn all() -> Vec<u8> {\n    vec![\n        1,\n        2,\n        // foundry:items\n    ]\n}\n"
        );
        let twice = insert_before_marker(&once, "// foundry:items", "2,").unwrap();
        assert_eq!(twice, once, "a registered line is not added again");
        let multi = insert_before_marker(&once, "// foundry:items", "3,\n4,").unwrap();
        assert!(multi.contains("        2,\n        3,\n        4,\n        // foundry:items"));
        assert!(insert_before_marker(LIST, "// foundry:other", "2,").is_none());
    }

    #[test]
    fn a_plan_refuses_existing_files_and_missing_markers_without_writing_anything() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/mod.rs"), LIST).unwrap();
        std::fs::write(dir.path().join("src/post.rs"), "old").unwrap();

        let mut plan = Plan::default();
        plan.file("src/post.rs", "new");
        plan.file("src/comment.rs", "comment");
        plan.register("src/mod.rs", "items", "2,");
        let err = plan.apply(dir.path(), false).unwrap_err();
        assert!(err.contains("src/post.rs already exists"), "{err}");
        assert!(err.contains("--force"), "{err}");
        assert!(!dir.path().join("src/comment.rs").exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("src/mod.rs")).unwrap(),
            LIST
        );

        let mut broken = Plan::default();
        broken.file("src/tag.rs", "tag");
        broken.register("src/mod.rs", "missing", "3,");
        let err = broken.apply(dir.path(), false).unwrap_err();
        assert!(
            err.contains("src/mod.rs has no `// foundry:missing` comment"),
            "{err}"
        );
        assert!(!dir.path().join("src/tag.rs").exists());

        let report = plan.apply(dir.path(), true).unwrap();
        assert_eq!(
            report,
            [
                "overwrote src/post.rs",
                "created src/comment.rs",
                "updated src/mod.rs"
            ]
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("src/post.rs")).unwrap(),
            "new"
        );
        let again = plan.apply(dir.path(), true).unwrap();
        assert!(!again.iter().any(|l| l.starts_with("updated")), "{again:?}");
    }

    #[test]
    fn registrations_apply_to_files_the_plan_creates() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = Plan::default();
        plan.file("src/middleware/mod.rs", "// foundry:modules\n");
        plan.register("src/middleware/mod.rs", "modules", "pub mod auth;");
        plan.apply(dir.path(), false).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("src/middleware/mod.rs")).unwrap(),
            "pub mod auth;\n// foundry:modules\n"
        );
    }
}

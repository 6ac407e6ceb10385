//! The generator templates, compiled into the binary and rendered with minijinja.

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Value};

/// Every template: its name and source.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "new/Cargo.toml",
        include_str!("../templates/new/Cargo.toml.jinja"),
    ),
    (
        "new/foundry.toml",
        include_str!("../templates/new/foundry.toml.jinja"),
    ),
    (
        "new/.env.example",
        include_str!("../templates/new/env.example.jinja"),
    ),
    (
        "new/askama.toml",
        include_str!("../templates/new/askama.toml.jinja"),
    ),
    (
        "new/.gitignore",
        include_str!("../templates/new/gitignore.jinja"),
    ),
    (
        "new/main.rs",
        include_str!("../templates/new/main.rs.jinja"),
    ),
    ("new/lib.rs", include_str!("../templates/new/lib.rs.jinja")),
    ("new/app.rs", include_str!("../templates/new/app.rs.jinja")),
    (
        "new/routes.rs",
        include_str!("../templates/new/routes.rs.jinja"),
    ),
    (
        "new/welcome.html",
        include_str!("../templates/new/welcome.html.jinja"),
    ),
    ("new/mod.rs", include_str!("../templates/new/mod.rs.jinja")),
    (
        "new/migrations.rs",
        include_str!("../templates/new/migrations.rs.jinja"),
    ),
    (
        "new/test.rs",
        include_str!("../templates/new/test.rs.jinja"),
    ),
    (
        "make/model.rs",
        include_str!("../templates/make/model.rs.jinja"),
    ),
    (
        "make/migration.rs",
        include_str!("../templates/make/migration.rs.jinja"),
    ),
    (
        "make/factory.rs",
        include_str!("../templates/make/factory.rs.jinja"),
    ),
    (
        "make/seeder.rs",
        include_str!("../templates/make/seeder.rs.jinja"),
    ),
    (
        "make/controller.rs",
        include_str!("../templates/make/controller.rs.jinja"),
    ),
    (
        "make/request.rs",
        include_str!("../templates/make/request.rs.jinja"),
    ),
    (
        "make/resource.rs",
        include_str!("../templates/make/resource.rs.jinja"),
    ),
    (
        "make/middleware.rs",
        include_str!("../templates/make/middleware.rs.jinja"),
    ),
    (
        "make/command.rs",
        include_str!("../templates/make/command.rs.jinja"),
    ),
    (
        "make/job.rs",
        include_str!("../templates/make/job.rs.jinja"),
    ),
    (
        "make/test.rs",
        include_str!("../templates/make/test.rs.jinja"),
    ),
];

/// Render the template `name` with `context`.
pub(crate) fn render(name: &str, context: Value) -> Result<String, String> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|err| format!("internal error: template syntax: {err}"))?,
    );
    let source = TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, source)| *source)
        .ok_or_else(|| format!("internal error: no template `{name}`"))?;
    env.render_str(source, context)
        .map(|text| squeeze_blank_lines(&text))
        .map_err(|err| format!("internal error: template `{name}` does not render: {err:#}"))
}

/// Collapse runs of blank lines (left by optional template sections) into one.
fn squeeze_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, source) in TEMPLATES {
            let env = Environment::new();
            env.template_from_str(source)
                .unwrap_or_else(|err| panic!("{name}: {err:#}"));
        }
    }

    #[test]
    fn blank_runs_collapse() {
        assert_eq!(squeeze_blank_lines("a\n\n\n\nb\n"), "a\n\nb\n");
    }
}

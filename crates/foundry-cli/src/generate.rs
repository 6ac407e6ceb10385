//! `foundry make:<thing> <Name>`: generators that write files into the app and register them
//! through `// foundry:<marker>` comments.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, ArgMatches, Command};
use minijinja::{Value, context};

use crate::fields::{self, Field};
use crate::names::{
    crate_ident, plural, snake_case, studly_case, type_name, with_suffix, without_suffix,
};
use crate::scaffold::{Plan, find_app};
use crate::templates::render;

/// The generators and what they make.
pub(crate) const GENERATORS: &[(&str, &str)] = &[
    (
        "model",
        "a model (-m migration, -f factory, -s seeder, -c/-r controller, --all)",
    ),
    (
        "migration",
        "a migration (create_x_table, add_x_to_y_table)",
    ),
    ("controller", "a controller (--api, --resource, --model)"),
    ("request", "a form request: validated input"),
    ("resource", "an API resource: a model's JSON shape"),
    ("seeder", "a seeder"),
    ("factory", "a model factory"),
    ("middleware", "a middleware"),
    ("command", "an app command"),
    ("job", "a queued job"),
    ("test", "a test using foundry-testing"),
];

/// Generators of components RustForge does not have yet, and the component each needs.
const NOT_YET: &[(&str, &str)] = &[
    ("policy", "authorization (policies)"),
    ("event", "events"),
    ("listener", "events"),
    ("mail", "mail"),
    ("notification", "notifications"),
    ("observer", "model observers"),
];

fn force() -> Arg {
    Arg::new("force")
        .long("force")
        .action(ArgAction::SetTrue)
        .help("Overwrite files that exist")
}

fn flag(name: &'static str, short: char, help: &'static str) -> Arg {
    Arg::new(name)
        .short(short)
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help)
}

fn long_flag(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help)
}

fn fields_arg() -> Arg {
    Arg::new("fields")
        .long("fields")
        .value_name("SPEC")
        .help("Columns, e.g. title:string,body:text,user_id:foreign,published_at:datetime (`?` = nullable); types: string, text, integer, boolean, float, datetime, foreign")
}

/// The clap definition of `make:<thing>`.
fn command(thing: &str) -> Command {
    let about = GENERATORS
        .iter()
        .find(|(n, _)| *n == thing)
        .map_or("", |(_, a)| *a);
    let base = Command::new(format!("make:{thing}"))
        .bin_name(format!("foundry make:{thing}"))
        .about(format!("Create {about}"))
        .arg(Arg::new("name").required(true).help("The name, e.g. Post"))
        .arg(force());
    match thing {
        "model" => base
            .arg(flag(
                "migration",
                'm',
                "Also a migration creating its table",
            ))
            .arg(flag("factory", 'f', "Also a factory"))
            .arg(flag("seeder", 's', "Also a seeder"))
            .arg(flag("controller", 'c', "Also a controller"))
            .arg(flag(
                "resource",
                'r',
                "The controller is a resource controller",
            ))
            .arg(long_flag(
                "api",
                "The controller is an API resource controller",
            ))
            .arg(flag("requests", 'R', "Also store and update form requests"))
            .arg(flag(
                "all",
                'a',
                "Migration, factory, seeder, requests and a resource controller",
            ))
            .arg(fields_arg()),
        "migration" => base
            .arg(
                Arg::new("create")
                    .long("create")
                    .value_name("TABLE")
                    .help("The table to create"),
            )
            .arg(
                Arg::new("table")
                    .long("table")
                    .value_name("TABLE")
                    .help("The table to change"),
            )
            .arg(fields_arg()),
        "controller" => base
            .arg(flag(
                "resource",
                'r',
                "The seven resource actions, registered with .resource()",
            ))
            .arg(long_flag(
                "api",
                "The five API actions, registered with .api_resource() under /api",
            ))
            .arg(
                Arg::new("model")
                    .long("model")
                    .short('m')
                    .value_name("MODEL")
                    .help("The model it manages"),
            )
            .arg(flag(
                "requests",
                'R',
                "Store and update form requests for its input",
            )),
        "request" | "resource" => base.arg(
            Arg::new("model")
                .long("model")
                .short('m')
                .value_name("MODEL")
                .help("Take the fields of this model (default: the model the name mentions)"),
        ),
        "seeder" | "factory" => base.arg(
            Arg::new("model")
                .long("model")
                .short('m')
                .value_name("MODEL")
                .help("The model (default: the name without its suffix)"),
        ),
        _ => base,
    }
}

/// The app a generator writes into.
struct AppDir {
    root: PathBuf,
    krate: String,
    app_type: String,
}

impl AppDir {
    fn open(cwd: &Path) -> Result<Self, String> {
        let (root, package) = find_app(cwd)?;
        let krate = crate_ident(&package);
        // The type implementing `App`, as `foundry new` wrote it or as the app renamed it.
        let app_type = std::fs::read_to_string(root.join("src/app.rs"))
            .ok()
            .and_then(|text| {
                text.lines().find_map(|l| {
                    l.trim()
                        .strip_prefix("impl App for ")
                        .map(|rest| rest.trim_end_matches('{').trim().to_owned())
                })
            })
            .unwrap_or_else(|| studly_case(&krate));
        Ok(Self {
            root,
            krate,
            app_type,
        })
    }

    fn exists(&self, path: &str) -> bool {
        self.root.join(path).exists()
    }

    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(path)).ok()
    }

    /// The fields of `model`, read from src/models/<model>.rs.
    fn model_fields(&self, model: &str) -> Option<Vec<Field>> {
        self.read(&model_path(model))
            .map(|source| fields::read_model(&source, model))
    }
}

fn model_path(model: &str) -> String {
    format!("src/models/{}.rs", snake_case(model))
}

/// Register `pub mod <module>;` in the module directory `dir` (`src/factories`), creating
/// its `mod.rs` and declaring it in src/lib.rs when the app has none yet.
fn module(plan: &mut Plan, app: &AppDir, dir: &str, module: &str, doc: &str) -> Result<(), String> {
    let mod_rs = format!("src/{dir}/mod.rs");
    if !app.exists(&mod_rs) && !plan.creates(&mod_rs) {
        plan.file(
            &mod_rs,
            render(
                "new/mod.rs",
                context! { doc => doc, uses => "", body => "" },
            )?,
        );
        plan.register("src/lib.rs", "modules", format!("pub mod {dir};"));
    }
    plan.register(&mod_rs, "modules", format!("pub mod {module};"));
    Ok(())
}

/// Run `make:<thing>` with its arguments (after the command name).
pub(crate) fn run(name: &str, args: &[std::ffi::OsString], cwd: &Path) -> Result<(), Failure> {
    let thing = name.strip_prefix("make:").unwrap_or("");
    if let Some((_, component)) = NOT_YET.iter().find(|(n, _)| *n == thing) {
        return Err(Failure::Refused(format!(
            "`make:{thing}` is not available yet: RustForge has no {component} component yet, so there is nothing for a generated {thing} to plug into"
        )));
    }
    if !GENERATORS.iter().any(|(n, _)| *n == thing) {
        return Err(Failure::Unknown(unknown(name)));
    }
    let matches = command(thing)
        .try_get_matches_from(std::iter::once(name.into()).chain(args.iter().cloned()))
        .map_err(Failure::Usage)?;
    let app = AppDir::open(cwd).map_err(Failure::Refused)?;
    let force = matches.get_flag("force");
    let mut plan = Plan::default();
    let mut notes = Vec::new();
    let raw: &String = matches
        .get_one("name")
        .ok_or_else(|| Failure::Refused("a name is required".to_owned()))?;
    let result = match thing {
        "model" => model(&mut plan, &app, raw, &matches, &mut notes),
        "migration" => migration(&mut plan, &app, raw, &matches, force, &mut notes),
        "controller" => controller(&mut plan, &app, raw, &matches, &mut notes),
        "request" => request(&mut plan, &app, raw, matches.get_one::<String>("model")),
        "resource" => resource(&mut plan, &app, raw, matches.get_one::<String>("model")),
        "seeder" => seeder(&mut plan, &app, raw, matches.get_one::<String>("model")),
        "factory" => factory(&mut plan, &app, raw, matches.get_one::<String>("model")),
        "middleware" => middleware(&mut plan, &app, raw),
        "command" => app_command(&mut plan, &app, raw),
        "job" => job(&mut plan, raw),
        "test" => test(&mut plan, &app, raw),
        _ => Err(unknown(name)),
    };
    result.map_err(Failure::Refused)?;
    for line in plan.apply(&app.root, force).map_err(Failure::Refused)? {
        println!("  {line}");
    }
    for note in notes {
        println!("{note}");
    }
    Ok(())
}

/// Why a generator did not run.
pub(crate) enum Failure {
    /// Bad arguments: clap's message (and exit code).
    Usage(clap::Error),
    /// No such generator (with suggestions).
    Unknown(String),
    /// The generator refused: the message says why.
    Refused(String),
}

/// "`make:modle` is not a generator; did you mean `make:model`?"
pub(crate) fn unknown(name: &str) -> String {
    let list: Vec<String> = GENERATORS
        .iter()
        .map(|(n, _)| format!("make:{n}"))
        .collect();
    if name == "make" || name == "make:" {
        return format!(
            "`{name}` needs a generator: foundry make:<thing> <Name>\n\n  The generators: {}",
            list.join(", ")
        );
    }
    let mut candidates: Vec<(usize, &str)> = GENERATORS
        .iter()
        .map(|(n, _)| *n)
        .chain(NOT_YET.iter().map(|(n, _)| *n))
        .map(|n| (strsim::levenshtein(name.trim_start_matches("make:"), n), n))
        .filter(|(distance, _)| *distance <= 3)
        .collect();
    candidates.sort();
    let list: Vec<String> = GENERATORS
        .iter()
        .map(|(n, _)| format!("make:{n}"))
        .collect();
    match candidates.first() {
        Some((_, best)) => format!(
            "`{name}` is not a generator; did you mean `make:{best}`?\n\n  The generators: {}",
            list.join(", ")
        ),
        None => format!(
            "`{name}` is not a generator\n\n  The generators: {}",
            list.join(", ")
        ),
    }
}

fn model(
    plan: &mut Plan,
    app: &AppDir,
    raw: &str,
    args: &ArgMatches,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let model = type_name(raw)?;
    let fields = match args.get_one::<String>("fields") {
        Some(spec) => fields::parse(spec)?,
        None => Vec::new(),
    };
    let all = args.get_flag("all");
    let table = plural(&snake_case(&model));
    let module_name = snake_case(&model);
    let fillable: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    plan.file(
        model_path(&model),
        render(
            "make/model.rs",
            context! {
                model => &model,
                table => &table,
                label => snake_case(&model).replace('_', " "),
                fillable => fillable.join(", "),
                fields => fields.iter().map(|f| f.value(false)).collect::<Vec<_>>(),
            },
        )?,
    );
    plan.register(
        "src/models/mod.rs",
        "modules",
        format!("pub mod {module_name};\npub use {module_name}::{model};"),
    );
    if args.get_flag("migration") || all {
        let name = format!("create_{table}_table");
        migration_plan(
            plan,
            app,
            &name,
            &MigrationKind::Create(table.clone()),
            &fields,
            false,
        )?;
    }
    if args.get_flag("factory") || all {
        factory_plan(plan, &model, &fields)?;
        module(
            plan,
            app,
            "factories",
            &format!("{module_name}_factory"),
            "Model factories. `foundry make:factory` adds them here.",
        )?;
    }
    if args.get_flag("seeder") || all {
        let seeder = format!("{model}Seeder");
        seeder_plan(
            plan,
            app,
            &seeder,
            Some(&model),
            &fields,
            args.get_flag("factory") || all,
        )?;
    }
    let requests = args.get_flag("requests") || all;
    if requests {
        for prefix in ["Store", "Update"] {
            request_plan(
                plan,
                &format!("{prefix}{model}Request"),
                Some(&model),
                &fields,
            )?;
        }
    }
    let resource = args.get_flag("resource") || all;
    let api = args.get_flag("api");
    if args.get_flag("controller") || resource || api {
        let kind = if api {
            ControllerKind::Api
        } else if resource {
            ControllerKind::Web
        } else {
            ControllerKind::Plain
        };
        controller_plan(
            plan,
            &format!("{model}Controller"),
            kind,
            Some((&model, &fields)),
            requests,
            notes,
        )?;
    }
    notes.push(format!(
        "Model {model} (table `{table}`). Run `foundry migrate` after creating or changing migrations."
    ));
    Ok(())
}

/// What a migration does.
enum MigrationKind {
    Create(String),
    Alter(String),
    Blank,
}

fn migration(
    plan: &mut Plan,
    app: &AppDir,
    raw: &str,
    args: &ArgMatches,
    force: bool,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let name = snake_case(raw.trim());
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`{raw}` is not a valid migration name: use snake_case words, e.g. create_posts_table or add_published_at_to_posts_table"
        ));
    }
    let mut fields = match args.get_one::<String>("fields") {
        Some(spec) => fields::parse(spec)?,
        None => Vec::new(),
    };
    let kind = if let Some(table) = args.get_one::<String>("create") {
        MigrationKind::Create(snake_case(table))
    } else if let Some(table) = args.get_one::<String>("table") {
        MigrationKind::Alter(snake_case(table))
    } else {
        infer_migration(&name)
    };
    if let MigrationKind::Alter(table) = &kind
        && fields.is_empty()
    {
        // `add_published_at_to_posts_table`: the column named in the migration's name.
        let column = name
            .strip_prefix("add_")
            .and_then(|rest| rest.strip_suffix(&format!("_to_{table}_table")))
            .filter(|c| !c.is_empty());
        if let Some(column) = column {
            fields = fields::parse(&format!("{column}:string"))?;
            notes.push(format!(
                "The column `{column}` is a nullable string; change its type in the migration if it is something else, and add `pub {column}: Option<String>,` to the model."
            ));
        }
    }
    migration_plan(plan, app, &name, &kind, &fields, force)
}

/// A migration timestamp (`2026_11_22_063000`): now, or one second after the newest
/// migration's when that is not earlier, so names sort in the order migrations were made.
fn next_timestamp(app: &AppDir) -> String {
    const FORMAT: &str = "%Y_%m_%d_%H%M%S";
    let newest = std::fs::read_dir(app.root.join("migrations"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            chrono::NaiveDateTime::parse_from_str(file.get(..17)?, FORMAT).ok()
        })
        .max();
    let now = chrono::Utc::now().naive_utc();
    let at = match newest {
        Some(newest) if newest >= now => newest + chrono::Duration::seconds(1),
        _ => now,
    };
    at.format(FORMAT).to_string()
}

/// `create_posts_table` creates `posts`; `add_x_to_posts_table` alters `posts`.
fn infer_migration(name: &str) -> MigrationKind {
    if let Some(table) = name
        .strip_prefix("create_")
        .and_then(|rest| rest.strip_suffix("_table"))
        .filter(|t| !t.is_empty())
    {
        return MigrationKind::Create(table.to_owned());
    }
    if let Some(rest) = name.strip_suffix("_table")
        && let Some((_, table)) = rest
            .rsplit_once("_to_")
            .or_else(|| rest.rsplit_once("_from_"))
        && !table.is_empty()
    {
        return MigrationKind::Alter(table.to_owned());
    }
    MigrationKind::Blank
}

fn migration_plan(
    plan: &mut Plan,
    app: &AppDir,
    name: &str,
    kind: &MigrationKind,
    fields: &[Field],
    force: bool,
) -> Result<(), String> {
    // A name is used once: it is the module's name and the struct's.
    let existing = std::fs::read_dir(app.root.join("migrations"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|f| f.ends_with(&format!("_{name}.rs")) && f.len() > name.len() + 4);
    let stem = match existing {
        Some(file) if force => file.trim_end_matches(".rs").to_owned(),
        Some(file) => {
            return Err(format!(
                "a migration named `{name}` already exists (migrations/{file}); pick another name, or pass --force to overwrite it"
            ));
        }
        None => format!("{}_{name}", next_timestamp(app)),
    };
    let (kind_name, table, doc) = match kind {
        MigrationKind::Create(t) => ("create", t.as_str(), format!("Creates the `{t}` table.")),
        MigrationKind::Alter(t) => ("alter", t.as_str(), format!("Changes the `{t}` table.")),
        MigrationKind::Blank => ("blank", "", format!("The `{name}` migration.")),
    };
    let alter = matches!(kind, MigrationKind::Alter(_));
    let type_name = studly_case(name);
    plan.file(
        format!("migrations/{stem}.rs"),
        render(
            "make/migration.rs",
            context! {
                doc => doc,
                type_name => &type_name,
                full_name => &stem,
                kind => kind_name,
                table => table,
                fields => fields.iter().map(|f| f.value(alter)).collect::<Vec<_>>(),
            },
        )?,
    );
    plan.register(
        "migrations/mod.rs",
        "modules",
        format!("#[path = \"{stem}.rs\"]\nmod {name};"),
    );
    plan.register(
        "migrations/mod.rs",
        "migrations",
        format!("std::sync::Arc::new({name}::{type_name}),"),
    );
    Ok(())
}

fn factory(plan: &mut Plan, app: &AppDir, raw: &str, model: Option<&String>) -> Result<(), String> {
    let name = type_name(raw)?;
    let model = match model {
        Some(m) => type_name(m)?,
        None => without_suffix(&name, "Factory").to_owned(),
    };
    let fields = existing_model(app, &model, "factory")?;
    factory_plan(plan, &model, &fields)?;
    module(
        plan,
        app,
        "factories",
        &format!("{}_factory", snake_case(&model)),
        "Model factories. `foundry make:factory` adds them here.",
    )
}

fn existing_model(app: &AppDir, model: &str, what: &str) -> Result<Vec<Field>, String> {
    app.model_fields(model).ok_or_else(|| {
        format!(
            "there is no model {model} ({}), so a {what} for it would not compile; create it first with `foundry make:model {model}`, or name another model with --model",
            model_path(model)
        )
    })
}

fn factory_plan(plan: &mut Plan, model: &str, fields: &[Field]) -> Result<(), String> {
    let values: Vec<Value> = fields.iter().map(|f| f.value(false)).collect();
    let uses_fake = values.iter().any(|v| {
        v.get_attr("fake")
            .is_ok_and(|f| f.as_str().is_some_and(|s| s.contains("fake")))
    });
    plan.file(
        format!("src/factories/{}_factory.rs", snake_case(model)),
        render(
            "make/factory.rs",
            context! { model => model, fields => values, uses_fake => uses_fake },
        )?,
    );
    Ok(())
}

fn seeder(plan: &mut Plan, app: &AppDir, raw: &str, model: Option<&String>) -> Result<(), String> {
    let seeder = with_suffix(&type_name(raw)?, "Seeder");
    let model = match model {
        Some(m) => Some(type_name(m)?),
        None => Some(without_suffix(&seeder, "Seeder").to_owned()),
    }
    .filter(|m| app.exists(&model_path(m)));
    let has_factory = model
        .as_ref()
        .is_some_and(|m| app.exists(&format!("src/factories/{}_factory.rs", snake_case(m))));
    let fields = model
        .as_ref()
        .and_then(|m| app.model_fields(m))
        .unwrap_or_default();
    seeder_plan(plan, app, &seeder, model.as_deref(), &fields, has_factory)
}

fn seeder_plan(
    plan: &mut Plan,
    app: &AppDir,
    seeder: &str,
    model: Option<&str>,
    fields: &[Field],
    factory: bool,
) -> Result<(), String> {
    let module_name = snake_case(seeder);
    // Foreign keys come from existing rows of their models (`post_id` → the first Post).
    let parents: Vec<Value> = fields
        .iter()
        .filter(|f| f.kind == fields::Kind::Foreign)
        .map(|f| {
            let stem = f.name.trim_end_matches("_id");
            context! {
                field => f.name.clone(),
                model => studly_case(stem),
                var => stem,
                label => stem.replace('_', " "),
            }
        })
        .collect();
    let parents_exist = parents.iter().all(|p| {
        p.get_attr("model")
            .ok()
            .and_then(|m| m.as_str().map(model_path))
            .is_some_and(|path| app.exists(&path) || plan.creates(&path))
    });
    let factory = factory && parents_exist && model.is_some();
    plan.file(
        format!("src/seeders/{module_name}.rs"),
        render(
            "make/seeder.rs",
            context! {
                seeder => seeder,
                model => model,
                label => model.map(|m| snake_case(m).replace('_', " ")),
                factory => factory,
                parents => if factory { parents } else { Vec::new() },
            },
        )?,
    );
    plan.register(
        "src/seeders/mod.rs",
        "modules",
        format!("pub mod {module_name};"),
    );
    plan.register(
        "src/seeders/mod.rs",
        "seeders",
        format!("Box::new({module_name}::{seeder}),"),
    );
    Ok(())
}

/// What a controller is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ControllerKind {
    Plain,
    Api,
    Web,
}

fn controller(
    plan: &mut Plan,
    app: &AppDir,
    raw: &str,
    args: &ArgMatches,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let controller = with_suffix(&type_name(raw)?, "Controller");
    let kind = if args.get_flag("api") {
        ControllerKind::Api
    } else if args.get_flag("resource") {
        ControllerKind::Web
    } else {
        ControllerKind::Plain
    };
    let model = match args.get_one::<String>("model") {
        Some(m) => Some(type_name(m)?),
        None if kind == ControllerKind::Plain => None,
        None => Some(without_suffix(&controller, "Controller").to_owned()),
    };
    let model = match model {
        Some(model) => {
            let fields = app.model_fields(&model).ok_or_else(|| {
                format!(
                    "{controller} manages the model {model}, which does not exist ({}); create it with `foundry make:model {model}`, or name the model with --model",
                    model_path(&model)
                )
            })?;
            Some((model, fields))
        }
        None => None,
    };
    let requests = args.get_flag("requests");
    if requests {
        let (model, fields) = model
            .as_ref()
            .ok_or("--requests needs a model: add --model <Model>")?;
        for prefix in ["Store", "Update"] {
            request_plan(
                plan,
                &format!("{prefix}{model}Request"),
                Some(model),
                fields,
            )?;
        }
    }
    let model = model.as_ref().map(|(m, f)| (m.as_str(), f.as_slice()));
    controller_plan(plan, &controller, kind, model, requests, notes)
}

fn controller_plan(
    plan: &mut Plan,
    controller: &str,
    kind: ControllerKind,
    model: Option<(&str, &[Field])>,
    requests: bool,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let module_name = snake_case(controller);
    let stem = snake_case(without_suffix(controller, "Controller"));
    let (kind_name, model) = match (kind, model) {
        (ControllerKind::Plain, _) | (_, None) => ("plain", None),
        (ControllerKind::Api, Some(m)) => ("api", Some(m)),
        (ControllerKind::Web, Some(m)) => ("web", Some(m)),
    };
    let (model_name, fields) = model.unwrap_or(("", &[]));
    let table = plural(&snake_case(model_name));
    let route_path = if kind_name == "api" {
        format!("/api/{table}")
    } else {
        format!("/{table}")
    };
    plan.file(
        format!("src/controllers/{module_name}.rs"),
        render(
            "make/controller.rs",
            context! {
                kind => kind_name,
                controller => controller,
                module => &module_name,
                path => plural(&stem),
                model => model_name,
                var => snake_case(model_name),
                label => snake_case(model_name).replace('_', " "),
                plural_label => table.replace('_', " "),
                table => &table,
                route_path => route_path,
                per_page => 15,
                requests => requests,
                store_request => format!("Store{model_name}Request"),
                update_request => format!("Update{model_name}Request"),
                fields => fields.iter().map(|f| f.value(false)).collect::<Vec<_>>(),
            },
        )?,
    );
    plan.register(
        "src/controllers/mod.rs",
        "modules",
        format!("pub mod {module_name};"),
    );
    match kind_name {
        "api" => plan.register(
            "src/routes.rs",
            "api-routes",
            format!(".api_resource(\"{table}\", crate::controllers::{module_name}::resource())"),
        ),
        "web" => plan.register(
            "src/routes.rs",
            "routes",
            format!(".resource(\"{table}\", crate::controllers::{module_name}::resource())"),
        ),
        _ => notes.push(format!(
            "Add a route to it in src/routes.rs, e.g. `.get(\"/{}\", crate::controllers::{module_name}::index)`.",
            plural(&stem)
        )),
    }
    Ok(())
}

/// The model a name mentions: `StorePostRequest` → `Post`, `PostResource` → `Post`.
fn mentioned_model(app: &AppDir, name: &str, suffix: &str) -> Option<String> {
    let stem = without_suffix(name, suffix);
    ["Store", "Update", "Create", "Edit", ""]
        .iter()
        .filter_map(|prefix| stem.strip_prefix(prefix))
        .find(|m| !m.is_empty() && app.exists(&model_path(m)))
        .map(str::to_owned)
}

fn request(plan: &mut Plan, app: &AppDir, raw: &str, model: Option<&String>) -> Result<(), String> {
    let name = type_name(raw)?;
    let model = match model {
        Some(m) => Some(type_name(m)?),
        None => mentioned_model(app, &name, "Request"),
    };
    let fields = match &model {
        Some(m) => existing_model(app, m, "request")?,
        None => Vec::new(),
    };
    request_plan(plan, &name, model.as_deref(), &fields)
}

fn request_plan(
    plan: &mut Plan,
    name: &str,
    model: Option<&str>,
    fields: &[Field],
) -> Result<(), String> {
    let module_name = snake_case(name);
    plan.file(
        format!("src/requests/{module_name}.rs"),
        render(
            "make/request.rs",
            context! {
                request => name,
                model => model,
                has_datetime => fields.iter().any(|f| f.kind == fields::Kind::DateTime),
                fields => fields.iter().map(|f| f.value(false)).collect::<Vec<_>>(),
            },
        )?,
    );
    plan.register(
        "src/requests/mod.rs",
        "modules",
        format!("pub mod {module_name};\npub use {module_name}::{name};"),
    );
    Ok(())
}

fn resource(
    plan: &mut Plan,
    app: &AppDir,
    raw: &str,
    model: Option<&String>,
) -> Result<(), String> {
    let name = with_suffix(&type_name(raw)?, "Resource");
    let model = match model {
        Some(m) => type_name(m)?,
        None => mentioned_model(app, &name, "Resource")
            .unwrap_or_else(|| without_suffix(&name, "Resource").to_owned()),
    };
    let fields = existing_model(app, &model, "resource")?;
    let module_name = snake_case(&name);
    plan.file(
        format!("src/resources/{module_name}.rs"),
        render(
            "make/resource.rs",
            context! {
                resource => name,
                model => &model,
                var => snake_case(&model),
                label => snake_case(&model).replace('_', " "),
                fields => fields.iter().map(|f| f.value(false)).collect::<Vec<_>>(),
            },
        )?,
    );
    module(
        plan,
        app,
        "resources",
        &module_name,
        "API resources: how models look in JSON. `foundry make:resource` adds them here.",
    )
}

fn middleware(plan: &mut Plan, app: &AppDir, raw: &str) -> Result<(), String> {
    let name = type_name(raw)?;
    let module_name = snake_case(&name);
    let key = snake_case(without_suffix(&name, "Middleware"));
    plan.file(
        format!("src/middleware/{module_name}.rs"),
        render("make/middleware.rs", context! { key => &key })?,
    );
    module(
        plan,
        app,
        "middleware",
        &module_name,
        "The app's middleware. `foundry make:middleware` adds them here.",
    )?;
    plan.register(
        "src/app.rs",
        "middleware",
        format!(".register(\"{key}\", axum::middleware::from_fn(crate::middleware::{module_name}::handle))"),
    );
    Ok(())
}

fn app_command(plan: &mut Plan, app: &AppDir, raw: &str) -> Result<(), String> {
    let _ = app;
    let name = type_name(raw)?;
    let module_name = snake_case(without_suffix(&name, "Command"));
    let signature = format!("app:{}", module_name.replace('_', "-"));
    plan.file(
        format!("src/commands/{module_name}.rs"),
        render(
            "make/command.rs",
            context! { signature => signature, about => format!("{} (describe it here)", module_name.replace('_', " ")) },
        )?,
    );
    plan.register(
        "src/commands/mod.rs",
        "modules",
        format!("pub mod {module_name};"),
    );
    plan.register(
        "src/commands/mod.rs",
        "commands",
        format!("commands.add({module_name}::command(), {module_name}::handle);"),
    );
    Ok(())
}

fn job(plan: &mut Plan, raw: &str) -> Result<(), String> {
    let name = type_name(raw)?;
    let module_name = snake_case(&name);
    plan.file(
        format!("src/jobs/{module_name}.rs"),
        render(
            "make/job.rs",
            context! { job => &name, key => &module_name },
        )?,
    );
    plan.register(
        "src/jobs/mod.rs",
        "modules",
        format!("pub mod {module_name};"),
    );
    plan.register(
        "src/jobs/mod.rs",
        "jobs",
        format!("jobs.register::<{module_name}::{name}>();"),
    );
    Ok(())
}

fn test(plan: &mut Plan, app: &AppDir, raw: &str) -> Result<(), String> {
    let name = with_suffix(&type_name(raw)?, "Test");
    let file = snake_case(&name);
    let stem = without_suffix(&name, "Test");
    // A test named after a model checks its table, and its API when routes.rs has one.
    let model = app.exists(&model_path(stem)).then(|| stem.to_owned());
    let table = model.as_ref().map(|m| plural(&snake_case(m)));
    let api_path = table.as_ref().and_then(|t| {
        app.read("src/routes.rs")
            .filter(|routes| routes.contains(&format!(".api_resource(\"{t}\"")))
            .map(|_| format!("/api/{t}"))
    });
    // With a store request, an empty body is refused.
    let validated = api_path.is_some()
        && app.exists(&format!(
            "src/requests/store_{}_request.rs",
            snake_case(stem)
        ));
    plan.file(
        format!("tests/{file}.rs"),
        render(
            "make/test.rs",
            context! {
                title => stem,
                fn_name => format!("{}_works", snake_case(stem)),
                krate => &app.krate,
                app_type => &app.app_type,
                table => table,
                api_path => api_path,
                validated => validated,
            },
        )?,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_generators_get_did_you_mean() {
        assert!(unknown("make:modle").contains("did you mean `make:model`?"));
        assert!(unknown("make:contoller").contains("did you mean `make:controller`?"));
        assert!(unknown("make:migrate").contains("did you mean `make:migration`?"));
        assert!(unknown("make").contains("needs a generator"));
        let far = unknown("make:spaceship");
        assert!(!far.contains("did you mean"), "{far}");
        assert!(far.contains("make:model, make:migration"), "{far}");
    }

    #[test]
    fn migration_names_say_what_they_do() {
        assert!(
            matches!(infer_migration("create_posts_table"), MigrationKind::Create(t) if t == "posts")
        );
        assert!(
            matches!(infer_migration("add_published_to_posts_table"), MigrationKind::Alter(t) if t == "posts")
        );
        assert!(
            matches!(infer_migration("remove_votes_from_users_table"), MigrationKind::Alter(t) if t == "users")
        );
        assert!(matches!(
            infer_migration("backfill_slugs"),
            MigrationKind::Blank
        ));
        assert!(matches!(
            infer_migration("create__table"),
            MigrationKind::Blank
        ));
    }
}

//! The schedule through the app: `App::schedule` built and validated at boot (mistakes fail
//! the boot, every one named), `[schedule]` settings, and the `schedule:*` commands.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use foundry::Kernel;
use foundry::config::ConfigLoader;
use foundry::prelude::*;
use foundry::schedule::Schedule;

static ROOT: OnceLock<PathBuf> = OnceLock::new();

/// Appends a line to `ran.txt` in the app's root every minute, and has a failing task
/// beside it.
struct Ticking;

impl App for Ticking {
    fn routes(routes: Routes) -> Routes {
        routes
    }

    fn root() -> Option<PathBuf> {
        ROOT.get().cloned()
    }

    fn schedule(s: &mut Schedule) {
        s.call("fails-first", |_| async {
            Err("the report server is down".into())
        });
        s.call("write-ran", |ctx| async move {
            let path = ctx.config().root().join("ran.txt");
            let mut text = std::fs::read_to_string(&path).unwrap_or_default();
            text.push_str("ran\n");
            std::fs::write(path, text)?;
            Ok(())
        })
        .every_minute();
        s.call("never", |_| async { Ok(()) }).when(|_| false);
        // Checked against the app's commands at boot, never run here.
        s.command("about").daily().when(|_| false);
    }
}

fn run(args: &[&str]) -> ExitCode {
    let mut argv: Vec<OsString> = vec!["ticking".into()];
    argv.extend(args.iter().map(OsString::from));
    foundry::run_with_args::<Ticking>(argv)
}

#[test]
fn schedule_run_runs_the_due_tasks_once_despite_a_failing_one() {
    let dir = tempfile::tempdir().unwrap();
    ROOT.set(dir.path().to_owned()).unwrap();
    std::fs::write(
        dir.path().join("foundry.toml"),
        "[app]\nname = \"Ticking\"\nenv = \"testing\"\n",
    )
    .unwrap();
    assert_eq!(run(&["schedule:run"]), ExitCode::SUCCESS);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ran.txt")).unwrap(),
        "ran\n"
    );
    assert_eq!(run(&["schedule:list"]), ExitCode::SUCCESS);
    assert_eq!(run(&["schedule:run"]), ExitCode::SUCCESS);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ran.txt")).unwrap(),
        "ran\nran\n"
    );

    // A bad [schedule] fails every command of the app.
    std::fs::write(
        dir.path().join("foundry.toml"),
        "[app]\nname = \"Ticking\"\nenv = \"testing\"\n\n[schedule]\ntimezone = \"Moon/Base\"\n",
    )
    .unwrap();
    assert_eq!(run(&["schedule:run"]), ExitCode::FAILURE);
    assert_eq!(run(&["schedule:list"]), ExitCode::FAILURE);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ran.txt")).unwrap(),
        "ran\nran\n",
        "nothing ran"
    );
}

async fn boot<A: App>(toml: &str) -> Result<Kernel, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("foundry.toml"), toml).unwrap();
    let config = ConfigLoader::new(dir.path())
        .dotenv(false)
        .vars([("FOUNDRY_ENV", "testing")])
        .load()
        .unwrap();
    Kernel::boot::<A>(config).await.map_err(|e| e.to_string())
}

struct Mistaken;

impl App for Mistaken {
    fn routes(routes: Routes) -> Routes {
        routes
    }

    fn schedule(s: &mut Schedule) {
        s.call("digest", |_| async { Ok(()) }).daily_at("25:00");
        s.command("route:lst").hourly();
        s.call("paris", |_| async { Ok(()) })
            .timezone("Europe/Pari");
    }
}

#[tokio::test]
async fn mistakes_in_the_schedule_fail_the_boot_naming_each_task() {
    let err = boot::<Mistaken>("[app]\nname = \"Mistaken\"\n")
        .await
        .unwrap_err();
    assert!(
        err.starts_with("the scheduler could not start: the schedule has 3 mistake(s):"),
        "{err}"
    );
    for expected in [
        "task `digest`: daily_at(\"25:00\"): hour 25 in `25:00` is out of range 0–23",
        "task `route:lst`: command `route:lst` is not defined; did you mean `route:list`?",
        "task `paris`: timezone(\"Europe/Pari\"): unknown time zone `Europe/Pari`; did you mean `Europe/Paris`?",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in {err}");
    }
}

#[tokio::test]
async fn schedule_settings_are_checked_at_boot() {
    let err = boot::<Ticking>("[schedule]\ncache = \"shared\"\n")
        .await
        .unwrap_err();
    assert!(
        err.contains("[schedule] cache: cache store `shared` is not defined"),
        "{err}"
    );
    let err = boot::<Ticking>("[schedule]\nzone = \"UTC\"\n")
        .await
        .unwrap_err();
    assert!(err.contains("zone"), "{err}");

    let kernel = boot::<Ticking>(
        "[schedule]\ntimezone = \"America/New_York\"\ncache = \"shared\"\n\n\
         [cache.stores.shared]\ndriver = \"memory\"\n",
    )
    .await
    .unwrap();
    let schedule = kernel.context().make::<Schedule>().unwrap();
    assert_eq!(
        schedule.timezone(),
        foundry::schedule::Tz::America__New_York
    );
    assert_eq!(schedule.tasks().len(), 4);
    let locks = foundry::schedule::lock_store(kernel.context()).unwrap();
    assert_eq!(locks.name(), "shared");
}

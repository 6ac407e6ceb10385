//! Every frequency helper: the expression it builds and its next run from a frozen instant,
//! then travelling the app clock to that run to see the task due there and not a minute
//! before.

use std::time::Duration;

use chrono::{DateTime, Utc};
use foundry_core::Clock;
use foundry_schedule::{Schedule, ScheduleError, Task, Tz, Weekday};

/// Sunday 2026-11-22, 09:30:15 UTC.
fn start() -> DateTime<Utc> {
    "2026-11-22T09:30:15Z".parse().unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    format!("{text}Z").parse().unwrap()
}

type Helper = fn(&mut Task) -> &mut Task;

fn check(label: &str, helper: Helper, expression: &str, next: &str) {
    let mut schedule = Schedule::new();
    helper(schedule.call(label, |_| async { Ok(()) }));
    schedule
        .validate()
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let task = &schedule.tasks()[0];
    assert_eq!(task.expression(), expression, "{label}");

    let clock = Clock::frozen_at(start());
    let due = task.next_due(clock.now()).expect(label);
    assert_eq!(due, at(next), "{label}: next run");

    clock.travel_to(due);
    assert!(task.is_due(clock.now()), "{label}: due at {due}");
    clock.travel(Duration::from_secs(59));
    assert!(
        task.is_due(clock.now()),
        "{label}: due all through the minute"
    );
    clock.travel_to(due - chrono::Duration::minutes(1));
    let every_minute = expression.starts_with("* ");
    assert_eq!(
        task.is_due(clock.now()),
        every_minute,
        "{label}: the minute before {due}"
    );
    // From the due minute itself, the next run is a later one.
    clock.travel_to(due);
    assert!(task.next_due(clock.now()).unwrap() > due, "{label}");
}

#[test]
fn minute_helpers() {
    check(
        "every_minute",
        |t| t.every_minute(),
        "* * * * *",
        "2026-11-22T09:31:00",
    );
    check(
        "every_two_minutes",
        |t| t.every_two_minutes(),
        "*/2 * * * *",
        "2026-11-22T09:32:00",
    );
    check(
        "every_three_minutes",
        |t| t.every_three_minutes(),
        "*/3 * * * *",
        "2026-11-22T09:33:00",
    );
    check(
        "every_four_minutes",
        |t| t.every_four_minutes(),
        "*/4 * * * *",
        "2026-11-22T09:32:00",
    );
    check(
        "every_five_minutes",
        |t| t.every_five_minutes(),
        "*/5 * * * *",
        "2026-11-22T09:35:00",
    );
    check(
        "every_ten_minutes",
        |t| t.every_ten_minutes(),
        "*/10 * * * *",
        "2026-11-22T09:40:00",
    );
    check(
        "every_fifteen_minutes",
        |t| t.every_fifteen_minutes(),
        "*/15 * * * *",
        "2026-11-22T09:45:00",
    );
    check(
        "every_thirty_minutes",
        |t| t.every_thirty_minutes(),
        "0,30 * * * *",
        "2026-11-22T10:00:00",
    );
}

#[test]
fn hour_helpers() {
    check("hourly", |t| t.hourly(), "0 * * * *", "2026-11-22T10:00:00");
    check(
        "hourly_at past",
        |t| t.hourly_at(17),
        "17 * * * *",
        "2026-11-22T10:17:00",
    );
    check(
        "hourly_at ahead",
        |t| t.hourly_at(45),
        "45 * * * *",
        "2026-11-22T09:45:00",
    );
    check(
        "every_odd_hour",
        |t| t.every_odd_hour(5),
        "5 1-23/2 * * *",
        "2026-11-22T11:05:00",
    );
    check(
        "every_two_hours",
        |t| t.every_two_hours(),
        "0 */2 * * *",
        "2026-11-22T10:00:00",
    );
    check(
        "every_three_hours",
        |t| t.every_three_hours(),
        "0 */3 * * *",
        "2026-11-22T12:00:00",
    );
    check(
        "every_four_hours",
        |t| t.every_four_hours(),
        "0 */4 * * *",
        "2026-11-22T12:00:00",
    );
    check(
        "every_six_hours",
        |t| t.every_six_hours(),
        "0 */6 * * *",
        "2026-11-22T12:00:00",
    );
}

#[test]
fn day_helpers() {
    check("daily", |t| t.daily(), "0 0 * * *", "2026-11-23T00:00:00");
    check(
        "daily_at later today",
        |t| t.daily_at("13:00"),
        "0 13 * * *",
        "2026-11-22T13:00:00",
    );
    check(
        "daily_at tomorrow",
        |t| t.daily_at("8:05"),
        "5 8 * * *",
        "2026-11-23T08:05:00",
    );
    check(
        "at",
        |t| t.at("23:59"),
        "59 23 * * *",
        "2026-11-22T23:59:00",
    );
    check(
        "twice_daily",
        |t| t.twice_daily(1, 13),
        "0 1,13 * * *",
        "2026-11-22T13:00:00",
    );
    check(
        "twice_daily_at",
        |t| t.twice_daily_at(1, 13, 15),
        "15 1,13 * * *",
        "2026-11-22T13:15:00",
    );
}

#[test]
fn week_helpers() {
    check("weekly", |t| t.weekly(), "0 0 * * 0", "2026-11-29T00:00:00");
    check(
        "weekly_on",
        |t| t.weekly_on(Weekday::Mon, "8:00"),
        "0 8 * * 1",
        "2026-11-23T08:00:00",
    );
    check(
        "weekdays",
        |t| t.weekdays().hourly(),
        "0 * * * 1-5",
        "2026-11-23T00:00:00",
    );
    check(
        "weekends",
        |t| t.weekends().hourly(),
        "0 * * * 6,0",
        "2026-11-22T10:00:00",
    );
    check(
        "mondays",
        |t| t.mondays().daily_at("7:00"),
        "0 7 * * 1",
        "2026-11-23T07:00:00",
    );
    check(
        "tuesdays",
        |t| t.tuesdays().daily(),
        "0 0 * * 2",
        "2026-11-24T00:00:00",
    );
    check(
        "wednesdays",
        |t| t.wednesdays().daily(),
        "0 0 * * 3",
        "2026-11-25T00:00:00",
    );
    check(
        "thursdays",
        |t| t.thursdays().daily(),
        "0 0 * * 4",
        "2026-11-26T00:00:00",
    );
    check(
        "fridays",
        |t| t.fridays().daily(),
        "0 0 * * 5",
        "2026-11-27T00:00:00",
    );
    check(
        "saturdays",
        |t| t.saturdays().daily(),
        "0 0 * * 6",
        "2026-11-28T00:00:00",
    );
    check(
        "sundays",
        |t| t.sundays().daily(),
        "0 0 * * 0",
        "2026-11-29T00:00:00",
    );
    check(
        "days",
        |t| t.days(&[Weekday::Tue, Weekday::Thu]).daily_at("10:00"),
        "0 10 * * 2,4",
        "2026-11-24T10:00:00",
    );
}

#[test]
fn month_and_year_helpers() {
    check(
        "monthly",
        |t| t.monthly(),
        "0 0 1 * *",
        "2026-12-01T00:00:00",
    );
    check(
        "monthly_on",
        |t| t.monthly_on(4, "15:00"),
        "0 15 4 * *",
        "2026-12-04T15:00:00",
    );
    check(
        "twice_monthly",
        |t| t.twice_monthly(1, 16, "13:00"),
        "0 13 1,16 * *",
        "2026-12-01T13:00:00",
    );
    check(
        "last_day_of_month",
        |t| t.last_day_of_month("17:00"),
        "0 17 L * *",
        "2026-11-30T17:00:00",
    );
    check(
        "quarterly",
        |t| t.quarterly(),
        "0 0 1 1-12/3 *",
        "2027-01-01T00:00:00",
    );
    check(
        "quarterly_on",
        |t| t.quarterly_on(15, "9:00"),
        "0 9 15 1-12/3 *",
        "2027-01-15T09:00:00",
    );
    check("yearly", |t| t.yearly(), "0 0 1 1 *", "2027-01-01T00:00:00");
    check(
        "yearly_on",
        |t| t.yearly_on(6, 1, "17:00"),
        "0 17 1 6 *",
        "2027-06-01T17:00:00",
    );
}

#[test]
fn cron_expressions_and_nicknames() {
    check(
        "cron",
        |t| t.cron("*/5 * * * *"),
        "*/5 * * * *",
        "2026-11-22T09:35:00",
    );
    check(
        "cron ranges",
        |t| t.cron("0 9-17 * * MON-FRI"),
        "0 9-17 * * MON-FRI",
        "2026-11-23T09:00:00",
    );
    check(
        "@hourly",
        |t| t.cron("@hourly"),
        "0 * * * *",
        "2026-11-22T10:00:00",
    );
    check(
        "@daily",
        |t| t.cron("@daily"),
        "0 0 * * *",
        "2026-11-23T00:00:00",
    );
    check(
        "@weekly",
        |t| t.cron("@weekly"),
        "0 0 * * 0",
        "2026-11-29T00:00:00",
    );
    check(
        "@monthly",
        |t| t.cron("@monthly"),
        "0 0 1 * *",
        "2026-12-01T00:00:00",
    );
    check(
        "@yearly",
        |t| t.cron("@yearly"),
        "0 0 1 1 *",
        "2027-01-01T00:00:00",
    );
}

#[test]
fn time_zones_shift_the_runs() {
    // Paris is UTC+1 in November: 13:00 there is 12:00 UTC.
    check(
        "timezone",
        |t| t.daily_at("13:00").timezone("Europe/Paris"),
        "0 13 * * *",
        "2026-11-22T12:00:00",
    );
    // New York is UTC-5: 8:00 there is 13:00 UTC.
    check(
        "timezone west",
        |t| t.daily_at("8:00").timezone("America/New_York"),
        "0 8 * * *",
        "2026-11-22T13:00:00",
    );
    // The schedule's default zone applies to tasks without their own.
    let mut schedule = Schedule::new();
    schedule.default_timezone(Tz::Asia__Tokyo);
    schedule
        .call("tokyo", |_| async { Ok(()) })
        .daily_at("9:00");
    schedule.validate().unwrap();
    // 09:00 in Tokyo (UTC+9) is 00:00 UTC; at 09:30 UTC that is tomorrow's.
    assert_eq!(
        schedule.tasks()[0].next_due(start()),
        Some(at("2026-11-23T00:00:00"))
    );
}

#[test]
fn time_zones_follow_daylight_saving() {
    let mut schedule = Schedule::new();
    schedule
        .call("paris", |_| async { Ok(()) })
        .daily_at("13:00")
        .timezone("Europe/Paris");
    schedule.validate().unwrap();
    let task = &schedule.tasks()[0];
    // The last Sunday of March 2027 moves Paris to UTC+2.
    assert_eq!(
        task.next_due(at("2027-03-27T13:00:00")),
        Some(at("2027-03-28T11:00:00"))
    );
    assert_eq!(
        task.next_due(at("2027-03-26T13:00:00")),
        Some(at("2027-03-27T12:00:00"))
    );
}

#[test]
fn between_and_unless_between_limit_the_hours() {
    check(
        "between",
        |t| t.hourly().between("8:00", "17:00"),
        "0 * * * *",
        "2026-11-22T10:00:00",
    );
    check(
        "between past midnight",
        |t| t.hourly().between("22:00", "6:00"),
        "0 * * * *",
        "2026-11-22T22:00:00",
    );
    check(
        "unless_between",
        |t| t.hourly().unless_between("9:00", "17:00"),
        "0 * * * *",
        "2026-11-22T18:00:00",
    );
    // The end is included; the minute after it is not.
    let mut schedule = Schedule::new();
    schedule
        .call("office", |_| async { Ok(()) })
        .every_minute()
        .between("8:00", "17:00");
    schedule.validate().unwrap();
    let task = &schedule.tasks()[0];
    assert!(task.is_due(at("2026-11-22T17:00:00")));
    assert!(!task.is_due(at("2026-11-22T17:01:00")));
    assert!(task.is_due(at("2026-11-22T08:00:00")));
    assert!(!task.is_due(at("2026-11-22T07:59:00")));
    assert_eq!(
        task.next_due(at("2026-11-22T17:00:00")),
        Some(at("2026-11-23T08:00:00"))
    );
}

#[test]
fn helpers_combine_field_by_field_like_laravel() {
    let mut schedule = Schedule::new();
    schedule
        .call("combo", |_| async { Ok(()) })
        .weekdays()
        .hourly_at(15)
        .timezone("UTC");
    schedule
        .call("later-wins", |_| async { Ok(()) })
        .daily()
        .every_five_minutes();
    schedule.validate().unwrap();
    assert_eq!(schedule.tasks()[0].expression(), "15 * * * 1-5");
    assert_eq!(schedule.tasks()[1].expression(), "*/5 0 * * *");
}

#[test]
fn tasks_are_never_due_before_validation() {
    let mut schedule = Schedule::new();
    schedule.call("x", |_| async { Ok(()) }).every_minute();
    assert!(!schedule.is_validated());
    assert!(!schedule.tasks()[0].is_due(start()));
    assert_eq!(schedule.tasks()[0].next_due(start()), None);
    schedule.validate().unwrap();
    assert!(schedule.tasks()[0].is_due(start()));
}

#[test]
fn bad_arguments_are_reported_at_validation_naming_each_task() {
    let mut schedule = Schedule::new();
    schedule
        .call("bad-time", |_| async { Ok(()) })
        .daily_at("25:00");
    schedule
        .call("bad-format", |_| async { Ok(()) })
        .daily_at("1pm");
    schedule
        .call("few-fields", |_| async { Ok(()) })
        .cron("* * *");
    schedule
        .call("bad-field", |_| async { Ok(()) })
        .cron("61 * * * *");
    schedule
        .call("bad-zone", |_| async { Ok(()) })
        .timezone("Europe/Pari");
    schedule
        .call("bad-minute", |_| async { Ok(()) })
        .hourly_at(60);
    schedule
        .call("bad-day", |_| async { Ok(()) })
        .monthly_on(32, "1:00");
    schedule
        .call("bad-month", |_| async { Ok(()) })
        .yearly_on(13, 1, "1:00");
    schedule
        .call("bad-hours", |_| async { Ok(()) })
        .twice_daily(1, 24);
    schedule
        .call("bad-span", |_| async { Ok(()) })
        .between("8:00", "late");
    schedule.call("no-days", |_| async { Ok(()) }).days(&[]);
    schedule.call("", |_| async { Ok(()) });
    schedule.command("   ");
    schedule.command("mail:send \"unclosed");
    schedule
        .call("zero-expiry", |_| async { Ok(()) })
        .without_overlapping_for(Duration::ZERO);
    schedule
        .call("fine", |_| async { Ok(()) })
        .daily_at("23:59");
    let Err(ScheduleError::Invalid(problems)) = schedule.validate() else {
        panic!("the schedule has mistakes");
    };
    let text = problems.join("\n");
    for expected in [
        "task `bad-time`: daily_at(\"25:00\"): hour 25 in `25:00` is out of range 0–23",
        "task `bad-format`: daily_at(\"1pm\"): `1pm` is not a time; write the time as \"HH:MM\"",
        "task `few-fields`: cron(\"* * *\"): expected five fields",
        "task `bad-field`: cron expression `61 * * * *` is invalid",
        "task `bad-zone`: timezone(\"Europe/Pari\"): unknown time zone `Europe/Pari`; did you mean `Europe/Paris`?",
        "task `bad-minute`: hourly_at(60): the minute must be 0–59",
        "task `bad-day`: monthly_on(32, \"1:00\"): the day must be 1–31",
        "task `bad-month`: yearly_on(13, 1, \"1:00\")",
        "task `bad-hours`: twice_daily_at(1, 24, 0)",
        "task `bad-span`: between(\"8:00\", \"late\"): `late` is not a time",
        "task `no-days`: days(&[]): name at least one day",
        "task ``: call(\"\", …): a closure task needs a name",
        "name the command to run",
        "has an unclosed \" quote",
        "task `zero-expiry`: without_overlapping_for(0s)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains("`fine`"), "{text}");
    assert_eq!(problems.len(), 15, "{text}");
    assert!(!schedule.is_validated());
    // The good task is ready; the bad ones are never due.
    assert!(schedule.tasks()[15].is_due(at("2026-11-22T23:59:00")));
    assert!(!schedule.tasks()[0].is_due(at("2026-11-23T01:00:00")));
    let message = ScheduleError::Invalid(problems).to_string();
    assert!(
        message.starts_with("the schedule has 15 mistake(s):\n  - task `bad-time`"),
        "{message}"
    );
}

#[test]
fn unknown_commands_are_reported_with_a_suggestion() {
    let mut schedule = Schedule::new();
    schedule.command("cache:prun --days=7").daily();
    schedule.command("zzz").daily();
    schedule.command("cache:prune --days=7").daily();
    schedule.known_commands(["cache:prune".to_owned(), "about".to_owned()]);
    let Err(ScheduleError::Invalid(problems)) = schedule.validate() else {
        panic!("unknown commands are mistakes");
    };
    assert_eq!(
        problems,
        [
            "task `cache:prun --days=7`: command `cache:prun` is not defined; did you mean `cache:prune`?",
            "task `zzz`: command `zzz` is not defined; run the app with `list` to see its commands",
        ]
    );
}

#[test]
fn the_list_shows_expression_task_and_next_due_in_the_display_zone() {
    let mut schedule = Schedule::new();
    schedule
        .call("refresh-stats", |_| async { Ok(()) })
        .every_minute()
        .on_one_server();
    schedule
        .command("cache:prune --days=7")
        .daily_at("3:00")
        .timezone("Europe/Paris")
        .without_overlapping();
    schedule
        .call("backup", |_| async { Ok(()) })
        .daily_at("13:00")
        .even_in_maintenance_mode();
    schedule.validate().unwrap();
    let rows = schedule.list(start(), Tz::Europe__Paris);
    let table = foundry_schedule::render_list(&rows);
    assert_eq!(
        table,
        "  EXPRESSION        TASK                                                NEXT DUE\n\
         \x20 * * * * * (UTC)   closure refresh-stats (on one server)               2026-11-22 10:31:00 CET\n\
         \x20 0 3 * * *         command cache:prune --days=7 (without overlapping)  2026-11-23 03:00:00 CET\n\
         \x20 0 13 * * * (UTC)  closure backup (even in maintenance)                2026-11-22 14:00:00 CET\n"
    );
}

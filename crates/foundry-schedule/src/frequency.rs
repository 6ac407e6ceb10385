//! Laravel's frequency helpers. Each one writes some fields of the task's five-field cron
//! expression and leaves the others alone, so helpers combine as in Laravel:
//! `.weekdays().hourly()` is `0 * * * 1-5`, `.mondays().daily_at("8:00")` is `0 8 * * 1`.

use chrono::Weekday;

use crate::task::{Task, parse_time};

const MINUTE: usize = 0;
const HOUR: usize = 1;
const DAY_OF_MONTH: usize = 2;
const MONTH: usize = 3;
const DAY_OF_WEEK: usize = 4;

impl Task {
    fn splice(&mut self, position: usize, value: &dyn std::fmt::Display) -> &mut Self {
        self.fields[position] = value.to_string();
        self
    }

    /// A whole cron expression: five fields (`"*/5 * * * *"`) or a nickname (`@hourly`,
    /// `@daily`, `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`). Checked when
    /// the app boots.
    pub fn cron(&mut self, expression: &str) -> &mut Self {
        let expanded = match expression.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        match <[&str; 5]>::try_from(fields.as_slice()) {
            Ok(fields) => self.fields = fields.map(str::to_owned),
            Err(_) => self.problem(format!(
                "cron(\"{expression}\"): expected five fields (minute hour day-of-month month \
                 day-of-week), found {}; e.g. \"*/5 * * * *\"",
                fields.len()
            )),
        }
        self
    }

    /// Every minute (`* * * * *`).
    pub fn every_minute(&mut self) -> &mut Self {
        self.splice(MINUTE, &"*")
    }

    /// Every two minutes.
    pub fn every_two_minutes(&mut self) -> &mut Self {
        self.splice(MINUTE, &"*/2")
    }

    /// Every three minutes.
    pub fn every_three_minutes(&mut self) -> &mut Self {
        self.splice(MINUTE, &"*/3")
    }

    /// Every four minutes.
    pub fn every_four_minutes(&mut self) -> &mut Self {
        self.splice(MINUTE, &"*/4")
    }

    /// Every five minutes.
    pub fn every_five_minutes(&mut self) -> &mut Self {
        self.splice(MINUTE, &"*/5")
    }

    /// Every ten minutes.
    pub fn every_ten_minutes(&mut self) -> &mut Self {
        self.splice(MINUTE, &"*/10")
    }

    /// Every fifteen minutes.
    pub fn every_fifteen_minutes(&mut self) -> &mut Self {
        self.splice(MINUTE, &"*/15")
    }

    /// Every thirty minutes.
    pub fn every_thirty_minutes(&mut self) -> &mut Self {
        self.splice(MINUTE, &"0,30")
    }

    /// At minute 0 of every hour.
    pub fn hourly(&mut self) -> &mut Self {
        self.splice(MINUTE, &0)
    }

    /// At `minute` (0–59) of every hour.
    pub fn hourly_at(&mut self, minute: u32) -> &mut Self {
        if minute > 59 {
            self.problem(format!("hourly_at({minute}): the minute must be 0–59"));
            return self;
        }
        self.splice(MINUTE, &minute)
    }

    /// At `minute` of every odd hour (1, 3, …, 23).
    pub fn every_odd_hour(&mut self, minute: u32) -> &mut Self {
        self.hourly_at(minute).splice(HOUR, &"1-23/2")
    }

    /// At minute 0 of every second hour (0, 2, …).
    pub fn every_two_hours(&mut self) -> &mut Self {
        self.splice(MINUTE, &0).splice(HOUR, &"*/2")
    }

    /// At minute 0 of every third hour.
    pub fn every_three_hours(&mut self) -> &mut Self {
        self.splice(MINUTE, &0).splice(HOUR, &"*/3")
    }

    /// At minute 0 of every fourth hour.
    pub fn every_four_hours(&mut self) -> &mut Self {
        self.splice(MINUTE, &0).splice(HOUR, &"*/4")
    }

    /// At minute 0 of every sixth hour.
    pub fn every_six_hours(&mut self) -> &mut Self {
        self.splice(MINUTE, &0).splice(HOUR, &"*/6")
    }

    /// At midnight.
    pub fn daily(&mut self) -> &mut Self {
        self.splice(MINUTE, &0).splice(HOUR, &0)
    }

    /// Every day at `time` (`"13:00"`); a bad time is reported when the app boots.
    pub fn daily_at(&mut self, time: &str) -> &mut Self {
        self.time_of_day("daily_at", time)
    }

    /// Set the time of day (`"13:00"`) and keep the other fields (Laravel's `at`).
    pub fn at(&mut self, time: &str) -> &mut Self {
        self.time_of_day("at", time)
    }

    fn time_of_day(&mut self, method: &str, time: &str) -> &mut Self {
        match parse_time(time) {
            Ok((hour, minute)) => self.splice(MINUTE, &minute).splice(HOUR, &hour),
            Err(err) => {
                self.problem(format!("{method}(\"{time}\"): {err}"));
                self
            }
        }
    }

    /// At minute 0 of hours `first` and `second` (Laravel's `twiceDaily(1, 13)`).
    pub fn twice_daily(&mut self, first: u32, second: u32) -> &mut Self {
        self.twice_daily_at(first, second, 0)
    }

    /// At `minute` of hours `first` and `second`.
    pub fn twice_daily_at(&mut self, first: u32, second: u32, minute: u32) -> &mut Self {
        if first > 23 || second > 23 || minute > 59 {
            self.problem(format!(
                "twice_daily_at({first}, {second}, {minute}): hours must be 0–23 and the minute 0–59"
            ));
            return self;
        }
        self.splice(MINUTE, &minute)
            .splice(HOUR, &format!("{first},{second}"))
    }

    /// Sundays at midnight.
    pub fn weekly(&mut self) -> &mut Self {
        self.splice(MINUTE, &0)
            .splice(HOUR, &0)
            .splice(DAY_OF_WEEK, &0)
    }

    /// Every `day` at `time` (`weekly_on(Weekday::Mon, "8:00")`).
    pub fn weekly_on(&mut self, day: Weekday, time: &str) -> &mut Self {
        self.time_of_day("weekly_on", time).days(&[day])
    }

    /// The first of the month at midnight.
    pub fn monthly(&mut self) -> &mut Self {
        self.splice(MINUTE, &0)
            .splice(HOUR, &0)
            .splice(DAY_OF_MONTH, &1)
    }

    /// On day `day` (1–31) of every month at `time`.
    pub fn monthly_on(&mut self, day: u32, time: &str) -> &mut Self {
        if !(1..=31).contains(&day) {
            self.problem(format!(
                "monthly_on({day}, \"{time}\"): the day must be 1–31"
            ));
            return self;
        }
        self.time_of_day("monthly_on", time)
            .splice(DAY_OF_MONTH, &day)
    }

    /// On days `first` and `second` of every month at `time`.
    pub fn twice_monthly(&mut self, first: u32, second: u32, time: &str) -> &mut Self {
        if !(1..=31).contains(&first) || !(1..=31).contains(&second) {
            self.problem(format!(
                "twice_monthly({first}, {second}, \"{time}\"): days must be 1–31"
            ));
            return self;
        }
        self.time_of_day("twice_monthly", time)
            .splice(DAY_OF_MONTH, &format!("{first},{second}"))
    }

    /// On the last day of every month at `time`.
    pub fn last_day_of_month(&mut self, time: &str) -> &mut Self {
        self.time_of_day("last_day_of_month", time)
            .splice(DAY_OF_MONTH, &"L")
    }

    /// The first day of each quarter (January, April, July, October) at midnight.
    pub fn quarterly(&mut self) -> &mut Self {
        self.splice(MINUTE, &0)
            .splice(HOUR, &0)
            .splice(DAY_OF_MONTH, &1)
            .splice(MONTH, &"1-12/3")
    }

    /// On day `day` of each quarter's first month at `time`.
    pub fn quarterly_on(&mut self, day: u32, time: &str) -> &mut Self {
        if !(1..=31).contains(&day) {
            self.problem(format!(
                "quarterly_on({day}, \"{time}\"): the day must be 1–31"
            ));
            return self;
        }
        self.time_of_day("quarterly_on", time)
            .splice(DAY_OF_MONTH, &day)
            .splice(MONTH, &"1-12/3")
    }

    /// January 1st at midnight.
    pub fn yearly(&mut self) -> &mut Self {
        self.splice(MINUTE, &0)
            .splice(HOUR, &0)
            .splice(DAY_OF_MONTH, &1)
            .splice(MONTH, &1)
    }

    /// On `month` (1–12) `day` (1–31) at `time`.
    pub fn yearly_on(&mut self, month: u32, day: u32, time: &str) -> &mut Self {
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            self.problem(format!(
                "yearly_on({month}, {day}, \"{time}\"): the month must be 1–12 and the day 1–31"
            ));
            return self;
        }
        self.time_of_day("yearly_on", time)
            .splice(DAY_OF_MONTH, &day)
            .splice(MONTH, &month)
    }

    /// Only on these days of the week.
    pub fn days(&mut self, days: &[Weekday]) -> &mut Self {
        if days.is_empty() {
            self.problem("days(&[]): name at least one day".to_owned());
            return self;
        }
        let list: Vec<String> = days
            .iter()
            .map(|d| d.num_days_from_sunday().to_string())
            .collect();
        self.splice(DAY_OF_WEEK, &list.join(","))
    }

    /// Monday to Friday.
    pub fn weekdays(&mut self) -> &mut Self {
        self.splice(DAY_OF_WEEK, &"1-5")
    }

    /// Saturday and Sunday.
    pub fn weekends(&mut self) -> &mut Self {
        self.splice(DAY_OF_WEEK, &"6,0")
    }

    /// Mondays only.
    pub fn mondays(&mut self) -> &mut Self {
        self.days(&[Weekday::Mon])
    }

    /// Tuesdays only.
    pub fn tuesdays(&mut self) -> &mut Self {
        self.days(&[Weekday::Tue])
    }

    /// Wednesdays only.
    pub fn wednesdays(&mut self) -> &mut Self {
        self.days(&[Weekday::Wed])
    }

    /// Thursdays only.
    pub fn thursdays(&mut self) -> &mut Self {
        self.days(&[Weekday::Thu])
    }

    /// Fridays only.
    pub fn fridays(&mut self) -> &mut Self {
        self.days(&[Weekday::Fri])
    }

    /// Saturdays only.
    pub fn saturdays(&mut self) -> &mut Self {
        self.days(&[Weekday::Sat])
    }

    /// Sundays only.
    pub fn sundays(&mut self) -> &mut Self {
        self.days(&[Weekday::Sun])
    }
}

//! The rule reference in docs/validation.md is checked here: every row with a failing input
//! must produce exactly the message the table shows.

use foundry_validation::Validator;
use serde_json::Value;

const GUIDE: &str = include_str!("../../../docs/validation.md");

struct Row {
    rule: String,
    field: String,
    rules: String,
    data: Option<String>,
    message: String,
}

fn cell(s: &str) -> String {
    s.trim().trim_matches('`').replace("\\|", "|")
}

fn rows() -> Vec<Row> {
    let start = GUIDE
        .find("| Rule | Field | Rules | Failing input | Message |")
        .expect("the rule table is in the guide");
    GUIDE[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            // Split on unescaped pipes.
            let mut cells = Vec::new();
            let mut cur = String::new();
            let mut chars = line.trim().trim_start_matches('|').chars().peekable();
            while let Some(c) = chars.next() {
                if c == '\\' && chars.peek() == Some(&'|') {
                    cur.push_str("\\|");
                    chars.next();
                } else if c == '|' {
                    cells.push(std::mem::take(&mut cur));
                } else {
                    cur.push(c);
                }
            }
            let data = cell(&cells[3]);
            Row {
                rule: cell(&cells[0]),
                field: cell(&cells[1]),
                rules: cell(&cells[2]),
                data: (data != "—").then_some(data),
                message: cells[4].trim().to_owned(),
            }
        })
        .collect()
}

fn render(row: &Row, data: &str) -> String {
    let data: Value = serde_json::from_str(data)
        .unwrap_or_else(|e| panic!("row {}: bad JSON {data}: {e}", row.rule));
    let now = chrono::NaiveDate::from_ymd_opt(2024, 5, 10)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .unwrap();
    let mut v = Validator::new(data, [(row.field.as_str(), row.rules.as_str())])
        .unwrap_or_else(|e| panic!("row {}: {e}", row.rule))
        .now(now);
    v.errors().first_message().unwrap_or("(passes)").to_owned()
}

#[test]
fn every_rule_is_documented_with_its_message() {
    let rows = rows();
    assert!(rows.len() >= 100, "only {} rows", rows.len());
    let print = std::env::var_os("FOUNDRY_DOCS_PRINT").is_some();
    let mut wrong = Vec::new();
    for row in &rows {
        let Some(data) = &row.data else { continue };
        let got = render(row, data);
        if print {
            println!("{}\t{got}", row.rule);
        } else if got != row.message {
            wrong.push(format!(
                "{}: table says {:?}, validator says {got:?}",
                row.rule, row.message
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

//! The two TechEmpower tables.

use foundry::db::Model;

/// A row of `world`: 10,000 of them, ids 1..=10,000.
#[derive(Model, Debug, Clone)]
#[model(crate = "foundry::db", table = "world")]
pub struct World {
    /// Key, 1..=10,000.
    pub id: i64,
    /// A number in 1..=10,000.
    pub random_number: i32,
}

/// A row of `fortune`: the twelve standard fortunes.
#[derive(Model, Debug, Clone)]
#[model(crate = "foundry::db", table = "fortune")]
pub struct Fortune {
    /// Key.
    pub id: i64,
    /// The text, shown escaped.
    pub message: String,
}

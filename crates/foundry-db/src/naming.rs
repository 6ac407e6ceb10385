//! Naming conventions: snake_case and English plurals for table names (Laravel's `Str::plural`,
//! the common rules; override a model's table when they guess wrong). The rules live in
//! `foundry-naming`, shared with the `Model` derive, resource routes and the generators.

pub use foundry_naming::{plural, snake_case, table_name};

//! The schema: `world` and `fortune`.

use std::sync::Arc;

use foundry::db::migrate::Migration;
use foundry::db::schema::Schema;

/// Every migration, in order.
pub fn all() -> Vec<Arc<dyn Migration>> {
    vec![Arc::new(CreateWorldTable), Arc::new(CreateFortuneTable)]
}

struct CreateWorldTable;

impl Migration for CreateWorldTable {
    fn name(&self) -> &str {
        "2026_11_22_000001_create_world_table"
    }

    fn up(&self, schema: &mut Schema) {
        schema.create("world", |t| {
            t.id();
            t.integer("random_number").default(0);
        });
    }

    fn down(&self, schema: &mut Schema) {
        schema.drop_if_exists("world");
    }
}

struct CreateFortuneTable;

impl Migration for CreateFortuneTable {
    fn name(&self) -> &str {
        "2026_11_22_000002_create_fortune_table"
    }

    fn up(&self, schema: &mut Schema) {
        schema.create("fortune", |t| {
            t.id();
            t.string("message", 2048);
        });
    }

    fn down(&self, schema: &mut Schema) {
        schema.drop_if_exists("fortune");
    }
}

//! The blog's schema: users, posts, comments, tags and the post–tag pivot.

use std::sync::Arc;

use foundry::db::migrate::Migration;
use foundry::db::schema::Schema;

/// Every migration, in order: the framework's tables first (queue, cache, maintenance — so
/// `down` reaches every instance), as Laravel ships them, then the blog's own.
pub fn all() -> Vec<Arc<dyn Migration>> {
    let mut all = foundry::queue::migrations::all();
    all.extend([
        Arc::new(foundry::cache::migrations::CreateCacheTable) as Arc<dyn Migration>,
        foundry::maintenance::migration(),
        Arc::new(CreateUsersTable),
        Arc::new(CreatePostsTable),
        Arc::new(CreateCommentsTable),
        Arc::new(CreateTagsTables),
        Arc::new(AddNotifiedAtToComments),
    ]);
    all
}

struct CreateUsersTable;

impl Migration for CreateUsersTable {
    fn name(&self) -> &str {
        "2026_11_22_000001_create_users_table"
    }

    fn up(&self, schema: &mut Schema) {
        schema.create("users", |t| {
            t.id();
            t.string("name", 120);
            t.string("email", 255).unique();
            t.timestamps();
        });
    }

    fn down(&self, schema: &mut Schema) {
        schema.drop_if_exists("users");
    }
}

struct CreatePostsTable;

impl Migration for CreatePostsTable {
    fn name(&self) -> &str {
        "2026_11_22_000002_create_posts_table"
    }

    fn up(&self, schema: &mut Schema) {
        schema.create("posts", |t| {
            t.id();
            t.foreign_id("user_id").constrained().cascade_on_delete();
            t.string("title", 200);
            t.text("body");
            t.timestamps();
            t.soft_deletes();
        });
    }

    fn down(&self, schema: &mut Schema) {
        schema.drop_if_exists("posts");
    }
}

struct CreateCommentsTable;

impl Migration for CreateCommentsTable {
    fn name(&self) -> &str {
        "2026_11_22_000003_create_comments_table"
    }

    fn up(&self, schema: &mut Schema) {
        schema.create("comments", |t| {
            t.id();
            t.foreign_id("post_id").constrained().cascade_on_delete();
            t.foreign_id("user_id").constrained().cascade_on_delete();
            t.text("body");
            t.timestamps();
        });
    }

    fn down(&self, schema: &mut Schema) {
        schema.drop_if_exists("comments");
    }
}

struct CreateTagsTables;

impl Migration for CreateTagsTables {
    fn name(&self) -> &str {
        "2026_11_22_000004_create_tags_tables"
    }

    fn up(&self, schema: &mut Schema) {
        schema.create("tags", |t| {
            t.id();
            t.string("name", 60).unique();
        });
        schema.create("post_tag", |t| {
            t.foreign_id("post_id").constrained().cascade_on_delete();
            t.foreign_id("tag_id").constrained().cascade_on_delete();
            t.primary(&["post_id", "tag_id"]);
        });
    }

    fn down(&self, schema: &mut Schema) {
        schema.drop_if_exists("post_tag");
        schema.drop_if_exists("tags");
    }
}

struct AddNotifiedAtToComments;

impl Migration for AddNotifiedAtToComments {
    fn name(&self) -> &str {
        "2026_11_22_000005_add_notified_at_to_comments"
    }

    fn up(&self, schema: &mut Schema) {
        schema.table("comments", |t| {
            t.timestamp("notified_at").nullable();
        });
    }

    fn down(&self, schema: &mut Schema) {
        schema.table("comments", |t| t.drop_column("notified_at"));
    }
}

//! Demo data: a few authors with posts, comments and tags.

use foundry::BoxFuture;
use foundry::db::factory::HasFactory;
use foundry::db::seed::Seeder;
use foundry::db::{Db, DbResult, ModelExt, RelationExt};
use serde_json::json;

use crate::models::{Comment, Post, Tag, User};

/// Seeds the demo data (`blog db:seed`, and on the first run in local).
pub struct DatabaseSeeder;

/// The tags every demo post draws from.
pub const TAGS: [&str; 4] = ["rust", "laravel", "web", "databases"];

impl Seeder for DatabaseSeeder {
    fn name(&self) -> &str {
        "DatabaseSeeder"
    }

    fn run<'a>(&'a self, db: &'a Db) -> BoxFuture<'a, DbResult<()>> {
        Box::pin(async move {
            let mut tags = Vec::new();
            for name in TAGS {
                tags.push(Tag::force_create(db, json!({ "name": name })).await?);
            }
            let authors = User::factory()
                .count(4)
                .has(Post::factory().count(3), "user_id")
                .create(db)
                .await?;
            let posts = Post::query(db).order_by_asc(Post::COL_ID).get().await?;
            let pivot = Post::pivot("tags")?;
            for (i, post) in posts.iter().enumerate() {
                // One to three comments per post, from different authors.
                for author in authors.iter().take(1 + i % 3) {
                    Comment::factory()
                        .state(json!({ "post_id": post.id, "user_id": author.id }))
                        .create(db)
                        .await?;
                }
                let first = &tags[i % tags.len()];
                let second = &tags[(i + 1) % tags.len()];
                pivot.attach(db, post.id, [first.id, second.id]).await?;
            }
            Ok(())
        })
    }
}

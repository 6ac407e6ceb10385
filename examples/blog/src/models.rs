//! The blog's models.

use chrono::{DateTime, Utc};
use foundry::db::factory::{HasFactory, fake::Fake};
use foundry::db::{Model, ModelHooks, Relation, Relations, belongs_to, belongs_to_many, has_many};
use serde_json::json;

/// An author or commenter.
#[derive(Model, Debug, Clone)]
#[model(crate = "foundry::db", fillable(name, email), hooks)]
pub struct User {
    /// Key.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Unique e-mail address.
    pub email: String,
    /// Created.
    pub created_at: Option<DateTime<Utc>>,
    /// Updated.
    pub updated_at: Option<DateTime<Utc>>,
    /// Loaded relations.
    pub relations: Relations,
}

impl ModelHooks for User {
    fn relation(name: &str) -> Option<Relation<Self>> {
        match name {
            "posts" => Some(has_many::<Self, Post>("user_id")),
            _ => None,
        }
    }
}

/// A blog post; deleting one keeps it in the trash.
#[derive(Model, Debug, Clone)]
#[model(
    crate = "foundry::db",
    fillable(user_id, title, body),
    soft_deletes,
    hooks
)]
pub struct Post {
    /// Key.
    pub id: i64,
    /// The author.
    pub user_id: i64,
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// Created.
    pub created_at: Option<DateTime<Utc>>,
    /// Updated.
    pub updated_at: Option<DateTime<Utc>>,
    /// Trashed.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Loaded relations.
    pub relations: Relations,
}

impl ModelHooks for Post {
    fn relation(name: &str) -> Option<Relation<Self>> {
        match name {
            "author" => Some(belongs_to::<Self, User>("user_id")),
            "comments" => Some(has_many::<Self, Comment>("post_id")),
            "tags" => Some(belongs_to_many::<Self, Tag>(
                "post_tag", "post_id", "tag_id",
            )),
            _ => None,
        }
    }
}

/// A comment on a post.
#[derive(Model, Debug, Clone)]
#[model(crate = "foundry::db", fillable(post_id, user_id, body), hooks)]
pub struct Comment {
    /// Key.
    pub id: i64,
    /// The post.
    pub post_id: i64,
    /// The commenter.
    pub user_id: i64,
    /// Text.
    pub body: String,
    /// When the post's author was told (by the `notify_post_author` job).
    pub notified_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: Option<DateTime<Utc>>,
    /// Updated.
    pub updated_at: Option<DateTime<Utc>>,
    /// Loaded relations.
    pub relations: Relations,
}

impl ModelHooks for Comment {
    fn relation(name: &str) -> Option<Relation<Self>> {
        match name {
            "author" => Some(belongs_to::<Self, User>("user_id")),
            "post" => Some(belongs_to::<Self, Post>("post_id")),
            _ => None,
        }
    }
}

/// A tag; posts and tags are many-to-many through `post_tag`.
#[derive(Model, Debug, Clone)]
#[model(crate = "foundry::db", fillable(name), hooks)]
pub struct Tag {
    /// Key.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Loaded relations.
    pub relations: Relations,
}

impl ModelHooks for Tag {
    fn relation(name: &str) -> Option<Relation<Self>> {
        match name {
            "posts" => Some(belongs_to_many::<Self, Post>(
                "post_tag", "tag_id", "post_id",
            )),
            _ => None,
        }
    }
}

impl HasFactory for User {
    fn definition(index: usize) -> serde_json::Value {
        let name: String = foundry::db::factory::fake::faker::name::en::Name().fake();
        json!({ "name": name, "email": format!("user{index}-{}@example.com", fastrand_suffix()) })
    }
}

impl HasFactory for Post {
    fn definition(_index: usize) -> serde_json::Value {
        let title: String = foundry::db::factory::fake::faker::lorem::en::Sentence(3..7).fake();
        let body: Vec<String> =
            foundry::db::factory::fake::faker::lorem::en::Paragraphs(2..4).fake();
        json!({ "title": title.trim_end_matches('.'), "body": body.join("\n\n") })
    }
}

impl HasFactory for Comment {
    fn definition(_index: usize) -> serde_json::Value {
        let body: String = foundry::db::factory::fake::faker::lorem::en::Sentence(5..12).fake();
        json!({ "body": body })
    }
}

/// A short random suffix so factory e-mails stay unique across calls.
fn fastrand_suffix() -> String {
    let n: u32 = (0..u32::MAX).fake();
    format!("{n:08x}")
}

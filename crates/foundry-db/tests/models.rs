//! Models, scopes, events, relations, on SQLite and PostgreSQL.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use foundry_core::BoxFuture;
use foundry_db::migrate::{MigrateOptions, Migration, Migrator};
use foundry_db::model::ModelEvent;
use foundry_db::schema::Schema;
use foundry_db::{
    Db, DbError, GlobalScope, Model, ModelExt, ModelHooks, ModelQuery, Query, Relation,
    RelationExt, Relations, belongs_to, belongs_to_many, has_many, has_many_through, has_one,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

struct Blog;
impl Migration for Blog {
    fn name(&self) -> &str {
        "2024_01_01_000000_create_blog_tables"
    }
    fn up(&self, s: &mut Schema) {
        s.create("countries", |t| {
            t.id();
            t.string("name", 100);
        });
        s.create("users", |t| {
            t.id();
            t.foreign_id("country_id").nullable().constrained();
            t.string("name", 100);
            t.string("email", 255).unique();
            t.string("password", 255).default("");
            t.boolean("admin").default(false);
            t.json("settings").nullable();
            t.string("role", 20).default("member");
            t.timestamps();
        });
        s.create("profiles", |t| {
            t.id();
            t.foreign_id("user_id").constrained().cascade_on_delete();
            t.string("bio", 255);
        });
        s.create("posts", |t| {
            t.id();
            t.foreign_id("user_id").constrained().cascade_on_delete();
            t.string("title", 200);
            t.boolean("published").default(false);
            t.timestamps();
            t.soft_deletes();
        });
        s.create("comments", |t| {
            t.id();
            t.foreign_id("post_id").constrained().cascade_on_delete();
            t.foreign_id("user_id").constrained();
            t.text("body");
            t.boolean("approved").default(true);
        });
        s.create("tags", |t| {
            t.id();
            t.string("name", 50).unique();
        });
        s.create("post_tag", |t| {
            t.foreign_id("post_id").constrained().cascade_on_delete();
            t.foreign_id("tag_id").constrained().cascade_on_delete();
            t.string("added_by", 50).nullable();
            t.primary(&["post_id", "tag_id"]);
        });
        s.create("tokens", |t| {
            t.uuid("id").primary();
            t.string("name", 50);
        });
        s.create("events", |t| {
            t.ulid("id").primary();
            t.string("name", 50);
        });
    }
    fn down(&self, s: &mut Schema) {
        for t in [
            "events",
            "tokens",
            "post_tag",
            "tags",
            "comments",
            "posts",
            "profiles",
            "users",
            "countries",
        ] {
            s.drop(t);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Role {
    Member,
    Editor,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Settings {
    theme: String,
    beta: bool,
}

#[derive(Model, Debug, Clone)]
#[model(
    fillable(name, email, admin, settings, role, country_id),
    hidden(password),
    hooks
)]
struct User {
    id: i64,
    country_id: Option<i64>,
    name: String,
    email: String,
    password: String,
    admin: bool,
    #[model(cast = "json")]
    settings: Option<Settings>,
    #[model(cast = "enum")]
    role: Role,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    relations: Relations,
}

static USER_EVENTS: AtomicUsize = AtomicUsize::new(0);

impl ModelHooks for User {
    const HAS_EVENTS: bool = true;

    fn on_event<'a>(
        &'a mut self,
        event: ModelEvent,
        _db: &'a Db,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            USER_EVENTS.fetch_add(1, Ordering::SeqCst);
            match event {
                ModelEvent::Creating if self.email.ends_with("@blocked.test") => {
                    Err("blocked domain".into())
                }
                ModelEvent::Saving => {
                    self.email = self.email.to_lowercase();
                    Ok(())
                }
                ModelEvent::Deleting if self.admin => Err("admins cannot be deleted".into()),
                _ => Ok(()),
            }
        })
    }

    fn relation(name: &str) -> Option<Relation<Self>> {
        match name {
            "posts" => Some(has_many::<Self, Post>("user_id")),
            "profile" => Some(has_one::<Self, Profile>("user_id")),
            "articles" => Some(has_many::<Self, Article>("user_id")),
            "country" => Some(belongs_to::<Self, Country>("country_id")),
            _ => None,
        }
    }
}

#[derive(Model, Debug, Clone)]
#[model(hooks)]
struct Country {
    id: i64,
    name: String,
    relations: Relations,
}

impl ModelHooks for Country {
    fn relation(name: &str) -> Option<Relation<Self>> {
        match name {
            "posts" => Some(has_many_through::<Self, Post, User>(
                "country_id",
                "user_id",
            )),
            _ => None,
        }
    }
}

#[derive(Model, Debug, Clone)]
#[model(table = "profiles", fillable(user_id, bio))]
struct Profile {
    id: i64,
    user_id: i64,
    bio: String,
}

#[derive(Model, Debug, Clone)]
#[model(fillable(user_id, title, published), soft_deletes, hooks)]
struct Post {
    id: i64,
    user_id: i64,
    title: String,
    published: bool,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
    relations: Relations,
}

fn not_spam(q: Query) -> Query {
    q.where_op("posts.title", "not like", "%spam%")
}

impl ModelHooks for Post {
    fn global_scopes() -> Vec<GlobalScope> {
        vec![GlobalScope {
            name: "not_spam",
            apply: not_spam,
        }]
    }

    fn relation(name: &str) -> Option<Relation<Self>> {
        match name {
            "author" => Some(belongs_to::<Self, User>("user_id")),
            "comments" => Some(has_many::<Self, Comment>("post_id")),
            "tags" => Some(
                belongs_to_many::<Self, Tag>("post_tag", "post_id", "tag_id")
                    .with_pivot(["added_by"]),
            ),
            _ => None,
        }
    }
}

/// The `posts` table without `Post`'s global scope: eager loads of a model without global
/// scopes render their query from a cached template.
#[derive(Model, Debug, Clone)]
#[model(table = "posts", soft_deletes)]
struct Article {
    id: i64,
    user_id: i64,
    title: String,
    published: bool,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
}

/// A local scope, usable as `Post::query(&db).scope(published)`.
fn published(q: ModelQuery<Post>) -> ModelQuery<Post> {
    q.where_eq(Post::COL_PUBLISHED, true)
}

/// Local scopes as methods: an extension trait on the model's query.
trait PostScopes {
    fn titled(self, title: &str) -> Self;
}
impl PostScopes for ModelQuery<Post> {
    fn titled(self, title: &str) -> Self {
        self.where_eq(Post::COL_TITLE, title)
    }
}

#[derive(Model, Debug, Clone)]
#[model(fillable(post_id, user_id, body, approved), hooks)]
struct Comment {
    id: i64,
    post_id: i64,
    user_id: i64,
    body: String,
    approved: bool,
    relations: Relations,
}

impl ModelHooks for Comment {
    fn relation(name: &str) -> Option<Relation<Self>> {
        match name {
            "author" => Some(belongs_to::<Self, User>("user_id")),
            _ => None,
        }
    }
}

#[derive(Model, Debug, Clone)]
#[model(fillable(name))]
struct Tag {
    id: i64,
    name: String,
    relations: Relations,
}

#[derive(Model, Debug, Clone)]
#[model(key = "uuid", fillable(name), timestamps = false)]
struct Token {
    id: String,
    name: String,
}

#[derive(Model, Debug, Clone)]
#[model(key = "ulid", fillable(name))]
struct Event {
    id: String,
    name: String,
}

async fn migrate(db: &Db) {
    Migrator::new(db.clone(), vec![Arc::new(Blog)])
        .migrate(MigrateOptions::default())
        .await
        .unwrap();
}

async fn user(db: &Db, name: &str) -> User {
    User::create(
        db,
        json!({"name": name, "email": format!("{name}@example.com")}),
    )
    .await
    .unwrap()
}

async fn crud_timestamps_casts_hidden(db: Db) {
    migrate(&db).await;
    assert_eq!(User::TABLE, "users");
    let mut ada = User::create(
        &db,
        json!({"name": "Ada", "email": "ADA@Example.com", "settings": {"theme": "dark", "beta": true}, "role": "editor"}),
    )
    .await
    .unwrap();
    assert!(ada.id > 0);
    assert_eq!(ada.email, "ada@example.com", "saving hook ran");
    assert!(!ada.admin, "database default");
    assert_eq!(ada.role, Role::Editor);
    assert_eq!(
        ada.settings,
        Some(Settings {
            theme: "dark".into(),
            beta: true
        })
    );
    let created = ada.created_at.expect("created_at set");
    assert_eq!(ada.updated_at, Some(created));
    // Hidden fields are not serialized.
    let json = serde_json::to_value(&ada).unwrap();
    assert!(json.get("password").is_none());
    assert_eq!(json["role"], "editor");
    assert_eq!(json["settings"]["theme"], "dark");
    // Without relations the model is written field by field: the same JSON as `to_json`,
    // columns in the same (sorted) order; a cast struct keeps its own field order.
    let text = serde_json::to_string(&ada).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        foundry_db::Model::to_json(&ada)
    );
    assert!(
        text.starts_with(r#"{"admin":false,"country_id":null,"created_at":"#),
        "{text}"
    );
    assert!(
        text.contains(r#","settings":{"theme":"dark","beta":true},"updated_at":"#),
        "{text}"
    );

    let found = User::find(&db, ada.id).await.unwrap().unwrap();
    assert_eq!(found.name, "Ada");
    assert_eq!(found.settings, ada.settings);
    assert!(User::find(&db, 999).await.unwrap().is_none());
    let err = User::find_or_fail(&db, 999).await.unwrap_err();
    // The key's text is formatted only for the miss; it must still name the key.
    assert!(
        matches!(&err, DbError::NotFound { model, key } if model == "User" && key == "999"),
        "{err:?}"
    );
    let http: foundry_core::Error = err.into();
    assert_eq!(http.status().as_u16(), 404);

    ada.name = "Ada Lovelace".into();
    ada.save(&db).await.unwrap();
    assert!(ada.updated_at.unwrap() >= created);
    ada.update(&db, json!({"admin": true})).await.unwrap();
    let mut fresh = User::find_or_fail(&db, ada.id).await.unwrap();
    assert_eq!(fresh.name, "Ada Lovelace");
    assert!(fresh.admin);
    db.table("users")
        .where_eq("id", ada.id)
        .update(json!({"name": "Changed"}))
        .await
        .unwrap();
    fresh.refresh(&db).await.unwrap();
    assert_eq!(fresh.name, "Changed");

    // first_or_create / update_or_create.
    let again = User::first_or_create(
        &db,
        json!({"email": "ada@example.com"}),
        json!({"name": "x"}),
    )
    .await
    .unwrap();
    assert_eq!(again.id, ada.id);
    let bob = User::first_or_create(
        &db,
        json!({"email": "bob@example.com"}),
        json!({"name": "Bob"}),
    )
    .await
    .unwrap();
    assert_ne!(bob.id, ada.id);
    let bob2 = User::update_or_create(
        &db,
        json!({"email": "bob@example.com"}),
        json!({"name": "Robert"}),
    )
    .await
    .unwrap();
    assert_eq!((bob2.id, bob2.name.as_str()), (bob.id, "Robert"));
    let cy = User::update_or_create(
        &db,
        json!({"email": "cy@example.com"}),
        json!({"name": "Cy"}),
    )
    .await
    .unwrap();
    assert_eq!(User::query(&db).count().await.unwrap(), 3);

    // Queries with column constants; a typo in a string column is a clear error.
    let names: Vec<String> = User::query(&db)
        .order_by_asc(User::COL_ID)
        .pluck(User::COL_NAME)
        .await
        .unwrap();
    assert_eq!(names, ["Changed", "Robert", "Cy"]);
    let err = User::query(&db)
        .where_eq("nmae", "x")
        .get()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("User has no column `nmae`"),
        "{err}"
    );

    // Delete (hook may cancel).
    let mut ada = User::find_or_fail(&db, ada.id).await.unwrap();
    let err = ada.delete(&db).await.unwrap_err();
    assert!(
        matches!(
            &err,
            DbError::Cancelled {
                event: "deleting",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        User::find(&db, ada.id).await.unwrap().is_some(),
        "not deleted"
    );
    let mut cy = cy;
    cy.delete(&db).await.unwrap();
    assert!(User::find(&db, cy.id).await.unwrap().is_none());
    assert_eq!(User::destroy(&db, [bob.id]).await.unwrap(), 1);
    assert_eq!(User::query(&db).count().await.unwrap(), 1);
}

async fn mass_assignment_is_strict(db: Db) {
    migrate(&db).await;
    let err = User::create(
        &db,
        json!({"name": "M", "email": "m@x.test", "password": "x"}),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("`password` is guarded"), "{err}");
    let err = User::create(
        &db,
        json!({"name": "M", "email": "m@x.test", "nickname": "x"}),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown attribute `nickname`"),
        "{err}"
    );
    let err = User::create(
        &db,
        json!({"name": "M", "email": "m@x.test", "admin": "yes"}),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("attribute `admin`"), "{err}");
    let err = User::create(&db, json!(["not", "an", "object"]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("JSON object"), "{err}");
    let err = User::create(&db, json!({"name": "M", "email": "m@blocked.test"}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            DbError::Cancelled {
                event: "creating",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        User::query(&db).count().await.unwrap(),
        0,
        "nothing was inserted"
    );
    let mut u = user(&db, "ok").await;
    assert!(
        u.fill(json!({"id": 5})).is_err(),
        "primary key is guarded by default"
    );
    u.fill(json!({"name": "renamed"})).unwrap();
    assert_eq!(u.name, "renamed");
    // Guarded-by-default model: everything but the key and timestamps is fillable.
    let p = Profile::create(&db, json!({"user_id": u.id, "bio": "hi"}))
        .await
        .unwrap();
    assert_eq!(p.bio, "hi");
}

async fn soft_deletes_and_scopes(db: Db) {
    migrate(&db).await;
    let u = user(&db, "ann").await;
    let mut a = Post::create(
        &db,
        json!({"user_id": u.id, "title": "A", "published": true}),
    )
    .await
    .unwrap();
    Post::create(&db, json!({"user_id": u.id, "title": "B"}))
        .await
        .unwrap();
    Post::create(
        &db,
        json!({"user_id": u.id, "title": "buy spam now", "published": true}),
    )
    .await
    .unwrap();
    assert_eq!(
        Post::query(&db).count().await.unwrap(),
        2,
        "global scope hides spam"
    );
    assert_eq!(
        Post::query(&db)
            .without_global_scope("not_spam")
            .count()
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        Post::query(&db)
            .without_global_scopes()
            .count()
            .await
            .unwrap(),
        3
    );
    assert_eq!(Post::query(&db).scope(published).count().await.unwrap(), 1);
    assert_eq!(Post::query(&db).titled("B").count().await.unwrap(), 1);

    a.delete(&db).await.unwrap();
    assert!(a.trashed());
    assert_eq!(Post::query(&db).count().await.unwrap(), 1);
    assert!(Post::find(&db, a.id).await.unwrap().is_none());
    assert_eq!(Post::query(&db).with_trashed().count().await.unwrap(), 2);
    assert_eq!(Post::query(&db).only_trashed().count().await.unwrap(), 1);
    a.restore(&db).await.unwrap();
    assert!(!a.trashed());
    assert_eq!(Post::query(&db).count().await.unwrap(), 2);
    a.force_delete(&db).await.unwrap();
    assert_eq!(Post::query(&db).with_trashed().count().await.unwrap(), 1);
    // Mass operations respect soft deletes.
    assert_eq!(Post::query(&db).delete().await.unwrap(), 1);
    assert_eq!(Post::query(&db).only_trashed().count().await.unwrap(), 1);
    assert_eq!(Post::query(&db).restore().await.unwrap(), 1);
    assert_eq!(
        Post::query(&db)
            .update(json!({"title": "C"}))
            .await
            .unwrap(),
        1
    );
    assert!(Post::query(&db).update(json!({"nope": 1})).await.is_err());
}

async fn string_keys(db: Db) {
    migrate(&db).await;
    let t = Token::create(&db, json!({"name": "api"})).await.unwrap();
    assert_eq!(t.id.len(), 36);
    assert!(uuid::Uuid::parse_str(&t.id).is_ok());
    assert_eq!(
        Token::find_or_fail(&db, t.id.clone()).await.unwrap().name,
        "api"
    );
    let mut e = Event {
        id: String::new(),
        name: "first".into(),
    };
    e.save(&db).await.unwrap();
    assert_eq!(e.id.len(), 26);
    let mut later = Event {
        id: String::new(),
        name: "second".into(),
    };
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    later.save(&db).await.unwrap();
    assert!(later.id > e.id, "ULIDs sort by time");
    e.name = "renamed".into();
    e.save(&db).await.unwrap();
    assert_eq!(
        Event::find_or_fail(&db, e.id.clone()).await.unwrap().name,
        "renamed"
    );
    assert_eq!(Event::query(&db).count().await.unwrap(), 2);
}

async fn seed_blog(db: &Db) -> (User, User, Vec<Post>) {
    let country = Country::create(db, json!({"name": "UK"})).await.unwrap();
    let mut ada = user(db, "ada").await;
    ada.update(db, json!({"country_id": country.id}))
        .await
        .unwrap();
    let bob = user(db, "bob").await;
    Profile::create(db, json!({"user_id": ada.id, "bio": "math"}))
        .await
        .unwrap();
    let mut posts = Vec::new();
    for (author, title) in [(&ada, "p1"), (&ada, "p2"), (&bob, "p3")] {
        posts.push(
            Post::create(db, json!({"user_id": author.id, "title": title}))
                .await
                .unwrap(),
        );
    }
    for (post, by, approved) in [(0, &bob, true), (0, &ada, true), (1, &bob, false)] {
        Comment::create(db, json!({"post_id": posts[post].id, "user_id": by.id, "body": "hi", "approved": approved}))
            .await
            .unwrap();
    }
    for name in ["rust", "sql"] {
        Tag::create(db, json!({"name": name})).await.unwrap();
    }
    (ada, bob, posts)
}

async fn eager_loading_without_n_plus_one(db: Db) {
    migrate(&db).await;
    let (ada, _bob, posts) = seed_blog(&db).await;
    let tags = Post::pivot("tags").unwrap();
    tags.attach(&db, posts[0].id, [1i64, 2]).await.unwrap();
    tags.attach_with(
        &db,
        posts[1].id,
        [2i64],
        json!({"added_by": "ada"}).as_object().unwrap().clone(),
    )
    .await
    .unwrap();

    let before = db.statements_executed();
    let loaded = Post::query(&db)
        .with(["author", "comments.author", "tags"])
        .order_by_asc(Post::COL_ID)
        .get()
        .await
        .unwrap();
    assert_eq!(
        db.statements_executed() - before,
        5,
        "posts, authors, comments, comment authors, tags: one query per relation and level"
    );
    assert_eq!(loaded.len(), 3);
    let first = &loaded[0];
    assert_eq!(
        first.loaded_one::<User>("author").unwrap().unwrap().name,
        "ada"
    );
    // Two posts by ada, one by bob: each parent gets its own author, shared or not.
    let authors: Vec<String> = loaded
        .iter()
        .map(|p| {
            p.loaded_one::<User>("author")
                .unwrap()
                .unwrap()
                .name
                .clone()
        })
        .collect();
    assert_eq!(authors, ["ada", "ada", "bob"]);
    let comments = first.loaded_many::<Comment>("comments").unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(
        comments[0]
            .loaded_one::<User>("author")
            .unwrap()
            .unwrap()
            .name,
        "bob"
    );
    let mut tag_names: Vec<&str> = first
        .loaded_many::<Tag>("tags")
        .unwrap()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    tag_names.sort_unstable();
    assert_eq!(tag_names, ["rust", "sql"]);
    let second_tags = loaded[1].loaded_many::<Tag>("tags").unwrap();
    assert_eq!(second_tags[0].relations.extra()["pivot"]["added_by"], "ada");
    assert!(loaded[2].loaded_many::<Tag>("tags").unwrap().is_empty());
    // Serialized with relations, hidden fields still hidden.
    let json = serde_json::to_value(first).unwrap();
    assert_eq!(json["author"]["name"], "ada");
    assert!(json["author"].get("password").is_none());
    assert_eq!(json["comments"][0]["author"]["name"], "bob");

    // Constrained eager load.
    let approved = Post::query(&db)
        .with_constrained("comments", |q| q.where_eq("approved", true))
        .order_by_asc(Post::COL_ID)
        .get()
        .await
        .unwrap();
    assert_eq!(
        approved[1]
            .loaded_many::<Comment>("comments")
            .unwrap()
            .len(),
        0
    );

    // has_one, belongs_to returning none, has_many_through.
    let users = User::query(&db)
        .with(["profile", "country", "posts"])
        .order_by_asc(User::COL_ID)
        .get()
        .await
        .unwrap();
    assert_eq!(
        users[0]
            .loaded_one::<Profile>("profile")
            .unwrap()
            .unwrap()
            .bio,
        "math"
    );
    assert!(users[1].loaded_one::<Profile>("profile").unwrap().is_none());
    assert!(users[1].loaded_one::<Country>("country").unwrap().is_none());
    assert_eq!(users[0].loaded_many::<Post>("posts").unwrap().len(), 2);
    let uk = Country::query(&db)
        .with(["posts"])
        .first()
        .await
        .unwrap()
        .unwrap();
    let titles: Vec<&str> = uk
        .loaded_many::<Post>("posts")
        .unwrap()
        .iter()
        .map(|p| p.title.as_str())
        .collect();
    assert_eq!(titles, ["p1", "p2"]);

    // Unknown relation names are clear errors.
    let err = Post::query(&db).with(["auther"]).get().await.unwrap_err();
    assert!(
        err.to_string().contains("Post has no relation `auther`"),
        "{err}"
    );
    // Unloaded relation: an error naming it, never a silent query.
    let plain = Post::find_or_fail(&db, posts[0].id).await.unwrap();
    let err = plain.loaded_one::<User>("author").unwrap_err();
    assert!(
        err.to_string().contains("lazy load relation `author`"),
        "{err}"
    );
    let _ = ada;
}

/// Eager loads from the cached `IN (…)` template keep the soft-delete filter, for any number
/// of keys, the first time (template built) and after (template reused).
async fn eager_loading_from_cached_sql(db: Db) {
    migrate(&db).await;
    let (_, _, posts) = seed_blog(&db).await;
    let mut trashed = Post::find_or_fail(&db, posts[1].id).await.unwrap();
    trashed.delete(&db).await.unwrap();
    let titles = |u: &User| -> Vec<String> {
        u.loaded_many::<Article>("articles")
            .unwrap()
            .iter()
            .map(|a| a.title.clone())
            .collect()
    };
    for _ in 0..2 {
        let users = User::query(&db)
            .with(["articles"])
            .order_by_asc(User::COL_ID)
            .get()
            .await
            .unwrap();
        assert_eq!(titles(&users[0]), ["p1"], "the trashed p2 is left out");
        assert_eq!(titles(&users[1]), ["p3"]);
        let bob = User::query(&db)
            .where_eq(User::COL_NAME, "bob")
            .with(["articles"])
            .get()
            .await
            .unwrap();
        assert_eq!(titles(&bob[0]), ["p3"]);
    }
}

async fn lazy_loading_guard(db: Db) {
    migrate(&db).await;
    let (_, _, posts) = seed_blog(&db).await;
    let mut post = Post::find_or_fail(&db, posts[0].id).await.unwrap();
    assert!(db.prevents_lazy_loading(), "on by default");
    let err = post.get_one::<User>(&db, "author").await.unwrap_err();
    assert!(
        matches!(&err, DbError::LazyLoading { relation, .. } if relation == "author"),
        "{err}"
    );
    db.prevent_lazy_loading(false);
    let author = post.get_one::<User>(&db, "author").await.unwrap().unwrap();
    assert_eq!(author.name, "ada");
    let comments = post.get_many::<Comment>(&db, "comments").await.unwrap();
    assert_eq!(comments.len(), 2);
    db.prevent_lazy_loading(true);
    // Explicit load is always allowed.
    let mut other = Post::find_or_fail(&db, posts[1].id).await.unwrap();
    other.load(&db, &["comments"]).await.unwrap();
    assert_eq!(other.loaded_many::<Comment>("comments").unwrap().len(), 1);
}

async fn counts_and_existence(db: Db) {
    migrate(&db).await;
    let (_, _, posts) = seed_blog(&db).await;
    let before = db.statements_executed();
    let with_counts = Post::query(&db)
        .with_count("comments")
        .order_by_asc(Post::COL_ID)
        .get()
        .await
        .unwrap();
    assert_eq!(
        db.statements_executed() - before,
        1,
        "counts come in the same query"
    );
    let counts: Vec<i64> = with_counts
        .iter()
        .map(|p| p.relations.extra()["comments_count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [2, 1, 0]);
    assert_eq!(
        serde_json::to_value(&with_counts[0]).unwrap()["comments_count"],
        2
    );
    let has = Post::query(&db)
        .where_has("comments", |q| q)
        .count()
        .await
        .unwrap();
    assert_eq!(has, 2);
    let approved = Post::query(&db)
        .where_has("comments", |q| q.where_eq("comments.approved", false))
        .get()
        .await
        .unwrap();
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0].id, posts[1].id);
    let none = Post::query(&db)
        .doesnt_have("comments")
        .get()
        .await
        .unwrap();
    assert_eq!(none[0].id, posts[2].id);
    assert!(
        Post::query(&db)
            .where_has("nope", |q| q)
            .get()
            .await
            .is_err()
    );
}

async fn pivot_operations(db: Db) {
    migrate(&db).await;
    let (_, _, posts) = seed_blog(&db).await;
    Tag::create(&db, json!({"name": "web"})).await.unwrap();
    let tags = Post::pivot("tags").unwrap();
    let pid = posts[0].id;
    assert_eq!(
        tags.attach(&db, pid, [1i64, 2, 2]).await.unwrap(),
        ["1", "2"]
    );
    assert!(
        tags.attach(&db, pid, [1i64]).await.unwrap().is_empty(),
        "already attached"
    );
    let changes = tags.sync(&db, pid, [2i64, 3]).await.unwrap();
    assert_eq!(changes.attached, ["3"]);
    assert_eq!(changes.detached, ["1"]);
    let changes = tags.toggle(&db, pid, [1i64, 2]).await.unwrap();
    assert_eq!(changes.attached, ["1"]);
    assert_eq!(changes.detached, ["2"]);
    let mut post = Post::find_or_fail(&db, pid).await.unwrap();
    post.load(&db, &["tags"]).await.unwrap();
    let mut names: Vec<&str> = post
        .loaded_many::<Tag>("tags")
        .unwrap()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["rust", "web"]);
    assert_eq!(tags.detach(&db, pid, None).await.unwrap(), 2);
    assert!(Post::pivot("author").is_err(), "not a many-to-many");
}

struct TagAudit(Arc<std::sync::Mutex<Vec<String>>>);

impl foundry_db::Observer<Tag> for TagAudit {
    fn on_event<'a>(
        &'a self,
        event: ModelEvent,
        tag: &'a mut Tag,
        _db: &'a Db,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.0
                .lock()
                .unwrap()
                .push(format!("{}:{}", event.name(), tag.name));
            match event {
                ModelEvent::Creating => {
                    tag.name = tag.name.trim().to_lowercase();
                    Ok(())
                }
                ModelEvent::Deleting if tag.name == "keep" => Err("tag `keep` is protected".into()),
                _ => Ok(()),
            }
        })
    }
}

async fn observers(db: Db) {
    migrate(&db).await;
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    db.observe::<Tag>(TagAudit(log.clone()));
    let mut tag = Tag::create(&db, json!({"name": "  Rust "})).await.unwrap();
    assert_eq!(
        tag.name, "rust",
        "observer changed the model before it was stored"
    );
    assert_eq!(Tag::find_or_fail(&db, tag.id).await.unwrap().name, "rust");
    tag.name = "keep".into();
    tag.save(&db).await.unwrap();
    let err = tag.delete(&db).await.unwrap_err();
    assert!(
        matches!(
            &err,
            DbError::Cancelled {
                event: "deleting",
                ..
            }
        ),
        "{err}"
    );
    assert!(Tag::find(&db, tag.id).await.unwrap().is_some());
    assert_eq!(
        *log.lock().unwrap(),
        [
            "saving:  Rust ",
            "creating:  Rust ",
            "created:rust",
            "saved:rust",
            "saving:keep",
            "updating:keep",
            "updated:keep",
            "saved:keep",
            "deleting:keep"
        ]
    );
}

async fn model_chunks_and_cursor(db: Db) {
    migrate(&db).await;
    let (_, _, posts) = seed_blog(&db).await;
    let mut seen = Vec::new();
    let mut chunks = 0;
    Post::query(&db)
        .with(["author"])
        .chunk_by_id(2, |batch| {
            chunks += 1;
            for p in &batch {
                assert!(
                    p.loaded_one::<User>("author").unwrap().is_some(),
                    "eager loads apply per chunk"
                );
                seen.push(p.id);
            }
            async { Ok(true) }
        })
        .await
        .unwrap();
    assert_eq!(chunks, 2);
    assert_eq!(seen, posts.iter().map(|p| p.id).collect::<Vec<_>>());
    use futures_util::StreamExt;
    let streamed: Vec<i64> = Post::query(&db)
        .order_by_desc(Post::COL_ID)
        .cursor()
        .map(|p| p.unwrap().id)
        .collect()
        .await;
    assert_eq!(streamed.len(), 3);
    assert!(streamed[0] > streamed[2]);
    let mut bad = Post::query(&db).where_eq("nope", 1).cursor();
    assert!(bad.next().await.unwrap().is_err());
}

/// A failing `find` (its SQL comes from the per-model cache) still names the statement.
async fn failing_find_names_its_sql(db: Db) {
    // No migration: the `users` table does not exist.
    for _ in 0..2 {
        let err = User::find(&db, 1).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("query failed: SELECT"), "{text}");
        assert!(text.contains("users"), "{text}");
    }
    let err = User::find_or_fail(&db, 1).await.unwrap_err();
    assert!(!matches!(err, DbError::NotFound { .. }), "{err:?}");
}

backend_tests!(
    failing_find_names_its_sql,
    model_chunks_and_cursor,
    observers,
    crud_timestamps_casts_hidden,
    mass_assignment_is_strict,
    soft_deletes_and_scopes,
    string_keys,
    eager_loading_without_n_plus_one,
    eager_loading_from_cached_sql,
    lazy_loading_guard,
    counts_and_existence,
    pivot_operations,
);

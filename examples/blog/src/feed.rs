//! `GET /feed.xml`: the newest posts as an Atom feed, a typed view (`resources/views/feed.xml`,
//! compiled into the binary and checked when the blog is built).

use chrono::{DateTime, SecondsFormat, Utc};
use foundry::db::{Db, ModelExt};
use foundry::http::views::Template;
use foundry::prelude::*;
use http::HeaderValue;
use http::header::CONTENT_TYPE;

use crate::models::Post;

/// Posts in the feed.
pub const FEED_POSTS: u64 = 20;

/// Characters of a post's body in its entry's summary.
const SUMMARY_CHARS: usize = 200;

/// The feed document.
#[derive(Template)]
#[template(path = "feed.xml", askama = foundry::http::views::askama)]
pub struct Feed {
    /// The app's name.
    pub title: String,
    /// The home page's absolute URL, also the feed's id.
    pub home_url: String,
    /// This feed's absolute URL.
    pub self_url: String,
    /// When the newest entry changed (RFC 3339).
    pub updated: String,
    /// Newest first.
    pub entries: Vec<FeedEntry>,
}

/// One post in the feed.
pub struct FeedEntry {
    /// The post's title.
    pub title: String,
    /// The post page's absolute URL, also the entry's id.
    pub url: String,
    /// When the post last changed (RFC 3339).
    pub updated: String,
    /// The start of the body.
    pub summary: String,
}

/// `GET /feed.xml`: the [`FEED_POSTS`] newest posts (trashed ones left out), newest first.
pub async fn show(State(ctx): State<AppContext>, Service(db): Service<Db>) -> Result<View> {
    let posts = Post::query(&db)
        .latest(Post::COL_ID)
        .limit(FEED_POSTS)
        .get()
        .await?;
    let urls = ctx.urls();
    let entries = posts
        .iter()
        .map(|post| {
            Ok(FeedEntry {
                title: post.title.clone(),
                url: urls.route_url("posts.show", [("post", post.id)])?,
                updated: rfc3339(post.updated_at.or(post.created_at)),
                summary: summary(&post.body),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let updated = posts
        .iter()
        .filter_map(|post| post.updated_at.or(post.created_at))
        .max();
    let feed = Feed {
        title: ctx.config().app().name.clone(),
        home_url: urls.route_url("welcome", ())?,
        self_url: urls.route_url("feed", ())?,
        updated: rfc3339(updated.or_else(|| Some(ctx.clock().now()))),
        entries,
    };
    Ok(View::template(&feed)?.header(
        CONTENT_TYPE,
        HeaderValue::from_static("application/atom+xml; charset=utf-8"),
    ))
}

fn rfc3339(at: Option<DateTime<Utc>>) -> String {
    at.unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The first [`SUMMARY_CHARS`] characters of `body`, with an ellipsis when cut.
fn summary(body: &str) -> String {
    match body.char_indices().nth(SUMMARY_CHARS) {
        Some((end, _)) => format!("{}…", body[..end].trim_end()),
        None => body.to_owned(),
    }
}

//! The API's JSON: one resource per model. Relations appear only when they were eager loaded.

use foundry::http::json_resource::{Fields, JsonResource};

use crate::models::{Comment, Post, Tag, User};

/// A user as the API shows it: no e-mail address.
pub struct UserResource;

impl JsonResource for UserResource {
    type Model = User;
    fn fields(user: &User, out: &mut Fields) {
        out.field("id", user.id).field("name", &user.name);
    }
}

/// A tag.
pub struct TagResource;

impl JsonResource for TagResource {
    type Model = Tag;
    fn fields(tag: &Tag, out: &mut Fields) {
        out.field("id", tag.id).field("name", &tag.name);
    }
}

/// A comment, with its author when loaded.
pub struct CommentResource;

impl JsonResource for CommentResource {
    type Model = Comment;
    fn fields(comment: &Comment, out: &mut Fields) {
        out.field("id", comment.id)
            .field("body", &comment.body)
            .when_loaded::<UserResource>("author", comment)
            .field("created_at", comment.created_at);
    }
}

/// A post with its author and comment count (and its tags and comments, when loaded).
pub struct PostResource;

impl JsonResource for PostResource {
    type Model = Post;
    fn fields(post: &Post, out: &mut Fields) {
        out.field("id", post.id)
            .field("title", &post.title)
            .field("body", &post.body)
            .when_loaded::<UserResource>("author", post)
            .when_counted("comments", post)
            .when_loaded::<TagResource>("tags", post)
            .when_loaded::<CommentResource>("comments", post)
            .field("created_at", post.created_at)
            .field("updated_at", post.updated_at);
    }
}

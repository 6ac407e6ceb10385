//! Reading a request body whole, for the extractors that parse one (`Json` in foundry-http,
//! `Validated` in foundry-validation), and telling a JSON body by its media type.
//!
//! axum's `Bytes` extractor collects every body into a list of buffers (a `VecDeque` grown on
//! the first frame) and flattens it at the end; a JSON or form body nearly always arrives as
//! one frame, which [`ReadBody`] takes as it is. The limit is axum's (`DefaultBodyLimit`, 2 MB
//! unless the app or a route sets another), and so are the statuses: 413 over the limit,
//! 400 when the body cannot be read.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum_core::RequestExt as _;
use axum_core::body::Body;
use axum_core::extract::Request;
use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use http_body::Body as HttpBody;

use crate::{Error, ErrorKind};

/// A request's media type: its `Content-Type` without parameters, trimmed (`None` without
/// one, or when it is not visible ASCII).
///
/// ```
/// use foundry_core::body::media_type;
/// let mut headers = http::HeaderMap::new();
/// assert_eq!(media_type(&headers), None);
/// headers.insert("content-type", "application/json; charset=utf-8".parse().unwrap());
/// assert_eq!(media_type(&headers), Some("application/json"));
/// ```
pub fn media_type(headers: &HeaderMap) -> Option<&str> {
    let content_type = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    // `;` is ASCII: a byte scan finds it without a string searcher's set-up.
    let end = content_type
        .bytes()
        .position(|b| b == b';')
        .unwrap_or(content_type.len());
    // A header value's text is visible ASCII, where `trim_ascii` is `trim`.
    Some(content_type[..end].trim_ascii())
}

/// Whether `media_type` is JSON: `application/json`, or `application/…+json` (as
/// `application/vnd.api+json`), in any case.
///
/// ```
/// use foundry_core::body::is_json;
/// assert!(is_json("application/json"));
/// assert!(is_json("Application/Problem+JSON"));
/// assert!(!is_json("text/json"));
/// assert!(!is_json("application/jsonx"));
/// ```
pub fn is_json(media_type: &str) -> bool {
    let starts = |prefix: &str| {
        media_type
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    let ends = |suffix: &str| {
        media_type
            .len()
            .checked_sub(suffix.len())
            .and_then(|start| media_type.get(start..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
    };
    media_type.eq_ignore_ascii_case("application/json") || (starts("application/") && ends("+json"))
}

/// The future of a whole request body: its bytes, or a 413 (over the request's limit) or a
/// 400 (the body broke off) [`Error`].
pub struct ReadBody {
    body: Body,
    /// The data so far: the first frame as it came, or a buffer once a second one came.
    read: Read,
}

enum Read {
    Nothing,
    One(Bytes),
    Many(Vec<u8>),
}

impl ReadBody {
    /// The body of `request`, within the request's body limit.
    pub fn new(request: Request) -> Self {
        Self {
            body: request.into_limited_body(),
            read: Read::Nothing,
        }
    }

    fn take(&mut self) -> Bytes {
        match std::mem::replace(&mut self.read, Read::Nothing) {
            Read::Nothing => Bytes::new(),
            Read::One(bytes) => bytes,
            Read::Many(buffer) => Bytes::from(buffer),
        }
    }
}

impl Future for ReadBody {
    type Output = Result<Bytes, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            let Some(frame) = ready!(Pin::new(&mut this.body).poll_frame(cx)) else {
                return Poll::Ready(Ok(this.take()));
            };
            // Trailers carry no data.
            let Ok(data) = frame.map_err(read_error)?.into_data() else {
                continue;
            };
            this.read = match std::mem::replace(&mut this.read, Read::Nothing) {
                Read::Nothing => Read::One(data),
                Read::One(first) => {
                    let mut buffer = Vec::with_capacity(first.len() + data.len());
                    buffer.extend_from_slice(&first);
                    buffer.extend_from_slice(&data);
                    Read::Many(buffer)
                }
                Read::Many(mut buffer) => {
                    buffer.extend_from_slice(&data);
                    Read::Many(buffer)
                }
            };
            // Saves a poll that would only report the end.
            if this.body.is_end_stream() {
                return Poll::Ready(Ok(this.take()));
            }
        }
    }
}

/// 413 when the body went over the limit (the limit's error sits under the body's own
/// wrappers), 400 for anything else.
fn read_error(error: axum_core::Error) -> Error {
    let error = error.into_inner();
    let over_limit = std::iter::successors(Some(&*error as &dyn std::error::Error), |e| e.source())
        .any(|e| e.is::<http_body_util::LengthLimitError>());
    let kind = if over_limit {
        ErrorKind::PayloadTooLarge
    } else {
        ErrorKind::BadRequest
    };
    Error::new(kind, format!("Failed to buffer the request body: {error}"))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use http_body::Frame;
    use http_body_util::BodyExt as _;
    use tower::{Layer as _, ServiceExt as _};

    use super::*;

    /// A body of these frames, in order. One that `knows_its_end` says so once they are all
    /// read, and panics if it is polled after that.
    struct Frames {
        frames: VecDeque<Result<Frame<Bytes>, std::io::Error>>,
        knows_its_end: bool,
    }

    impl HttpBody for Frames {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            let next = self.frames.pop_front();
            assert!(
                next.is_some() || !self.knows_its_end,
                "polled after its end"
            );
            Poll::Ready(next)
        }

        fn is_end_stream(&self) -> bool {
            self.knows_its_end && self.frames.is_empty()
        }
    }

    fn data(chunks: &[&'static str]) -> Frames {
        Frames {
            frames: chunks
                .iter()
                .map(|c| Ok(Frame::data(Bytes::from_static(c.as_bytes()))))
                .collect(),
            knows_its_end: false,
        }
    }

    async fn read(
        body: impl HttpBody<Data = Bytes, Error = std::io::Error> + Send + 'static,
    ) -> Result<Bytes, Error> {
        ReadBody::new(Request::new(Body::new(body))).await
    }

    #[tokio::test]
    async fn one_frame_several_frames_and_trailers_read_as_axum_collects_them() {
        assert_eq!(read(data(&["{\"a\":1}"])).await.unwrap(), "{\"a\":1}");
        assert_eq!(
            read(data(&["{\"a\"", ":", "1}"])).await.unwrap(),
            "{\"a\":1}"
        );
        let mut trailed = data(&["ab", "c"]);
        trailed
            .frames
            .push_back(Ok(Frame::trailers(http::HeaderMap::new())));
        assert_eq!(read(trailed).await.unwrap(), "abc");
        assert!(read(data(&[])).await.unwrap().is_empty());
        let from_axum = Body::new(data(&["ab", "c"]))
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(read(data(&["ab", "c"])).await.unwrap(), from_axum);
        // A body that knows its end is not polled past it.
        let mut ended = data(&["ab", "c"]);
        ended.knows_its_end = true;
        assert_eq!(read(ended).await.unwrap(), "abc");
    }

    #[tokio::test]
    async fn over_the_limit_is_413_and_a_broken_body_400() {
        // The limit as a route's `DefaultBodyLimit` layer sets it.
        let limited = axum::extract::DefaultBodyLimit::max(15).layer(tower::service_fn(
            |request: Request| async move { Ok::<_, std::convert::Infallible>(request) },
        ));
        let request = Request::new(Body::new(data(&["0123456789", "0123456789"])));
        let request = limited.oneshot(request).await.unwrap();
        let err = ReadBody::new(request).await.unwrap_err();
        assert_eq!(err.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
        assert!(err.to_string().contains("length limit exceeded"), "{err}");

        let mut broken = data(&["{"]);
        broken
            .frames
            .push_back(Err(std::io::Error::other("connection reset")));
        let err = read(broken).await.unwrap_err();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert!(err.to_string().contains("connection reset"), "{err}");
    }
}

//! The `signed` middleware: 403 unless the URL carries a valid, unexpired signature.
//!
//! Signed URLs come from [`UrlGenerator::signed_route`](foundry_core::url::UrlGenerator::signed_route)
//! and `temporary_signed_route`; this layer checks them with the same app key.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use foundry_core::Error;
use foundry_core::url::{SignatureError, UrlSigner};
use tower::{Layer, Service};

/// Layer rejecting requests whose URL signature is missing, wrong or expired.
#[derive(Debug, Clone)]
pub struct ValidateSignatureLayer {
    signer: Arc<UrlSigner>,
}

impl ValidateSignatureLayer {
    /// A layer checking with `signer` (made from the app key).
    pub fn new(signer: UrlSigner) -> Self {
        Self {
            signer: Arc::new(signer),
        }
    }
}

impl<S> Layer<S> for ValidateSignatureLayer {
    type Service = ValidateSignature<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ValidateSignature {
            inner,
            signer: self.signer.clone(),
        }
    }
}

/// The service of [`ValidateSignatureLayer`].
#[derive(Debug, Clone)]
pub struct ValidateSignature<S> {
    inner: S,
    signer: Arc<UrlSigner>,
}

impl<S> Service<Request> for ValidateSignature<S>
where
    S: Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future =
        futures_util::future::Either<std::future::Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let target = request
            .uri()
            .path_and_query()
            .map_or_else(|| request.uri().path(), |pq| pq.as_str());
        match self.signer.verify(target, SystemTime::now()) {
            Ok(()) => futures_util::future::Either::Right(self.inner.call(request)),
            Err(err) => {
                let error = match err {
                    SignatureError::MissingKey => Error::internal(err),
                    _ => Error::forbidden("Invalid signature.").with_source(err),
                };
                futures_util::future::Either::Left(std::future::ready(Ok(error.into_response())))
            }
        }
    }
}

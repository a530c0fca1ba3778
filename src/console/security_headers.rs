//! Headers on every console response. The CSP allows only the console's own stylesheet,
//! images and forms, and no script at all (the pages have none, so an injected one cannot
//! run); no framing (clickjacking), no referrer (page URLs carry ids and filters), no
//! caching of pages that show account data.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// Adds the security headers to `response`.
pub async fn add(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let values = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in values {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

//! The web page: one HTML file, one script and one style sheet, embedded in the binary, a
//! client of the JSON API alone (so the page and the API cannot disagree). `GET /` answers
//! the page to browsers (an `Accept` naming `text/html`) and the JSON root to everyone else.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const INDEX: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/app.css");

/// Only this origin's script and style; no inline code, no frames, no other host.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                      img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Whether a request's `Accept` header asks for HTML (a browser navigating), rather than
/// JSON or anything (`*/*`, an API client).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| media.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("text/html")))
}

/// A file of the page, with a validator so that a browser revalidates instead of fetching.
fn file(headers: &HeaderMap, body: &'static str, content_type: &'static str) -> Response {
    let etag = format!("\"{:016x}\"", fnv1a(body.as_bytes()));
    let fresh = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { body.into_response() };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex digits"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The page itself.
pub fn index(headers: &HeaderMap) -> Response {
    let mut response = file(headers, INDEX, "text/html; charset=utf-8");
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `GET /assets/{name}`.
pub async fn asset(headers: HeaderMap, axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match name.as_str() {
        "app.js" => file(&headers, SCRIPT, "text/javascript; charset=utf-8"),
        "app.css" => file(&headers, STYLE, "text/css; charset=utf-8"),
        _ => ApiError::not_found(format!("no asset {}", movierec_core::quote::quote(&name))).into_response(),
    }
}

/// FNV-1a, 64 bits: the assets' validator (they change only with the binary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn browsers_get_the_page_and_clients_the_json() {
        assert!(wants_html(&accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")));
        assert!(wants_html(&accept("TEXT/HTML")));
        assert!(!wants_html(&accept("application/json")));
        assert!(!wants_html(&accept("*/*")));
        assert!(!wants_html(&HeaderMap::new()));
    }

    #[test]
    fn the_page_loads_only_its_own_files_and_stays_small() {
        assert!(INDEX.contains("src=\"/assets/app.js\"") && INDEX.contains("href=\"/assets/app.css\""));
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://") && !SCRIPT.contains("https://"));
        assert!(INDEX.len() + SCRIPT.len() + STYLE.len() < 100_000);
    }
}

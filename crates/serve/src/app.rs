//! The service's router and the middleware every request goes through (admission, timeout,
//! metrics and the access log, body limit, panics answered as JSON).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::admission;
use crate::api;
use crate::error::ApiError;
use crate::state::AppState;

/// The whole service: routes, documentation, metrics, limits.
pub fn router(state: Arc<AppState>) -> Router {
    let timeout = state.config.request_timeout;
    let body_limit = state.config.body_limit;
    Router::new()
        .route("/", get(api::root))
        .route("/health", get(api::health))
        .route("/ready", get(api::ready))
        .route("/users", get(api::users))
        .route("/users/{id}", get(api::user))
        .route("/users/{id}/recommendations", get(api::user_recommendations))
        .route("/recommendations", post(api::fold_in_recommendations))
        .route("/movies", get(api::movies))
        .route("/movies/{id}", get(api::movie))
        .route("/movies/{id}/similar", get(api::similar_movies))
        .route("/gridsearch", post(api::start_gridsearch).get(api::list_gridsearch))
        .route("/gridsearch/{job_id}", get(api::gridsearch_job))
        .route("/refresh", post(api::refresh))
        .route("/metrics", get(api::metrics))
        .route("/assets/{name}", get(crate::web::asset))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", api::ApiDoc::openapi()))
        .fallback(api::no_route)
        .method_not_allowed_fallback(api::no_method)
        .layer(middleware::from_fn_with_state(Arc::clone(&state.admission), admission::admit))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), move |s, r, n| observe(s, r, n, timeout)))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(|_| ApiError::internal().into_response()))
        .with_state(state)
}

/// Times out slow requests (their wait for a turn included), then records each in the
/// metrics and the log.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next, timeout: Duration) -> Response {
    let started = Instant::now();
    // The matched template, never the raw path, so the metrics' label values stay a fixed set.
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {} s", timeout.as_secs_f64()),
        )
        .into_response(),
    };
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    tracing::info!(
        target: "movierec::access",
        %method,
        route,
        path = uri.path(),
        status,
        micros = (seconds * 1e6) as u64
    );
    state.metrics.observe(route, method.as_str(), status, seconds);
    response
}

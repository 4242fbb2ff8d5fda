//! Every route and every error, through the router in-process, on a small project.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Fixture, TOKEN};
use movierec_core::data::trainset::Trainset;
use movierec_core::models::base::select;
use movierec_core::models::ranking::Reorder;
use movierec_core::models::rating::svd::fold;
use movierec_core::models::{Kind, Ranking, Recommender, User, recommender};
use movierec_serve::{AppState, Config, Snapshot, router};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Service {
    fixture: Fixture,
    state: Arc<AppState>,
    app: Router,
}

impl Service {
    fn new(config: Config) -> Service {
        let fixture = Fixture::new();
        let snapshot = Snapshot::load(&fixture.paths()).unwrap();
        let state = AppState::new(fixture.paths(), config, Some(snapshot)).unwrap();
        let app = router(Arc::clone(&state));
        Service { fixture, state, app }
    }

    fn with_token() -> Service {
        Service::new(Config { token: Some(TOKEN.to_owned()), ..Config::default() })
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (parts.status, parts.headers, bytes.to_vec())
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        let (status, headers, body) = self.send(Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{uri}");
        (status, serde_json::from_slice(&body).unwrap())
    }

    async fn post(&self, uri: &str, token: Option<&str>, body: &str) -> (StatusCode, Value) {
        let mut r = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let (status, _, body) = self.send(r.body(Body::from(body.to_owned())).unwrap()).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn user(&self, u: u32) -> String {
        self.fixture.data.ratings.users().raw(u).to_owned()
    }

    fn movie(&self, m: u32) -> String {
        self.fixture.data.ratings.movies().raw(m).to_owned()
    }
}

/// Asserts a JSON error answer with this status and code, and returns its message.
fn error(answer: &(StatusCode, Value), status: StatusCode, code: &str) -> String {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{}", answer.1);
    answer.1["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn root_describes_the_model_and_links_the_routes() {
    let s = Service::new(Config::default());
    let (status, v) = s.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["service"], "movierec");
    assert_eq!(v["users"], s.fixture.data.ratings.users().len());
    assert_eq!(v["movies"], s.fixture.data.ratings.movies().len());
    let m = &v["model"];
    assert_eq!(m["format_version"], 3);
    assert_eq!((m["algorithm"].as_str(), m["mode"].as_str()), (Some("svd"), Some("fast")));
    assert_eq!(m["ranking"], json!({"kind": "relevance", "rerank": 0}));
    assert_eq!(m["trained_at"], "2025-11-26T00:00:00Z");
    assert_eq!(m["data_fingerprint"], movierec_core::models::artifact::fingerprint(&s.fixture.data.ratings));
    let file = std::fs::read(s.fixture.path("serve.bin")).unwrap();
    let stored = u64::from_le_bytes(file[file.len() - 8..].try_into().unwrap());
    assert_eq!(m["model_checksum"], format!("{stored:016x}"));
    assert_eq!(m["params"]["n_factors"], 10);
    assert_eq!(m["metrics"]["test_score"]["rmse"], 12.5);
    assert!(m["metrics"].get("cv_results").is_none(), "tables stay out: {m}");
    assert!(m["age_seconds"].as_u64().unwrap() > 0);
    for route in ["/users", "/movies", "/metrics", "/openapi.json", "/refresh", "/gridsearch"] {
        assert!(v["links"].as_object().unwrap().values().any(|l| l == route), "{route}");
    }
    // What a grid search can search: every one of Surprise's algorithms.
    let algorithms: Vec<&str> = v["algorithms"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(algorithms, movierec_core::models::rating::Algorithm::NAMES);
}

/// A browser asking for `/` gets the web page and its two files; an API client, the JSON.
#[tokio::test]
async fn browsers_get_the_page_and_its_files() {
    let s = Service::new(Config::default());
    let html = Request::get("/").header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8");
    let (status, headers, body) = s.send(html.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("script-src 'self'"));
    assert_eq!(headers[header::VARY], "Accept");
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("<script src=\"/assets/app.js\" defer>"), "{page}");
    // Any other Accept (or none) keeps the JSON root.
    let (status, headers, body) =
        s.send(Request::get("/").header(header::ACCEPT, "*/*").body(Body::empty()).unwrap()).await;
    assert_eq!((status, &headers[header::CONTENT_TYPE]), (StatusCode::OK, &"application/json".parse().unwrap()));
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["service"], "movierec");
    for (path, kind) in
        [("/assets/app.js", "text/javascript; charset=utf-8"), ("/assets/app.css", "text/css; charset=utf-8")]
    {
        let (status, headers, body) = s.send(Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!((status, headers[header::CONTENT_TYPE].to_str().unwrap()), (StatusCode::OK, kind), "{path}");
        assert!(!body.is_empty());
        // Revalidation: the same file is not sent again.
        let etag = headers[header::ETAG].clone();
        let again = Request::get(path).header(header::IF_NONE_MATCH, etag).body(Body::empty()).unwrap();
        let (status, _, body) = s.send(again).await;
        assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0), "{path}");
    }
    error(&s.get("/assets/nothing.js").await, StatusCode::NOT_FOUND, "not_found");
}

/// `q` finds users by id or name and movies by id or title, ignoring case, with pagination.
#[tokio::test]
async fn users_and_movies_are_searched() {
    let s = Service::new(Config::default());
    let (_, all) = s.get("/users?limit=1000").await;
    let named = all["users"].as_array().unwrap().iter().find(|u| u["name"].is_string()).unwrap().clone();
    let name = named["name"].as_str().unwrap();
    let needle = name[..name.len().min(4)].to_uppercase();
    let (status, v) = s.get(&format!("/users?q={}&limit=1000", urlencode(&needle))).await;
    assert_eq!(status, StatusCode::OK);
    let found = v["users"].as_array().unwrap();
    assert!(found.iter().any(|u| u["id"] == named["id"]), "{needle}: {v}");
    let lower = needle.to_lowercase();
    assert!(found.iter().all(|u| {
        u["id"].as_str().unwrap().to_lowercase().contains(&lower)
            || u["name"].as_str().is_some_and(|n| n.to_lowercase().contains(&lower))
    }));
    assert_eq!(v["total"].as_u64().unwrap() as usize, found.len());
    let (_, v) = s.get(&format!("/users?q={}", urlencode(named["id"].as_str().unwrap()))).await;
    assert!(v["users"].as_array().unwrap().iter().any(|u| u["id"] == named["id"]));
    let (_, v) = s.get("/users?q=no-such-user-anywhere").await;
    assert_eq!((v["total"].as_u64(), v["users"].clone()), (Some(0), json!([])));

    let (_, movies) = s.get("/movies?limit=1000").await;
    let titled = movies["movies"].as_array().unwrap().iter().find(|m| m["title"].is_string()).unwrap().clone();
    let title = titled["title"].as_str().unwrap().to_lowercase();
    let (_, v) = s.get(&format!("/movies?q={}&limit=2", urlencode(&title))).await;
    assert!(
        v["movies"].as_array().unwrap().iter().any(|m| m["id"] == titled["id"]) || v["total"].as_u64().unwrap() > 2
    );
    assert!(v["movies"].as_array().unwrap().len() <= 2);
    let (_, v) = s.get("/movies?q=%20%20").await;
    assert_eq!(v["total"], movies["total"], "a blank search is no search");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `explain` gives each recommendation the movies the user liked (scored at or above their
/// own mean) most like it, as the model ranks their similarity, for a known user and a
/// folded-in one; a movie they scored lower is never a reason.
#[tokio::test]
async fn recommendations_say_why() {
    let s = Service::new(Config::default());
    let snapshot = s.state.snapshot().unwrap();
    let model = &snapshot.view.model;
    let items = model.rating.items();
    let mut a_disliked_movie_was_closest = false;
    for user in 0..10 {
        let u = s.user(user);
        let (status, v) = s.get(&format!("/users/{u}/recommendations?n=10&explain=3")).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let history = &snapshot.view.history[model.rating.users().get(&u).unwrap() as usize];
        let liked = history.iter().map(|r| r.1).sum::<f64>() / history.len() as f64;
        assert_eq!(v["liked_from"].as_f64(), Some(liked), "{v}");
        let score: HashMap<String, f64> = history.iter().map(|&(j, s)| (items.raw(j).to_owned(), s)).collect();
        for rec in v["recommendations"].as_array().unwrap() {
            let because = rec["because"].as_array().unwrap();
            assert!(because.len() <= 3, "{rec}");
            for b in because {
                let id = b["movie_id"].as_str().unwrap();
                assert_eq!(b["score"].as_f64(), score.get(id).copied(), "{rec}");
                assert!(b["score"].as_f64().unwrap() >= liked && b["similarity"].as_f64().unwrap() > 0.0, "{rec}");
            }
            assert!(because.windows(2).all(|w| w[0]["similarity"].as_f64() >= w[1]["similarity"].as_f64()), "{rec}");
            // The first is the liked movie the model finds most like the recommendation.
            let i = items.get(rec["movie_id"].as_str().unwrap()).unwrap() as usize;
            let alike = model.similar(i, items.len());
            let first_liked =
                alike.iter().find(|(j, sim)| *sim > 0.0 && score.get(items.raw(*j)).is_some_and(|&s| s >= liked));
            assert_eq!(because.first().map(|b| b["movie_id"].clone()), first_liked.map(|(j, _)| json!(items.raw(*j))));
            let closest_rated = alike.iter().find(|(j, _)| score.contains_key(items.raw(*j)));
            a_disliked_movie_was_closest |= closest_rated.is_some_and(|(j, _)| score[items.raw(*j)] < liked);
        }
    }
    assert!(
        a_disliked_movie_was_closest,
        "no recommendation's closest rated movie was disliked: the test shows nothing"
    );
    let u = s.user(0);
    let (_, v) = s.get(&format!("/users/{u}/recommendations?n=5")).await;
    assert!(v["recommendations"][0].get("because").is_none(), "no explain, no because: {v}");
    assert!(v.get("liked_from").is_none(), "no explain, no liked_from: {v}");
    let msg = error(
        &s.get(&format!("/users/{u}/recommendations?explain=11")).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert!(msg.contains("0 to 10"), "{msg}");

    // Folded in: 90 and 10 have the mean 50, so only the movie scored 90 is a reason.
    let body = json!({"ratings": [{"movie_id": s.movie(0), "score": 90}, {"movie_id": s.movie(1), "score": 10}], "n": 5, "explain": 2});
    let (status, v) = s.post("/recommendations", None, &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["liked_from"], 50.0);
    for rec in v["recommendations"].as_array().unwrap() {
        for b in rec["because"].as_array().unwrap() {
            assert_eq!((&b["movie_id"], &b["score"]), (&json!(s.movie(0)), &json!(90.0)), "{rec}");
        }
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let s = Service::new(Config::default());
    assert_eq!(s.get("/health").await, (StatusCode::OK, json!({"status": "ok"})));
    assert_eq!(s.get("/ready").await, (StatusCode::OK, json!({"status": "ready"})));

    // Started with no model: alive, not ready, data routes say how to get ready.
    let empty = AppState::new(s.fixture.paths(), Config::default(), None).unwrap();
    let e = Service { fixture: Fixture::new(), app: router(Arc::clone(&empty)), state: empty };
    assert_eq!(e.get("/health").await.0, StatusCode::OK);
    let msg = error(&e.get("/ready").await, StatusCode::SERVICE_UNAVAILABLE, "no_model");
    assert!(msg.contains("POST /refresh"), "{msg}");
    error(&e.get(&format!("/users/{}/recommendations", e.user(0))).await, StatusCode::SERVICE_UNAVAILABLE, "no_model");
    assert_eq!(e.get("/").await.1["model"], Value::Null);
}

#[tokio::test]
async fn users_are_paginated() {
    let s = Service::new(Config { max_page: 100, ..Config::default() });
    let n_users = s.fixture.data.ratings.users().len();
    let (status, v) = s.get("/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (v["total"].as_u64().unwrap() as usize, v["offset"].as_u64(), v["limit"].as_u64()),
        (n_users, Some(0), Some(50))
    );
    assert_eq!(v["users"].as_array().unwrap().len(), 50);
    let (_, v) = s.get("/users?offset=10&limit=3").await;
    let users = v["users"].as_array().unwrap();
    assert_eq!(users.len(), 3);
    assert_eq!(users[0]["id"], s.user(10));
    let counts = s.fixture.data.ratings.counts_per_user();
    assert_eq!(users[0]["n_ratings"], counts[10]);
    assert_eq!(users[0]["known_to_model"], true);
    assert!(users[0]["name"].is_string());
    let (_, v) = s.get(&format!("/users?offset={}", n_users - 2)).await;
    assert_eq!(v["users"].as_array().unwrap().len(), 2);
    let (_, v) = s.get("/users?offset=1000000").await;
    assert_eq!(v["users"], json!([]));

    let msg = error(&s.get("/users?limit=101").await, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(msg.contains("1 to 100"), "{msg}");
    error(&s.get("/users?limit=0").await, StatusCode::BAD_REQUEST, "invalid_request");
    error(&s.get("/users?limit=-1").await, StatusCode::BAD_REQUEST, "invalid_query");
    let msg = error(&s.get("/users?limt=5").await, StatusCode::BAD_REQUEST, "invalid_query");
    assert!(msg.contains("limt"), "{msg}");
}

#[tokio::test]
async fn a_user_with_their_ratings() {
    let s = Service::new(Config::default());
    let (status, v) = s.get(&format!("/users/{}?limit=2&offset=1", s.user(3))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["id"], s.user(3));
    let list = &s.fixture.data.ratings;
    let rows: Vec<usize> = (0..list.len()).filter(|&r| list.user()[r].0 == 3).collect();
    assert_eq!(v["ratings"]["total"], rows.len());
    let items = v["ratings"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["movie_id"], s.movie(list.movie()[rows[1]].0));
    assert_eq!(items[0]["score"], list.score()[rows[1]]);
    assert!(items[0]["title"].is_string());
    let msg = error(&s.get("/users/no-such-user").await, StatusCode::NOT_FOUND, "not_found");
    assert!(msg.contains("no-such-user"));
}

/// The lists agree with a brute-force ranking of every unseen movie.
#[tokio::test]
async fn recommendations_are_the_best_unseen_movies() {
    let s = Service::new(Config::default());
    let list = &s.fixture.data.ratings;
    let model = &s.fixture.model.rating;
    for u in [0u32, 7, 100] {
        let (status, v) = s.get(&format!("/users/{}/recommendations?n=5", s.user(u))).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let seen: HashSet<u32> =
            (0..list.len()).filter(|&r| list.user()[r].0 == u).map(|r| list.movie()[r].0).collect();
        let mu = model.users().get(&s.user(u)).unwrap() as usize;
        let mut all: Vec<(String, f64)> = (0..model.items().len())
            .filter(|&i| !seen.contains(&list.movies().get(model.items().raw(i as u32)).unwrap()))
            .map(|i| (model.items().raw(i as u32).to_owned(), model.estimate(Some(mu), Some(i)).est))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        let recs = v["recommendations"].as_array().unwrap();
        assert_eq!(recs.len(), 5);
        for (k, r) in recs.iter().enumerate() {
            assert_eq!(r["rank"], k + 1);
            assert_eq!(r["movie_id"], all[k].0);
            assert!((r["score"].as_f64().unwrap() - all[k].1).abs() < 1e-9);
            assert!((0.0..=100.0).contains(&r["score"].as_f64().unwrap()));
            for field in ["title", "directors", "actors", "imdb_rating"] {
                assert!(!r[field].is_null(), "{field}: {r}");
            }
        }
        assert_eq!(v["user_id"], s.user(u));
        assert!(v["user_name"].is_string());
    }
    let (_, v) = s.get(&format!("/users/{}/recommendations", s.user(0))).await;
    assert_eq!(v["recommendations"].as_array().unwrap().len(), 10);
    assert_eq!(v["n"], 10);
}

/// Every kind is served: a known user's list and a new visitor's are the kind's order with
/// SVD's predicted relevance, and similar movies come from what the kind learnt.
#[tokio::test]
async fn every_kind_is_served() {
    for kind in Kind::ALL {
        let fixture = Fixture::new();
        let model = common::write_model_of_kind(&fixture.data.ratings, &fixture.path("serve.bin"), kind);
        let s = serving(fixture);
        let ranking = s.get("/").await.1["model"]["ranking"].clone();
        assert_eq!(ranking["kind"], kind.name());
        // An ensemble names its members and weight; the other kinds have neither.
        let (members, weight) = match &model.ranking {
            Ranking::Ensemble(e) => (json!(e.params().members), json!(e.weight)),
            _ => (Value::Null, Value::Null),
        };
        assert_eq!((&ranking["members"], &ranking["weight"]), (&members, &weight), "{ranking}");
        served_as_in_core(&s, &model, kind.name()).await;
    }
}

/// Every rating algorithm of Surprise's is served: the root describes it, and the lists, the
/// fold-in and the similar movies are core's.
#[tokio::test]
async fn every_algorithm_is_served() {
    use movierec_core::models::rating::Algorithm;
    use movierec_core::models::rating::model::RatingModel;
    for spec in [
        json!({"algorithm": "knn_with_means", "sim_options": {"user_based": false}}),
        json!({"algorithm": "knn_baseline", "sim_options": {"name": "pearson_baseline"}}),
        json!({"algorithm": "svdpp", "n_factors": 4, "n_epochs": 3}),
        json!({"algorithm": "nmf", "n_factors": 4, "n_epochs": 5}),
        json!({"algorithm": "slope_one"}),
        json!({"algorithm": "co_clustering"}),
        json!({"algorithm": "baseline_only", "bsl_options": {"method": "sgd"}}),
    ] {
        let fixture = Fixture::new();
        let algorithm: Algorithm = serde_json::from_value(spec.clone()).unwrap();
        let rating = RatingModel::fit(&algorithm, &Trainset::new(&fixture.data.ratings), 1).unwrap();
        let model = Recommender { rating, ranking: Ranking::Relevance, reorder: Reorder::default() };
        common::write_recommender(&model, &fixture.data.ratings, &fixture.path("serve.bin"));
        let s = serving(fixture);
        let name = algorithm.name();
        let m = s.get("/").await.1["model"].clone();
        assert_eq!(m["algorithm"], name, "{m}");
        assert_eq!(m["params"], model.rating.params());
        assert_eq!(m["mode"].is_null(), name != "svdpp", "{m}");
        served_as_in_core(&s, &model, name).await;
        let similar = s.get(&format!("/movies/{}/similar?n=3", s.movie(2))).await.1;
        let learns_likeness = matches!(name, "knn_with_means" | "svdpp" | "nmf");
        assert_eq!(similar["similar"].as_array().unwrap().len(), if learns_likeness { 3 } else { 0 }, "{name}");
    }
}

fn serving(fixture: Fixture) -> Service {
    let state =
        AppState::new(fixture.paths(), Config::default(), Some(Snapshot::load(&fixture.paths()).unwrap())).unwrap();
    Service { app: router(Arc::clone(&state)), state, fixture }
}

/// A known user's list, a new visitor's and a movie's similar movies answer what core gives.
async fn served_as_in_core(s: &Service, model: &Recommender, label: &str) {
    let list = &s.fixture.data.ratings;
    let histories = recommender::histories(&model.rating, list);
    for u in [0u32, 3] {
        let (status, v) = s.get(&format!("/users/{}/recommendations?n=6", s.user(u))).await;
        assert_eq!(status, StatusCode::OK, "{label}: {v}");
        let mu = model.rating.users().get(&s.user(u)).unwrap() as usize;
        let h = &histories[mu];
        let expected = model.recommend(User { id: Some(mu), history: h }, &select::movies_of(h), 6);
        let got = v["recommendations"].as_array().unwrap();
        assert_eq!(got.len(), 6);
        for (r, e) in got.iter().zip(&expected) {
            assert_eq!(r["movie_id"], model.rating.items().raw(e.movie), "{label}");
            assert!((r["score"].as_f64().unwrap() - e.relevance).abs() < 1e-9);
            if label != "normal_predictor" {
                let est = model.rating.estimate(Some(mu), Some(e.movie as usize)).est;
                assert!((r["score"].as_f64().unwrap() - est).abs() < 1e-9, "{label}");
            }
        }
    }
    // A new visitor: folded in by every kind and algorithm.
    let (a, b, c) = (s.movie(0), s.movie(1), s.movie(2));
    let body = json!({"ratings": [{"movie_id": c, "score": 60}, {"movie_id": a, "score": 90}, {"movie_id": b, "score": 15}], "n": 5});
    let (status, v) = s.post("/recommendations", None, &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{label}: {v}");
    let mut pairs: Vec<(u32, f64)> =
        [(&a, 90.0), (&b, 15.0), (&c, 60.0)].iter().map(|(m, r)| (model.rating.items().get(m).unwrap(), *r)).collect();
    pairs.sort_by_key(|p| p.0);
    let expected = model.recommend(User { id: None, history: &pairs }, &select::movies_of(&pairs), 5);
    let got = v["recommendations"].as_array().unwrap();
    let ids: Vec<&str> = got.iter().map(|r| r["movie_id"].as_str().unwrap()).collect();
    let want: Vec<&str> = expected.iter().map(|e| model.rating.items().raw(e.movie)).collect();
    assert_eq!(ids, want, "{label}");
    for (r, e) in got.iter().zip(&expected) {
        assert!((r["score"].as_f64().unwrap() - e.relevance).abs() < 1e-9, "{label}");
    }
    assert_eq!(v["bias"].is_null(), model.profile(User { id: None, history: &pairs }).unwrap().bias.is_none());
    // Similar movies.
    let (status, v) = s.get(&format!("/movies/{}/similar?n=3", s.movie(2))).await;
    assert_eq!(status, StatusCode::OK, "{label}: {v}");
    let expected = model.similar(model.rating.items().get(&s.movie(2)).unwrap() as usize, 3);
    let got = v["similar"].as_array().unwrap();
    assert_eq!(got.len(), expected.len(), "{label}");
    for (x, (j, _)) in got.iter().zip(expected) {
        assert_eq!(x["movie_id"], model.rating.items().raw(j), "{label}");
    }
}

#[tokio::test]
async fn recommendation_errors() {
    let s = Service::new(Config::default());
    let u = s.user(0);
    let msg = error(&s.get("/users/nobody/recommendations").await, StatusCode::NOT_FOUND, "not_found");
    assert!(msg.contains("nobody"));
    for bad in ["0", "386", "100000000000000000000"] {
        let answer = s.get(&format!("/users/{u}/recommendations?n={bad}")).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "n={bad}: {}", answer.1);
    }
    let msg =
        error(&s.get(&format!("/users/{u}/recommendations?n=0")).await, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(msg.contains("1 to 385"), "{msg}");
    error(&s.get(&format!("/users/{u}/recommendations?n=ten")).await, StatusCode::BAD_REQUEST, "invalid_query");
    error(&s.get(&format!("/users/{u}/recommendations?k=3")).await, StatusCode::BAD_REQUEST, "invalid_query");
    // A percent-encoded id is decoded; an id with odd characters is just unknown.
    error(&s.get("/users/%E2%9C%93%20x/recommendations").await, StatusCode::NOT_FOUND, "not_found");
    // A 5,000-character id is quoted cut, in a short message.
    let long = "y".repeat(5_000);
    let msg = error(&s.get(&format!("/users/{long}/recommendations")).await, StatusCode::NOT_FOUND, "not_found");
    assert!(msg.len() < 400 && msg.ends_with("(cut: the first 200 of 5000 characters)"), "{msg}");
}

/// A user in the data whose ratings the model was not trained on: 404 that says so.
#[tokio::test]
async fn a_user_the_model_does_not_know() {
    let fixture = Fixture::new();
    let list = &fixture.data.ratings;
    let rows: Vec<u32> = (0..list.len() as u32).filter(|&r| list.user()[r as usize].0 != 5).collect();
    common::write_model(&list.select(&rows), &fixture.path("serve.bin"));
    let state =
        AppState::new(fixture.paths(), Config::default(), Some(Snapshot::load(&fixture.paths()).unwrap())).unwrap();
    let s = Service { app: router(Arc::clone(&state)), state, fixture };
    let msg = error(&s.get(&format!("/users/{}/recommendations", s.user(5))).await, StatusCode::NOT_FOUND, "not_found");
    assert!(msg.contains("not in the model") && msg.contains("/recommendations"), "{msg}");
    let (_, v) = s.get(&format!("/users/{}", s.user(5))).await;
    assert_eq!(v["known_to_model"], false);
    assert_eq!(s.get(&format!("/users/{}/recommendations", s.user(6))).await.0, StatusCode::OK);
}

#[tokio::test]
async fn fold_in_recommends_for_someone_new() {
    let s = Service::new(Config::default());
    let (a, b, c) = (s.movie(0), s.movie(1), s.movie(2));
    let body = json!({"ratings": [{"movie_id": a, "score": 90}, {"movie_id": b, "score": 15}, {"movie_id": c, "score": 60}], "n": 7});
    let (status, v) = s.post("/recommendations", None, &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["folded_in"], 3);
    let recs = v["recommendations"].as_array().unwrap();
    assert_eq!(recs.len(), 7);
    assert!(recs.iter().all(|r| r["movie_id"] != a && r["movie_id"] != b && r["movie_id"] != c));
    // The scores are those of the folded-in profile, best first.
    let model = &s.fixture.model.rating;
    let pairs: Vec<(u32, f64)> =
        [(&a, 90.0), (&b, 15.0), (&c, 60.0)].iter().map(|(m, r)| (model.items().get(m).unwrap(), *r)).collect();
    let svd = model.as_svd().unwrap();
    let profile = fold::fold_in(svd, &pairs);
    assert!((v["bias"].as_f64().unwrap() - profile.bias).abs() < 1e-12);
    for r in recs {
        let i = model.items().get(r["movie_id"].as_str().unwrap()).unwrap() as usize;
        assert!((r["score"].as_f64().unwrap() - profile.estimate(svd, i)).abs() < 1e-9);
    }
    assert!(recs.windows(2).all(|w| w[0]["score"].as_f64() >= w[1]["score"].as_f64()));
    // Different tastes, different lists.
    let other = json!({"ratings": [{"movie_id": a, "score": 5}, {"movie_id": b, "score": 99}], "n": 7});
    let (_, w) = s.post("/recommendations", None, &other.to_string()).await;
    assert_ne!(w["recommendations"], v["recommendations"]);
}

#[tokio::test]
async fn fold_in_errors() {
    let s = Service::new(Config { body_limit: 4096, ..Config::default() });
    let m = s.movie(0);
    let cases = [
        (json!({"ratings": []}), "expected 1 to"),
        (json!({"ratings": [{"movie_id": "nope", "score": 50}]}), "ratings[0]: no movie with id \"nope\""),
        (json!({"ratings": [{"movie_id": m, "score": 101}]}), "outside the rating scale 0 to 100"),
        (json!({"ratings": [{"movie_id": m, "score": 50}, {"movie_id": m, "score": 60}]}), "rated twice"),
        (json!({"ratings": [{"movie_id": m, "score": 50}], "n": 0}), "invalid n 0"),
    ];
    for (body, expected) in cases {
        let msg = error(
            &s.post("/recommendations", None, &body.to_string()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        );
        assert!(msg.contains(expected), "{body}: {msg}");
    }
    // Wrong types or unknown fields: 422 from the JSON reader, which names the field.
    let msg = error(
        &s.post("/recommendations", None, r#"{"ratings": [{"movie_id": 1, "score": 50}]}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert!(msg.contains("movie_id"), "{msg}");
    error(
        &s.post("/recommendations", None, r#"{"ratings": [], "user": 3}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    error(&s.post("/recommendations", None, r#"{"ratings": [{"#).await, StatusCode::BAD_REQUEST, "malformed_body");
    error(&s.post("/recommendations", None, "").await, StatusCode::BAD_REQUEST, "malformed_body");
    let big = json!({"ratings": (0..400).map(|_| json!({"movie_id": m, "score": 50})).collect::<Vec<_>>()});
    error(&s.post("/recommendations", None, &big.to_string()).await, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    let (status, _, body) =
        s.send(Request::post("/recommendations").body(Body::from(r#"{"ratings": []}"#)).unwrap()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"], "unsupported_media_type");
}

#[tokio::test]
async fn movies_and_similar_movies() {
    let s = Service::new(Config::default());
    let (status, v) = s.get("/movies?limit=5&offset=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["total"], 385);
    let movies = v["movies"].as_array().unwrap();
    assert_eq!(movies[0]["id"], s.movie(2));
    let counts = s.fixture.data.ratings.counts_per_movie();
    assert_eq!(movies[0]["n_ratings"], counts[2]);
    for field in ["title", "directors", "actors", "imdb_rating", "imdb_votes", "mean_score"] {
        assert!(!movies[0][field].is_null(), "{field}");
    }
    let (status, v) = s.get(&format!("/movies/{}", s.movie(2))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(v["description"].is_string());
    assert_eq!(v["id"], s.movie(2));
    error(&s.get("/movies/none").await, StatusCode::NOT_FOUND, "not_found");

    let (status, v) = s.get(&format!("/movies/{}/similar?n=4", s.movie(2))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let sim = v["similar"].as_array().unwrap();
    assert_eq!(sim.len(), 4);
    assert!(sim.iter().all(|x| x["movie_id"] != s.movie(2)));
    let model = &s.fixture.model.rating;
    let expected = fold::similar(model.as_svd().unwrap(), model.items().get(&s.movie(2)).unwrap() as usize, 4);
    for (x, (j, c)) in sim.iter().zip(expected) {
        assert_eq!(x["movie_id"], model.items().raw(j));
        assert!((x["similarity"].as_f64().unwrap() - c).abs() < 1e-12);
    }
    error(&s.get("/movies/none/similar").await, StatusCode::NOT_FOUND, "not_found");
    error(&s.get(&format!("/movies/{}/similar?n=385", s.movie(2))).await, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn state_changing_routes_need_the_token() {
    let disabled = Service::new(Config::default());
    let msg = error(&disabled.post("/refresh", Some(TOKEN), "").await, StatusCode::FORBIDDEN, "disabled");
    assert!(msg.contains("MOVIEREC_API_TOKEN"), "{msg}");
    error(&disabled.post("/gridsearch", Some(TOKEN), "{}").await, StatusCode::FORBIDDEN, "disabled");

    let s = Service::with_token();
    error(&s.post("/refresh", None, "").await, StatusCode::UNAUTHORIZED, "unauthorized");
    error(&s.post("/refresh", Some("test-token-0123456788"), "").await, StatusCode::UNAUTHORIZED, "unauthorized");
    error(&s.post("/gridsearch", Some("wrong"), "{}").await, StatusCode::UNAUTHORIZED, "unauthorized");
    let (_, headers, _) = s.send(Request::post("/refresh").body(Body::empty()).unwrap()).await;
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    // Not "Bearer": unauthorized too.
    let (status, _, _) = s
        .send(
            Request::post("/refresh")
                .header(header::AUTHORIZATION, format!("Basic {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.post("/refresh", Some(TOKEN), "").await.0, StatusCode::OK);
}

async fn wait_for_job(s: &Service, id: &str) -> Value {
    for _ in 0..600 {
        let (status, v) = s.get(&format!("/gridsearch/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        if v["state"] != "running" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_search_runs_in_the_background() {
    let s = Service::with_token();
    let body = json!({"space": {"n_factors": [4, 8], "n_epochs": [3], "lr_all": [0.003, 0.005]}, "cv": 2});
    let (status, v) = s.post("/gridsearch", Some(TOKEN), &body.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["progress"]["total"], 8);
    assert_eq!(v["settings"]["candidates"], 4);
    assert_eq!(v["settings"]["measure"], "rmse", "defaults filled in");
    assert_eq!((&v["settings"]["algorithm"], &v["settings"]["mode"]), (&json!("svd"), &json!("fast")));
    let id = v["id"].as_str().unwrap().to_owned();
    let done = wait_for_job(&s, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["progress"]["done"], 8);
    assert_eq!(done["promoted"], false);
    let results = done["result"]["cv_results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let best = done["result"]["best_index"].as_u64().unwrap() as usize;
    assert_eq!(results[best]["rank"], 1);
    let best_rmse = results[best]["mean_test_rmse"].as_f64().unwrap();
    assert!(results.iter().all(|r| r["mean_test_rmse"].as_f64().unwrap() >= best_rmse));
    assert_eq!(done["result"]["best_rmse"], best_rmse);
    // The served model did not change.
    assert_eq!(s.get("/").await.1["model"]["params"]["n_factors"], 10);
    let (_, list) = s.get("/gridsearch").await;
    assert_eq!(list[0]["id"], id.as_str());
    error(&s.get("/gridsearch/999").await, StatusCode::NOT_FOUND, "not_found");
    error(&s.get("/gridsearch/abc").await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_grid_search_at_a_time_and_promotion_on_request() {
    let s = Service::with_token();
    // Long enough to still run when the second request comes.
    let slow = json!({"space": {"n_factors": [30], "n_epochs": [400]}, "cv": 2, "promote": true});
    let (status, v) = s.post("/gridsearch", Some(TOKEN), &slow.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let msg = error(&s.post("/gridsearch", Some(TOKEN), "{}").await, StatusCode::CONFLICT, "job_running");
    assert!(msg.contains(&id), "{msg}");
    // Recommendations are answered while it runs.
    let (status, _) = s.get(&format!("/users/{}/recommendations", s.user(1))).await;
    assert_eq!(status, StatusCode::OK);
    let done = wait_for_job(&s, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["promoted"], true);
    let (_, root) = s.get("/").await;
    assert_eq!(root["model"]["source"], format!("grid search job {id}"));
    assert_eq!(root["model"]["params"]["n_factors"], 30);
    assert_eq!(root["model"]["params"]["n_epochs"], 400);
    let (status, v) = s.get(&format!("/users/{}/recommendations?n=3", s.user(1))).await;
    assert_eq!((status, v["recommendations"].as_array().unwrap().len()), (StatusCode::OK, 3));
    // A refresh goes back to the files.
    assert_eq!(s.post("/refresh", Some(TOKEN), "").await.0, StatusCode::OK);
    assert_eq!(s.get("/").await.1["model"]["params"]["n_factors"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_search_of_another_algorithm_follows_its_param_grid() {
    let s = Service::with_token();
    let grid = json!({"k": [3, 30], "sim_options": {"name": ["msd", "pearson_baseline"], "user_based": [false]}});
    let body = json!({"algorithm": "knn_baseline", "param_grid": grid, "cv": 2, "promote": true});
    let (status, v) = s.post("/gridsearch", Some(TOKEN), &body.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["settings"]["algorithm"], "knn_baseline");
    assert_eq!(v["settings"]["mode"], Value::Null, "SVD's training mode is not this job's");
    assert_eq!(v["settings"]["param_grid"], grid);
    assert_eq!((v["settings"]["candidates"].as_u64(), v["progress"]["total"].as_u64()), (Some(4), Some(8)));
    let id = v["id"].as_str().unwrap().to_owned();
    let done = wait_for_job(&s, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    // GridSearchCV's order: parameters by name, the last varying fastest.
    let results = done["result"]["cv_results"].as_array().unwrap();
    let searched: Vec<(u64, &str)> = results
        .iter()
        .map(|r| {
            assert_eq!(r["algorithm"], "knn_baseline");
            assert_eq!(r["params"]["sim_options.user_based"], false);
            (r["params"]["k"].as_u64().unwrap(), r["params"]["sim_options.name"].as_str().unwrap())
        })
        .collect();
    assert_eq!(searched, [(3, "msd"), (3, "pearson_baseline"), (30, "msd"), (30, "pearson_baseline")]);
    // Every candidate fitted as asked: four different models, four different scores.
    let rmse: Vec<f64> = results.iter().map(|r| r["mean_test_rmse"].as_f64().unwrap()).collect();
    for (i, a) in rmse.iter().enumerate() {
        assert!(rmse[i + 1..].iter().all(|b| b != a), "{rmse:?}");
    }
    let best = done["result"]["best_index"].as_u64().unwrap() as usize;
    assert_eq!(results[best]["rank"], 1);
    assert!(rmse.iter().all(|&r| r >= rmse[best]), "{rmse:?}");
    let params = &done["result"]["best_params"];
    assert_eq!(params["algorithm"], "knn_baseline");
    assert_eq!(params["k"].as_u64(), Some(searched[best].0));
    assert_eq!(params["sim_options"]["name"], searched[best].1);
    // Promoted: the service now serves that model.
    assert_eq!(done["promoted"], true);
    let (_, root) = s.get("/").await;
    assert_eq!(root["model"]["algorithm"], "knn_baseline");
    assert_eq!(root["model"]["source"], format!("grid search job {id}"));
    assert_eq!(root["model"]["params"]["k"].as_u64(), Some(searched[best].0));
    let (status, v) = s.get(&format!("/users/{}/recommendations?n=3", s.user(1))).await;
    assert_eq!((status, v["recommendations"].as_array().unwrap().len()), (StatusCode::OK, 3));

    // Without a param_grid: the algorithm's in optimize.algorithms, here none: its defaults.
    let (status, v) = s.post("/gridsearch", Some(TOKEN), &json!({"algorithm": "slope_one", "cv": 2}).to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["settings"]["candidates"], 1);
    let done = wait_for_job(&s, v["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"]["best_params"]["algorithm"], "slope_one");
    assert_eq!(done["promoted"], false);
}

#[tokio::test]
async fn grid_search_errors() {
    let s = Service::new(Config { token: Some(TOKEN.to_owned()), gridsearch_max_fits: 10, ..Config::default() });
    let cases = [
        (json!({"space": {"n_factor": [10]}}), "cannot search \"n_factor\""),
        (json!({"space": {"lr_all": {"min": 0.001, "max": 0.01}}}), "needs a list"),
        (json!({"space": {"n_factors": []}}), "no value to search"),
        (json!({"space": {"n_factors": [2.5]}}), "invalid value 2.5"),
        (json!({"space": {"lr_all": [-1]}}), "lr"),
        (json!({"space": {"adagrad": [1]}, "mode": "surprise"}), "adagrad is an option of the fast training mode"),
        (json!({"space": {"n_factors": [4]}, "cv": 1}), "invalid cv 1"),
        (json!({"space": {"n_factors": [4, 5, 6, 7]}, "cv": 3}), "12 fits"),
        (json!({"algorithm": "knn_basic", "param_grid": {"k": [1, 2, 3, 4]}, "cv": 3}), "12 fits"),
        (json!({"algorithm": "knn_basic", "space": {"k": [10]}}), "param_grid"),
        (json!({"param_grid": {"k": [10]}}), "SVD's parameters are in space"),
        (json!({"algorithm": "knn_basic", "method": "random"}), "method grid only"),
        (json!({"algorithm": "knn_basics"}), "expected one of"),
        (json!({"algorithm": "knn_basic", "param_grid": {"kk": [10]}}), "kk"),
        (json!({"algorithm": "knn_basic", "param_grid": {"k": []}}), "no value to search"),
    ];
    for (body, expected) in cases {
        let msg = error(
            &s.post("/gridsearch", Some(TOKEN), &body.to_string()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        );
        assert!(msg.contains(expected), "{body}: {msg}");
    }
    error(
        &s.post("/gridsearch", Some(TOKEN), r#"{"method": "bayes"}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    error(
        &s.post("/gridsearch", Some(TOKEN), r#"{"grid": {}}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    error(&s.post("/gridsearch", Some(TOKEN), "{").await, StatusCode::BAD_REQUEST, "malformed_body");
    assert!(!s.state.jobs.running());
}

#[tokio::test]
async fn a_refresh_swaps_in_new_artifacts_or_keeps_the_old() {
    let s = Service::with_token();
    let u = s.user(0);
    let before = s.get(&format!("/users/{u}/recommendations")).await.1;

    // A corrupt model file: 500 that names it; the old model still serves.
    let good = std::fs::read(s.fixture.path("serve.bin")).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    std::fs::write(s.fixture.path("serve.bin"), &bad).unwrap();
    let msg = error(&s.post("/refresh", Some(TOKEN), "").await, StatusCode::INTERNAL_SERVER_ERROR, "refresh_failed");
    assert!(msg.contains("serve.bin") && msg.contains("previous model still serves"), "{msg}");
    assert_eq!(s.get(&format!("/users/{u}/recommendations")).await.1, before);

    // A truncated model file, and another project's file in its place (a Parquet table, and
    // a file of another program): refused, naming what is wrong; the old model still serves.
    for (bytes, says) in [
        (good[..good.len() / 2].to_vec(), "truncated"),
        (std::fs::read(s.fixture.path("data/movies.parquet")).unwrap(), "not a movierec model file"),
        (b"PK\x03\x04 another program's archive".to_vec(), "not a movierec model file"),
    ] {
        std::fs::write(s.fixture.path("serve.bin"), &bytes).unwrap();
        let msg =
            error(&s.post("/refresh", Some(TOKEN), "").await, StatusCode::INTERNAL_SERVER_ERROR, "refresh_failed");
        assert!(msg.contains("serve.bin") && msg.contains(says), "{msg}");
        assert_eq!(s.get(&format!("/users/{u}/recommendations")).await.1, before);
    }

    // A missing table.
    std::fs::write(s.fixture.path("serve.bin"), &good).unwrap();
    std::fs::rename(s.fixture.path("data/movies.parquet"), s.fixture.path("movies.bak")).unwrap();
    let msg = error(&s.post("/refresh", Some(TOKEN), "").await, StatusCode::INTERNAL_SERVER_ERROR, "refresh_failed");
    assert!(msg.contains("movies.parquet"), "{msg}");
    std::fs::rename(s.fixture.path("movies.bak"), s.fixture.path("data/movies.parquet")).unwrap();

    // A model of other data: refused.
    let other = movierec_core::data::synthetic::generate(
        &movierec_core::data::synthetic::SyntheticConfig { seed: 77, scale: 0.03, ..Default::default() },
        movierec_core::RatingScale::SEED,
    )
    .unwrap();
    common::write_model(&other.ratings, &s.fixture.path("serve.bin"));
    let msg = error(&s.post("/refresh", Some(TOKEN), "").await, StatusCode::INTERNAL_SERVER_ERROR, "refresh_failed");
    assert!(msg.contains("do not match"), "{msg}");
    assert_eq!(s.get(&format!("/users/{u}/recommendations")).await.1, before);

    // A new, valid model: swapped in.
    let list = &s.fixture.data.ratings;
    let rows: Vec<u32> = (0..list.len() as u32).filter(|r| r % 7 != 0).collect();
    common::write_model(&list.select(&rows), &s.fixture.path("serve.bin"));
    let (status, v) = s.post("/refresh", Some(TOKEN), "").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["model"]["n_ratings"], rows.len());
    assert_ne!(s.get(&format!("/users/{u}/recommendations")).await.1, before);

    // Unchanged tables are kept, not read again; a changed table is read.
    let data_before = Arc::clone(&s.state.snapshot().unwrap().data);
    assert_eq!(s.post("/refresh", Some(TOKEN), "").await.0, StatusCode::OK);
    assert!(Arc::ptr_eq(&data_before, &s.state.snapshot().unwrap().data));
    let mut data = s.fixture.data.clone();
    for (role, values) in data.movie_attrs.columns_mut() {
        if let (movierec_core::Role::Title, movierec_core::data::dataset::Values::Text(v)) = (role, values) {
            v[0] = Some("A New Title (2026)".to_owned());
        }
    }
    movierec_tables::write_movies(&data, std::fs::File::create(s.fixture.path("data/movies.parquet")).unwrap())
        .unwrap();
    assert_eq!(s.post("/refresh", Some(TOKEN), "").await.0, StatusCode::OK);
    assert!(!Arc::ptr_eq(&data_before, &s.state.snapshot().unwrap().data));
    assert_eq!(s.get(&format!("/movies/{}", s.movie(0))).await.1["title"], "A New Title (2026)");

    let metrics = s.send(Request::get("/metrics").body(Body::empty()).unwrap()).await.2;
    let text = String::from_utf8(metrics).unwrap();
    assert!(text.contains("movierec_refresh_total{result=\"success\"} 3\n"), "{text}");
    assert!(text.contains("movierec_refresh_total{result=\"failure\"} 6\n"), "{text}");
}

/// Requests running while the model is swapped again and again all succeed: every client
/// answered before the first swap and again after each one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshing_under_load_fails_no_request() {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    const CLIENTS: usize = 4;
    let s = Arc::new(Service::with_token());
    let stop = Arc::new(AtomicBool::new(false));
    let answered: Arc<Vec<AtomicU32>> = Arc::new((0..CLIENTS).map(|_| AtomicU32::new(0)).collect());
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (s, stop, answered) = (Arc::clone(&s), Arc::clone(&stop), Arc::clone(&answered));
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let k = answered[c].load(Ordering::Relaxed);
                let uri = format!("/users/{}/recommendations?n=5", s.user((c as u32 * 37 + k) % 200));
                let (status, v) = s.get(&uri).await;
                assert_eq!(status, StatusCode::OK, "{v}");
                assert_eq!(v["recommendations"].as_array().unwrap().len(), 5);
                answered[c].fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }));
    }
    // Until every client has answered once more than `before`, or one of them has stopped
    // (its failed assertion is then reported when it is joined).
    let each_answers_again = |clients: &[tokio::task::JoinHandle<()>], before: Vec<u32>| {
        let answered = Arc::clone(&answered);
        let stopped = clients.iter().map(|c| c.abort_handle()).collect::<Vec<_>>();
        async move {
            while answered.iter().zip(&before).any(|(a, &b)| a.load(Ordering::Relaxed) <= b)
                && !stopped.iter().any(|c| c.is_finished())
            {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
    };
    let counts = || answered.iter().map(|a| a.load(Ordering::Relaxed)).collect::<Vec<_>>();
    each_answers_again(&clients, vec![0; CLIENTS]).await;
    for _ in 0..5 {
        let before = counts();
        assert_eq!(s.post("/refresh", Some(TOKEN), "").await.0, StatusCode::OK);
        each_answers_again(&clients, before).await;
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    assert!(counts().iter().all(|&n| n > 5), "every client answered after each refresh");
    let text = String::from_utf8(s.send(Request::get("/metrics").body(Body::empty()).unwrap()).await.2).unwrap();
    assert!(text.contains("movierec_refresh_total{result=\"success\"} 5\n"));
    assert!(!text.contains("status=\"5"), "no 5xx answer: {text}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let s = Service::new(Config::default());
    for _ in 0..3 {
        s.get(&format!("/users/{}/recommendations", s.user(0))).await;
    }
    s.get("/users/nobody/recommendations").await;
    s.get("/no/such/route").await;
    let (status, headers, body) = s.send(Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(body).unwrap();
    let ok = r#"route="/users/{id}/recommendations",method="GET",status="200""#;
    assert!(text.contains(&format!("movierec_http_requests_total{{{ok}}} 3\n")), "{text}");
    assert!(text.contains(&format!("movierec_http_request_duration_seconds_count{{{ok}}} 3\n")));
    assert!(text.contains(&format!("movierec_http_request_duration_seconds_bucket{{{ok},le=\"+Inf\"}} 3\n")));
    assert!(
        text.contains(
            r#"movierec_http_requests_total{route="/users/{id}/recommendations",method="GET",status="404"} 1"#
        )
    );
    assert!(text.contains(r#"movierec_http_requests_total{route="unmatched",method="GET",status="404"} 1"#));
    assert!(text.contains("movierec_recommendations_total 3\n"));
    assert!(text.contains("movierec_recommended_movies_total 30\n"));
    assert!(text.contains("movierec_model_loaded 1\n"));
    assert!(text.contains("movierec_model_created_timestamp_seconds 1764115200\n"));
    assert!(text.contains("movierec_model_age_seconds "));
    assert!(text.contains("movierec_model_max_age_seconds 604800\n"), "a week by default");
    assert!(text.contains("movierec_gridsearch_running 0\n"));
    // Every sample line is `name{labels} value` with a numeric value.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

#[tokio::test]
async fn openapi_and_offline_docs() {
    let s = Service::new(Config::default());
    let (status, v) = s.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = v["paths"].as_object().unwrap();
    for p in [
        "/",
        "/health",
        "/ready",
        "/users",
        "/users/{id}",
        "/users/{id}/recommendations",
        "/recommendations",
        "/movies",
        "/movies/{id}",
        "/movies/{id}/similar",
        "/gridsearch",
        "/gridsearch/{job_id}",
        "/refresh",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI description");
    }
    assert!(v["components"]["securitySchemes"]["bearer"].is_object());
    let (status, _, page) = s.send(Request::get("/docs/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("swagger-ui-bundle.js") && !page.contains("https://"), "assets are local");
    let (status, _, js) = s.send(Request::get("/docs/swagger-ui-bundle.js").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(js.len() > 100_000);
    let (_, _, init) = s.send(Request::get("/docs/swagger-initializer.js").body(Body::empty()).unwrap()).await;
    assert!(String::from_utf8(init).unwrap().contains("/openapi.json"));
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let s = Service::new(Config::default());
    error(&s.get("/nope").await, StatusCode::NOT_FOUND, "not_found");
    let (status, headers, body) = s.send(Request::delete("/users").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"], "method_not_allowed");
}

/// Past its places to work and to wait, the service refuses a request at once with 503,
/// `Retry-After` and a JSON error, keeps answering its probes and metrics, and takes requests
/// again as soon as places free up.
#[tokio::test]
async fn a_full_service_refuses_at_once_and_recovers() {
    let s = Service::new(Config { max_in_flight: 1, max_queue: 1, ..Config::default() });
    let path = format!("/users/{}/recommendations?n=3", s.user(0));
    assert_eq!(s.get(&path).await.0, StatusCode::OK);
    // Two requests' places taken: one working, one waiting.
    let held: Vec<_> = (0..2).map(|_| s.state.admission.try_admit().expect("a place")).collect();
    let (status, headers, body) = s.send(Request::get(&path).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "1");
    let v: Value = serde_json::from_slice(&body).unwrap();
    let message = error(&(status, v), StatusCode::SERVICE_UNAVAILABLE, "overloaded");
    assert!(message.contains("1 at once, 1 waiting") && message.contains("retry after 1 s"), "{message}");
    let (status, _) = s
        .post("/recommendations", None, &format!(r#"{{"ratings": [{{"movie_id": "{}", "score": 80}}]}}"#, s.movie(0)))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "every route but the probes and metrics waits its turn");
    for probe in ["/health", "/ready"] {
        assert_eq!(s.get(probe).await.0, StatusCode::OK, "{probe}");
    }
    let (status, _, body) = s.send(Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::OK);
    for line in [
        "movierec_http_requests_refused_total 2\n",
        "movierec_http_requests_queued 2\n",
        "movierec_http_max_in_flight 1\n",
        "movierec_http_max_queue 1\n",
        "movierec_http_requests_total{route=\"/users/{id}/recommendations\",method=\"GET\",status=\"503\"} 1\n",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
    drop(held);
    assert_eq!(s.get(&path).await.0, StatusCode::OK);
    let (_, _, body) = s.send(Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("movierec_http_requests_queued 0\n") && text.contains("movierec_http_requests_in_flight 0\n")
    );
}

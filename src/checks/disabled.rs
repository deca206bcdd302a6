//! `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`: names that disable nothing.
//!
//! The SDK splits the value on `,`, trims each name and skips the instrumentations whose entry
//! point name is listed (`*` skips all). A name that is no entry point of the image disables
//! nothing, silently: often a package name (`kafka-python` for `kafka`) or a typo. The known
//! names are [`NAMES`], generated from the image's packages; for each unknown one the closest
//! known names are suggested: the same name once `opentelemetry-instrumentation-` and the
//! `-`/`_` difference are put aside, a name it extends or that extends it (`grpc` →
//! `grpc_client`), else one at most two edits away.

use super::env::Env;
use super::instrumentation_names::NAMES;
use crate::refusal::FindingKind;

const VAR: &str = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS";

/// The finding of a container's environment, if some names are unknown.
pub fn findings(env: &Env<'_>, out: &mut Vec<FindingKind>) {
    let Some(set) = env.get(VAR) else { return };
    let unknown: Vec<(String, Vec<&'static str>)> = set
        .value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty() && *n != "*" && NAMES.binary_search(n).is_err())
        .map(|n| (n.to_string(), closest(n)))
        .collect();
    if !unknown.is_empty() {
        out.push(FindingKind::UnknownDisabled {
            from: set.from,
            unknown,
        });
    }
}

/// Up to three known names close to `name`, closest first.
pub fn closest(name: &str) -> Vec<&'static str> {
    let lower = name.to_ascii_lowercase().replace('_', "-");
    let n = ["opentelemetry-instrumentation-"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))
        .unwrap_or(&lower);
    let mut scored: Vec<(usize, &'static str)> = NAMES
        .iter()
        .filter_map(|&known| {
            let k = known.replace('_', "-");
            let score = if n == k {
                0
            } else if k.starts_with(&format!("{n}-"))
                || n.starts_with(&format!("{k}-"))
                || n.ends_with(&format!("-{k}"))
            {
                1
            } else {
                let d = distance(n, &k);
                if d > 2 || 2 * d >= k.len() {
                    return None;
                }
                1 + d
            };
            Some((score, known))
        })
        .collect();
    scored.sort();
    // The same name written differently says it all.
    let best = scored.first().map_or(0, |(score, _)| *score);
    scored
        .into_iter()
        .take_while(|(score, _)| best > 0 || *score == 0)
        .take(3)
        .map(|(_, k)| k)
        .collect()
}

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_names_are_sorted_for_the_search() {
        assert!(NAMES.windows(2).all(|w| w[0] < w[1]));
        assert!(NAMES.binary_search(&"flask").is_ok());
    }

    #[test]
    fn close_names_are_suggested() {
        assert_eq!(closest("requestz"), ["requests"]);
        assert_eq!(closest("kafka-python"), ["kafka"]);
        assert_eq!(closest("opentelemetry-instrumentation-flask"), ["flask"]);
        assert_eq!(closest("confluent-kafka"), ["confluent_kafka"]);
        assert_eq!(
            closest("grpc"),
            ["grpc_aio_client", "grpc_aio_server", "grpc_client"]
        );
        assert_eq!(closest("psycopg2-binary"), ["psycopg2"]);
        assert!(closest("wsgi").is_empty());
        assert_eq!(distance("flsk", "flask"), 1);
    }
}

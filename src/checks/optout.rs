//! The per-pod opt-out: annotation `otel-python.kubewarden.io/skip-checks`, check names separated
//! by commas.
//!
//! It turns off the named checks for the pod (or a workload's pods) it is on, for a finding its
//! author has accepted (a gunicorn whose workers start the SDK themselves, a collector that serves
//! OTLP/HTTP on 4317). A name that is not a check is refused with the names that exist, so that a
//! typo does not leave the check on unnoticed.

use crate::keys::SKIP_CHECKS;
use crate::pod::PodView;
use crate::refusal::{Check, CheckProblem};

/// The checks the pod turns off.
#[derive(Default, Clone, Copy)]
pub struct Skipped(u8);

impl Skipped {
    /// The checks `pod`'s annotation turns off, or the first name that is no check.
    pub fn read(pod: &PodView) -> Result<Skipped, CheckProblem> {
        let value = pod.annotation(SKIP_CHECKS);
        let mut skipped = Skipped::default();
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match Check::named(name) {
                Some(check) => skipped.0 |= bit(check),
                None => {
                    return Err(CheckProblem::UnknownCheck {
                        value: value.to_string(),
                        name: name.to_string(),
                    });
                }
            }
        }
        Ok(skipped)
    }

    /// Whether `check` runs.
    pub fn runs(self, check: Check) -> bool {
        self.0 & bit(check) == 0
    }
}

fn bit(check: Check) -> u8 {
    1 << Check::ALL.iter().position(|c| *c == check).unwrap_or(0)
}

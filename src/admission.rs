//! Placeholder core (accepts everything); replaced by the real pipeline.
use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;

pub fn validate(_payload: &[u8]) -> ValidationResponse {
    ValidationResponse { accepted: true, message: None, code: None, mutated_object: None, audit_annotations: None, warnings: None }
}

pub fn validate_settings(_payload: &[u8]) -> SettingsValidationResponse {
    SettingsValidationResponse { valid: true, message: None }
}

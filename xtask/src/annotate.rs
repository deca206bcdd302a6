//! `kwctl annotate` without kwctl: embed `policy.yaml` (+ README as usage) into the module.

use anyhow::{Context, Result, bail};

use crate::metadata::{
    ANNOTATION_KWCTL, ANNOTATION_USAGE, ExecutionMode, METADATA_SECTION, Metadata, ProtocolVersion,
};
use crate::wasm;

/// What we write as `io.kubewarden.kwctl`, where kwctl writes its own version (e.g.
/// `1.36.0-beta.1`). A semver with build metadata naming this tool: anything that parses the
/// value as a version still can, and a reader sees the module was not annotated by kwctl.
pub const TOOL_ID: &str = concat!(env!("CARGO_PKG_VERSION"), "+otel-python-policy-xtask");

/// How kwctl tells a Rego module apart: it exports OPA's ABI (`opa_eval`, `opa_malloc`, ...).
fn is_rego(module: &[u8]) -> Result<bool> {
    Ok(wasm::exported_names(module)?
        .iter()
        .any(|n| n.starts_with("opa_")))
}

/// Ask the module itself, as kwctl does: instantiate it and call `protocol_version`.
pub fn detect_protocol_version(module: &[u8]) -> Result<ProtocolVersion> {
    let host = e2e_tests::host::PolicyHost::new(module)
        .context("cannot instantiate the module to ask its protocol version")?;
    let answer = host
        .protocol_version()
        .context("Cannot compute ProtocolVersion used by the policy")?;
    match answer.as_str() {
        "v1" => Ok(ProtocolVersion::V1),
        other => bail!("the module answers protocol version {other:?}; only \"v1\" is known"),
    }
}

/// The metadata kwctl would embed: `policy.yaml` + protocolVersion + `io.kubewarden.kwctl` +
/// `io.kubewarden.policy.usage` (the README, unchanged), validated.
pub fn prepare_metadata(
    module: &[u8],
    metadata_yaml: &str,
    usage: Option<&str>,
) -> Result<Metadata> {
    let mut metadata = Metadata::from_yaml(metadata_yaml)?;
    let rego = is_rego(module)?;
    metadata.protocol_version = Some(match metadata.execution_mode {
        ExecutionMode::Opa | ExecutionMode::Gatekeeper => {
            if !rego {
                bail!(
                    "Wrong value inside of policy's metadata for 'executionMode'. The policy has not been created using Rego"
                );
            }
            ProtocolVersion::Unknown
        }
        ExecutionMode::Wasi => ProtocolVersion::Unknown,
        ExecutionMode::KubewardenWapc => {
            if rego {
                bail!(
                    "Wrong value inside of policy's metadata for 'executionMode'. This policy has been created using Rego"
                );
            }
            detect_protocol_version(module)?
        }
    });
    let annotations = metadata.annotations.get_or_insert_with(Default::default);
    if let Some(usage) = usage {
        annotations.insert(ANNOTATION_USAGE.to_owned(), usage.to_owned());
    }
    annotations.insert(ANNOTATION_KWCTL.to_owned(), TOOL_ID.to_owned());
    metadata.validate()?;
    Ok(metadata)
}

/// Annotate `module`. A module that already carries metadata is refused unless `force`, as
/// kwctl does; with `force` every existing metadata section is dropped and exactly one new one
/// is appended, so annotating an annotated module gives the same bytes as annotating the
/// original. All other sections are copied unchanged.
pub fn annotate(
    module: &[u8],
    metadata_yaml: &str,
    usage: Option<&str>,
    force: bool,
) -> Result<(Vec<u8>, Metadata)> {
    let existing = wasm::custom_sections(module, METADATA_SECTION)?;
    if !existing.is_empty() && !force {
        bail!(
            "The policy is already annotated. Use `annotate --force` to overwrite the existing metadata"
        );
    }
    let metadata = prepare_metadata(module, metadata_yaml, usage)?;
    let out = wasm::replace_custom_section(module, METADATA_SECTION, &metadata.to_section_json()?)?;
    Ok((out, metadata))
}

//! `kwctl scaffold artifacthub` without kwctl: `artifacthub-pkg.yml` from `policy.yaml` and
//! `questions-ui.yml`, same keys, order, values and YAML emitter (serde_yaml 0.9) as kwctl.
//!
//! The only input that is not in the repository is `createdAt`; kwctl writes "now". To keep the
//! committed file reproducible the caller passes it (see `xtask artifacthub --created-at`, which
//! by default keeps the value of the existing file).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use url::Url;

use crate::metadata::{ANNOTATION_VERSION, Metadata};

pub const COMMENT_HEADER: &str = "# Kubewarden Artifacthub Package config
#
# Use this config to submit the policy to https://artifacthub.io.
#
# This config can be saved to its default location with:
#   kwctl scaffold artifacthub > artifacthub-pkg.yml ";

const TITLE: &str = "io.kubewarden.policy.title";
const DISPLAY_NAME: &str = "io.artifacthub.displayName";
const DESCRIPTION: &str = "io.kubewarden.policy.description";
const LICENSE: &str = "io.kubewarden.policy.license";
const URL: &str = "io.kubewarden.policy.url";
const SOURCE: &str = "io.kubewarden.policy.source";
const OCI_URL: &str = "io.kubewarden.policy.ociUrl";
const KEYWORDS: &str = "io.artifacthub.keywords";
const RESOURCES: &str = "io.artifacthub.resources";
const AUTHOR: &str = "io.kubewarden.policy.author";
const HIDDEN_UI: &str = "io.kubewarden.hidden-ui";
const RELEASE_TAG: &str = "com.github.release.tag";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactHubPkg {
    version: String,
    name: String,
    display_name: String,
    created_at: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    license: Option<String>,
    #[serde(rename = "homeURL", skip_serializing_if = "Option::is_none")]
    home_url: Option<String>,
    containers_images: Vec<NamedImage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keywords: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    links: Option<Vec<Link>>,
    install: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    maintainers: Option<Vec<Maintainer>>,
    provider: Provider,
    recommendations: Vec<Recommendation>,
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct NamedImage {
    name: &'static str,
    image: String,
}

#[derive(Debug, Serialize)]
struct Link {
    name: &'static str,
    url: String,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct Maintainer {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Serialize)]
struct Provider {
    name: &'static str,
}

#[derive(Debug, Serialize)]
struct Recommendation {
    url: &'static str,
}

fn required<'a>(annotations: &'a BTreeMap<String, String>, key: &str) -> Result<&'a str> {
    annotations
        .get(key)
        .map(String::as_str)
        .with_context(|| format!("policy metadata misses the annotation {key}"))
}

fn parse_url(key: &str, value: &str) -> Result<Url> {
    Url::parse(value).with_context(|| format!("annotation {key}: {value:?} is not a URL"))
}

/// `io.artifacthub.keywords`: comma separated, spaces around each keyword dropped, none empty.
fn keywords(csv: &str) -> Result<Vec<String>> {
    let words: Vec<String> = csv
        .split(',')
        .map(|w| w.trim_matches(' ').to_owned())
        .collect();
    if words.iter().any(String::is_empty) {
        bail!("annotation {KEYWORDS}: empty keyword in {csv:?}");
    }
    Ok(words)
}

/// `io.kubewarden.policy.author`: an RFC 5322 address list, `Name <email>` or a bare `email`,
/// separated by commas (commas inside quotes or angle brackets do not separate).
pub fn maintainers(list: &str) -> Result<Vec<Maintainer>> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    for (i, c) in list.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&list[start..]);
    let mut out = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let (name, email) = match (part.rfind('<'), part.ends_with('>')) {
            (Some(lt), true) => (
                part[..lt].trim().trim_matches('"').trim(),
                &part[lt + 1..part.len() - 1],
            ),
            _ => ("", part),
        };
        let email = email.trim();
        let valid = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
        });
        if !valid {
            bail!("annotation {AUTHOR}: {email:?} is not an email address");
        }
        out.push(Maintainer {
            name: name.to_owned(),
            email: email.to_owned(),
        });
    }
    if out.is_empty() {
        bail!("annotation {AUTHOR} holds no address");
    }
    Ok(out)
}

fn install_text(image: &str) -> String {
    format!(
        "The policy can be obtained using [kwctl](https://docs.kubewarden.io/howtos/install-kwctl):\n\
         ```console\n\
         kwctl pull {image}\n\
         ```\n\
         Then, generate the policy manifest and tune it to your liking. For example:\n\
         ```console\n\
         kwctl scaffold manifest -t ClusterAdmissionPolicy registry://{image}\n\
         ```\n"
    )
}

/// The whole `artifacthub-pkg.yml` text.
pub fn generate(metadata_yaml: &str, questions: Option<&str>, created_at: &str) -> Result<String> {
    let metadata = Metadata::from_yaml(metadata_yaml)?;
    let Some(annotations) = metadata.annotations.as_ref().filter(|a| !a.is_empty()) else {
        bail!("policy metadata has no annotations");
    };
    chrono::DateTime::parse_from_rfc3339(created_at)
        .with_context(|| format!("createdAt {created_at:?} is not an RFC 3339 time"))?;
    if questions.is_some_and(str::is_empty) {
        bail!("the questions file is empty");
    }
    let version = required(annotations, ANNOTATION_VERSION)?;
    semver::Version::parse(version)
        .with_context(|| format!("annotation {ANNOTATION_VERSION}: {version:?} is not semver"))?;
    let image = format!("{}:v{version}", required(annotations, OCI_URL)?);

    let links = match annotations.get(SOURCE) {
        None => None,
        Some(source) => {
            let source_url = parse_url(SOURCE, source)?;
            let mut links = Vec::new();
            if source_url.host_str() == Some("github.com") {
                let tag = match annotations.get(RELEASE_TAG) {
                    Some(tag) => url::form_urlencoded::byte_serialize(tag.as_bytes()).collect(),
                    None => format!("v{version}"),
                };
                let wasm = format!("{source_url}/releases/download/{tag}/policy.wasm");
                links.push(Link {
                    name: "policy",
                    url: parse_url(SOURCE, &wasm)?.to_string(),
                });
            }
            links.push(Link {
                name: "source",
                url: source_url.to_string(),
            });
            Some(links)
        }
    };

    let mut hub_annotations = BTreeMap::new();
    hub_annotations.insert(
        "kubewarden/mutation".to_owned(),
        metadata.mutating.to_string(),
    );
    if !metadata.context_aware_resources.is_empty() {
        hub_annotations.insert(
            "kubewarden/contextAwareResources".to_owned(),
            serde_yaml::to_string(&metadata.context_aware_resources)?,
        );
    }
    hub_annotations.insert(
        "kubewarden/rules".to_owned(),
        serde_yaml::to_string(&metadata.rules)?,
    );
    if let Some(q) = questions {
        hub_annotations.insert("kubewarden/questions-ui".to_owned(), q.to_owned());
    }
    if let Some(hidden) = annotations.get(HIDDEN_UI) {
        hub_annotations.insert("kubewarden/hidden-ui".to_owned(), hidden.clone());
    }
    if let Some(resources) = annotations.get(RESOURCES) {
        hub_annotations.insert("kubewarden/resources".to_owned(), resources.clone());
    }

    let pkg = ArtifactHubPkg {
        version: version.to_owned(),
        name: required(annotations, TITLE)?.to_owned(),
        display_name: required(annotations, DISPLAY_NAME)?.to_owned(),
        created_at: created_at.to_owned(),
        description: required(annotations, DESCRIPTION)?.to_owned(),
        license: annotations.get(LICENSE).cloned(),
        home_url: annotations
            .get(URL)
            .map(|u| parse_url(URL, u).map(|u| u.to_string()))
            .transpose()?,
        install: install_text(&image),
        containers_images: vec![NamedImage {
            name: "policy",
            image,
        }],
        keywords: annotations.get(KEYWORDS).map(|k| keywords(k)).transpose()?,
        links,
        maintainers: annotations
            .get(AUTHOR)
            .map(|a| maintainers(a))
            .transpose()?,
        provider: Provider { name: "kubewarden" },
        recommendations: vec![Recommendation {
            url: "https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller",
        }],
        annotations: hub_annotations,
    };
    Ok(format!(
        "{COMMENT_HEADER}\n{}",
        serde_yaml::to_string(&pkg)?
    ))
}

/// `createdAt` of an existing `artifacthub-pkg.yml`, to regenerate it without changing it.
pub fn created_at_of(existing: &str) -> Result<String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(existing)?;
    doc.get("createdAt")
        .and_then(serde_yaml::Value::as_str)
        .map(str::to_owned)
        .context("the existing artifacthub-pkg.yml has no createdAt")
}

/// "Now" the way kwctl writes it (UTC, RFC 3339, sub-second digits as needed).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintainer_lists() {
        assert_eq!(
            maintainers(
                "Jane Doe <jane@example.org>, \"Doe, John\" <john@example.org>,ops@example.org"
            )
            .unwrap(),
            vec![
                Maintainer {
                    name: "Jane Doe".into(),
                    email: "jane@example.org".into()
                },
                Maintainer {
                    name: "Doe, John".into(),
                    email: "john@example.org".into()
                },
                Maintainer {
                    name: "".into(),
                    email: "ops@example.org".into()
                },
            ]
        );
        assert!(maintainers("Jane Doe").is_err());
        assert!(maintainers("Jane <not an address>").is_err());
    }

    #[test]
    fn keyword_csv() {
        assert_eq!(keywords("a, b ,c").unwrap(), vec!["a", "b", "c"]);
        assert!(keywords("a,,b").is_err());
    }

    const META: &str = "rules:
- {apiGroups: [''], apiVersions: [v1], resources: [pods], operations: [CREATE]}
mutating: false
annotations:
  io.kubewarden.policy.title: t
  io.artifacthub.displayName: T
  io.kubewarden.policy.description: d
  io.kubewarden.policy.version: 1.2.3
  io.kubewarden.policy.ociUrl: example.org/p/t
";

    #[test]
    fn minimal_package_and_its_order() {
        let out = generate(META, None, "2026-01-02T03:04:05Z").unwrap();
        let body = out.strip_prefix(COMMENT_HEADER).unwrap();
        let keys: Vec<&str> = body
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('-') && !l.is_empty())
            .map(|l| l.split(':').next().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "version",
                "name",
                "displayName",
                "createdAt",
                "description",
                "containersImages",
                "install",
                "provider",
                "recommendations",
                "annotations"
            ]
        );
        assert!(body.contains("image: example.org/p/t:v1.2.3\n"), "{body}");
        assert!(body.contains("  kubewarden/mutation: 'false'\n"), "{body}");
        assert!(!body.contains("links"), "no source, no links");
    }

    #[test]
    fn github_source_gives_a_release_link_and_release_tag_is_encoded() {
        let meta = format!(
            "{META}  io.kubewarden.policy.source: https://github.com/o/r\n  com.github.release.tag: t/v1.2.3\n"
        );
        let out = generate(&meta, None, "2026-01-02T03:04:05Z").unwrap();
        assert!(
            out.contains("url: https://github.com/o/r/releases/download/t%2Fv1.2.3/policy.wasm\n"),
            "{out}"
        );
        assert!(
            out.contains("- name: source\n  url: https://github.com/o/r\n"),
            "{out}"
        );
    }

    #[test]
    fn refusals() {
        assert!(
            generate(META, Some(""), "2026-01-02T03:04:05Z").is_err(),
            "empty questions"
        );
        assert!(generate(META, None, "yesterday").is_err());
        assert!(generate(&META.replace("1.2.3", "1.2"), None, "2026-01-02T03:04:05Z").is_err());
        assert!(
            generate(
                &META.replace("  io.kubewarden.policy.ociUrl: example.org/p/t\n", ""),
                None,
                "2026-01-02T03:04:05Z"
            )
            .is_err()
        );
    }
}

//! The options for air-gapped clusters and the supply chain: mirrors, pull secrets, digests, delivery.
//!
//! `imageRewrites` moves every Python image the policy injects to a mirror (longest matching
//! prefix), `imagePullSecrets` adds pull secrets to instrumented pods, `pinImageDigest` pins the
//! image to a digest (`resolve`: looked up in the registry; `require`: refuse a tag alone), and
//! `delivery` chooses between the operator's init container and an image volume. All four are
//! off by default. What they do to an image is `crate::image`, where their types live; here they
//! are read and checked.

use serde_json::Value;

use crate::image::{Delivery, ImageOptions, PinImageDigest, Rewrite};
use crate::keys::{OPT_DELIVERY, OPT_IMAGE_PULL_SECRETS, OPT_IMAGE_REWRITES, OPT_PIN_IMAGE_DIGEST};
use crate::refusal::{OptionFault, SettingsProblem};
use crate::syntax::image_ref::parse_prefix;
use crate::syntax::k8s_names::is_dns1123_subdomain;

impl ImageOptions {
    /// The keys these options are read from.
    pub const KEYS: [&'static str; 4] = [
        OPT_IMAGE_REWRITES,
        OPT_IMAGE_PULL_SECRETS,
        OPT_PIN_IMAGE_DIGEST,
        OPT_DELIVERY,
    ];

    /// Reads `key` when it is one of these options: `Ok(true)`, or the problem with its value;
    /// `Ok(false)` for any other key. `null` is the default.
    pub fn read(&mut self, key: &str, v: &Value) -> Result<bool, SettingsProblem> {
        match key {
            OPT_IMAGE_REWRITES => self.rewrites = rewrites(v)?,
            OPT_IMAGE_PULL_SECRETS => self.pull_secrets = pull_secrets(v)?,
            OPT_PIN_IMAGE_DIGEST => self.pin = pin(v)?,
            OPT_DELIVERY => self.delivery = delivery(v)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The items of the list option `key` (`null`: none), or `fault` with the value.
fn list<'v>(
    v: &'v Value,
    key: &str,
    fault: fn(String) -> OptionFault,
) -> Result<&'v [Value], SettingsProblem> {
    match v {
        Value::Null => Ok(&[]),
        Value::Array(items) => Ok(items),
        _ => Err(SettingsProblem::new(key, fault(v.to_string()))),
    }
}

/// `imageRewrites`: a list of `{from, to}` prefixes, each `from` once.
fn rewrites(v: &Value) -> Result<Vec<Rewrite>, SettingsProblem> {
    let items = list(v, OPT_IMAGE_REWRITES, |value| OptionFault::ImageRewrites {
        value,
    })?;
    let mut out: Vec<Rewrite> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{OPT_IMAGE_REWRITES}[{i}]");
        let rewrite = rewrite(item, &at)?;
        if let Some(first) = out.iter().position(|r| r.from == rewrite.from) {
            let fault = OptionFault::RewriteTwice {
                prefix: rewrite.from,
                first,
            };
            return Err(SettingsProblem::new(format!("{at}.from"), fault));
        }
        out.push(rewrite);
    }
    Ok(out)
}

/// One entry: an object with exactly `from` and `to`, both image prefixes.
fn rewrite(item: &Value, at: &str) -> Result<Rewrite, SettingsProblem> {
    let entry = || {
        let value = item.to_string();
        SettingsProblem::new(at, OptionFault::RewriteEntry { value })
    };
    let fields = item.as_object().ok_or_else(entry)?;
    if fields.len() != 2 {
        return Err(entry());
    }
    let prefix = |key: &str| -> Result<String, SettingsProblem> {
        let value = fields.get(key).ok_or_else(entry)?;
        let text = value.as_str().ok_or_else(entry)?;
        parse_prefix(text).map(str::to_string).map_err(|why| {
            let value = value.to_string();
            SettingsProblem::new(format!("{at}.{key}"), OptionFault::Prefix { value, why })
        })
    };
    Ok(Rewrite {
        from: prefix("from")?,
        to: prefix("to")?,
    })
}

/// `imagePullSecrets`: Secret names, each once.
fn pull_secrets(v: &Value) -> Result<Vec<String>, SettingsProblem> {
    let items = list(v, OPT_IMAGE_PULL_SECRETS, |value| {
        OptionFault::PullSecrets { value }
    })?;
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{OPT_IMAGE_PULL_SECRETS}[{i}]");
        let name = match item.as_str() {
            Some(name) if is_dns1123_subdomain(name) => name,
            _ => {
                let value = item.to_string();
                return Err(SettingsProblem::new(
                    at,
                    OptionFault::PullSecretName { value },
                ));
            }
        };
        if out.iter().any(|n| n == name) {
            let name = name.to_string();
            return Err(SettingsProblem::new(
                at,
                OptionFault::PullSecretTwice { name },
            ));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

/// `pinImageDigest`: `off`, `resolve` or `require`.
fn pin(v: &Value) -> Result<PinImageDigest, SettingsProblem> {
    match v {
        Value::Null => Ok(PinImageDigest::Off),
        Value::String(s) if s == "off" => Ok(PinImageDigest::Off),
        Value::String(s) if s == "resolve" => Ok(PinImageDigest::Resolve),
        Value::String(s) if s == "require" => Ok(PinImageDigest::Require),
        _ => {
            let value = v.to_string();
            let fault = OptionFault::PinImageDigest { value };
            Err(SettingsProblem::new(OPT_PIN_IMAGE_DIGEST, fault))
        }
    }
}

/// `delivery`: `initContainer` or `imageVolume`.
fn delivery(v: &Value) -> Result<Delivery, SettingsProblem> {
    match v {
        Value::Null => Ok(Delivery::InitContainer),
        Value::String(s) if s == "initContainer" => Ok(Delivery::InitContainer),
        Value::String(s) if s == "imageVolume" => Ok(Delivery::ImageVolume),
        _ => {
            let value = v.to_string();
            Err(SettingsProblem::new(
                OPT_DELIVERY,
                OptionFault::Delivery { value },
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(key: &str, v: Value) -> Result<ImageOptions, String> {
        let mut o = ImageOptions::default();
        o.read(key, &v).map_err(|p| p.to_string())?;
        Ok(o)
    }

    #[test]
    fn prefixes_lose_their_trailing_slash_and_null_is_the_default() {
        let o = read(
            OPT_IMAGE_REWRITES,
            json!([{"from": "ghcr.io/open-telemetry/", "to": "mirror.example.com:5000/otel"}]),
        )
        .unwrap();
        assert_eq!(
            o.rewrites,
            [Rewrite {
                from: "ghcr.io/open-telemetry".into(),
                to: "mirror.example.com:5000/otel".into()
            }]
        );
        for key in ImageOptions::KEYS {
            assert_eq!(read(key, Value::Null).unwrap(), ImageOptions::default());
        }
        assert!(!ImageOptions::default().read("other", &Value::Null).unwrap());
    }

    #[test]
    fn bad_values_are_named_by_their_path() {
        for (key, v, path) in [
            (
                OPT_IMAGE_REWRITES,
                json!({"from": "a.io"}),
                "imageRewrites: ",
            ),
            (
                OPT_IMAGE_REWRITES,
                json!([{"from": "a.io"}]),
                "imageRewrites[0]: ",
            ),
            (
                OPT_IMAGE_REWRITES,
                json!([{"from": "a.io", "to": "b.io", "x": 1}]),
                "imageRewrites[0]: ",
            ),
            (
                OPT_IMAGE_REWRITES,
                json!([{"from": "a.io", "to": "b"}]),
                "imageRewrites[0].to: ",
            ),
            (
                OPT_IMAGE_REWRITES,
                json!([{"from": "a.io/", "to": "b.io"}, {"from": "a.io", "to": "c.io"}]),
                "imageRewrites[1].from: ",
            ),
            (
                OPT_IMAGE_PULL_SECRETS,
                json!("regcred"),
                "imagePullSecrets: ",
            ),
            (
                OPT_IMAGE_PULL_SECRETS,
                json!(["a", "B"]),
                "imagePullSecrets[1]: ",
            ),
            (
                OPT_IMAGE_PULL_SECRETS,
                json!(["a", "a"]),
                "imagePullSecrets[1]: ",
            ),
            (OPT_PIN_IMAGE_DIGEST, json!("on"), "pinImageDigest: "),
            (OPT_DELIVERY, json!("volume"), "delivery: "),
        ] {
            let e = read(key, v.clone()).unwrap_err();
            assert!(e.starts_with(path), "{v}: {e}");
        }
    }
}

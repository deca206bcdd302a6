//! Section-level surgery on a core WebAssembly module.
//!
//! A module is the 8-byte preamble (`\0asm` + version 1) followed by sections, each
//! `id: u8, size: u32 (LEB128), payload[size]`; a custom section (id 0) starts its payload with
//! a LEB128-prefixed UTF-8 name. Replacing a custom section therefore only needs to copy every
//! other section byte for byte and append the new one: code, data, names, producers and any
//! other custom section stay exactly as the compiler wrote them.

use std::ops::Range;

use anyhow::{Context, Result, bail, ensure};
use wasm_encoder::{CustomSection, Section};

const PREAMBLE: [u8; 8] = [0x00, b'a', b's', b'm', 0x01, 0x00, 0x00, 0x00];

/// One section of a module: its id, the bytes of the whole section (header included) and, for a
/// custom section, its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionSpan {
    pub id: u8,
    pub range: Range<usize>,
    pub custom_name: Option<String>,
}

fn read_leb_u32(bytes: &[u8], pos: &mut usize) -> Result<u32> {
    let mut result: u64 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes
            .get(*pos)
            .context("truncated module: LEB128 number runs past the end")?;
        *pos += 1;
        result |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return u32::try_from(result).context("LEB128 number does not fit in u32");
        }
    }
    bail!("LEB128 number longer than 5 bytes")
}

/// Split a core module into its sections. Fails on anything that is not a version-1 core module
/// (components included) or whose section sizes do not add up.
pub fn sections(module: &[u8]) -> Result<Vec<SectionSpan>> {
    ensure!(
        module.len() >= PREAMBLE.len() && module[..4] == PREAMBLE[..4],
        "not a WebAssembly module (no \\0asm magic)"
    );
    ensure!(
        module[4..8] == PREAMBLE[4..8],
        "not a version-1 core WebAssembly module (a component or an unknown version)"
    );
    let mut out = Vec::new();
    let mut pos = PREAMBLE.len();
    while pos < module.len() {
        let start = pos;
        let id = module[pos];
        pos += 1;
        let size = read_leb_u32(module, &mut pos)? as usize;
        let end = pos
            .checked_add(size)
            .filter(|end| *end <= module.len())
            .with_context(|| format!("section at byte {start} runs past the end of the module"))?;
        let custom_name = if id == 0 {
            let mut p = pos;
            let len = read_leb_u32(module, &mut p)? as usize;
            ensure!(
                p + len <= end,
                "custom section at byte {start}: name runs past the section"
            );
            Some(
                std::str::from_utf8(&module[p..p + len])
                    .with_context(|| format!("custom section at byte {start}: name is not UTF-8"))?
                    .to_owned(),
            )
        } else {
            None
        };
        out.push(SectionSpan {
            id,
            range: start..end,
            custom_name,
        });
        pos = end;
    }
    Ok(out)
}

/// The payloads (after the name) of every custom section called `name`, in module order.
pub fn custom_sections<'a>(module: &'a [u8], name: &str) -> Result<Vec<&'a [u8]>> {
    let mut out = Vec::new();
    for s in sections(module)? {
        if s.custom_name.as_deref() == Some(name) {
            let mut p = s.range.start + 1;
            let _size = read_leb_u32(module, &mut p)?;
            let name_len = read_leb_u32(module, &mut p)? as usize;
            out.push(&module[p + name_len..s.range.end]);
        }
    }
    Ok(out)
}

/// A copy of `module` without any custom section called `name` and with one new custom section
/// `name` holding `data` appended at the end. Every other byte is copied unchanged.
pub fn replace_custom_section(module: &[u8], name: &str, data: &[u8]) -> Result<Vec<u8>> {
    let spans = sections(module)?;
    let mut out = Vec::with_capacity(module.len() + data.len() + name.len() + 16);
    out.extend_from_slice(&module[..PREAMBLE.len()]);
    for s in spans
        .iter()
        .filter(|s| s.custom_name.as_deref() != Some(name))
    {
        out.extend_from_slice(&module[s.range.clone()]);
    }
    CustomSection {
        name: name.into(),
        data: data.into(),
    }
    .append_to(&mut out);
    Ok(out)
}

/// Names of the functions the module exports.
pub fn exported_names(module: &[u8]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::ExportSection(reader) = payload.context("invalid module")? {
            for export in reader {
                names.push(export.context("invalid export section")?.name.to_owned());
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-assembled module: type section, a custom "keep" section, a custom "meta" section.
    fn tiny() -> Vec<u8> {
        let mut m = PREAMBLE.to_vec();
        m.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type: () -> ()
        CustomSection {
            name: "keep".into(),
            data: b"k".as_slice().into(),
        }
        .append_to(&mut m);
        CustomSection {
            name: "meta".into(),
            data: b"old".as_slice().into(),
        }
        .append_to(&mut m);
        m
    }

    #[test]
    fn splits_sections_and_names_custom_ones() {
        let s = sections(&tiny()).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].id, 1);
        assert_eq!(s[0].range, 8..14);
        assert_eq!(s[1].custom_name.as_deref(), Some("keep"));
        assert_eq!(s[2].custom_name.as_deref(), Some("meta"));
    }

    #[test]
    fn replacing_removes_the_old_section_and_appends_the_new_one_last() {
        let m = tiny();
        let out = replace_custom_section(&m, "meta", b"new").unwrap();
        assert_eq!(
            custom_sections(&out, "meta").unwrap(),
            vec![b"new".as_slice()]
        );
        // Everything before the old section is byte-identical.
        let keep_end = sections(&m).unwrap()[1].range.end;
        assert_eq!(out[..keep_end], m[..keep_end]);
        let names: Vec<_> = sections(&out)
            .unwrap()
            .into_iter()
            .map(|s| s.custom_name)
            .collect();
        assert_eq!(names, vec![None, Some("keep".into()), Some("meta".into())]);
    }

    #[test]
    fn replacing_twice_equals_replacing_once() {
        let once = replace_custom_section(&tiny(), "meta", b"x").unwrap();
        let twice = replace_custom_section(&once, "meta", b"x").unwrap();
        assert_eq!(once, twice);
    }

    #[test]
    fn all_duplicates_are_removed() {
        let mut m = tiny();
        CustomSection {
            name: "meta".into(),
            data: b"dup".as_slice().into(),
        }
        .append_to(&mut m);
        assert_eq!(custom_sections(&m, "meta").unwrap().len(), 2);
        let out = replace_custom_section(&m, "meta", b"one").unwrap();
        assert_eq!(
            custom_sections(&out, "meta").unwrap(),
            vec![b"one".as_slice()]
        );
    }

    #[test]
    fn rejects_truncated_and_foreign_input() {
        let m = tiny();
        assert!(sections(&m[..m.len() - 1]).is_err());
        assert!(
            sections(b"\0asm\x0d\0\x01\0").is_err(),
            "component preamble"
        );
        assert!(sections(b"not wasm at all").is_err());
    }

    #[test]
    fn multi_byte_section_sizes_are_handled() {
        let big = vec![7u8; 300]; // size needs a 2-byte LEB128
        let out = replace_custom_section(&tiny(), "meta", &big).unwrap();
        assert_eq!(custom_sections(&out, "meta").unwrap(), vec![big.as_slice()]);
    }
}

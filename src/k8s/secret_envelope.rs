//! What a protobuf value's envelope (`k8s\0` + runtime.Unknown) says of its kind, for the Secret
//! rule ([`super::secret::holds_plaintext`]): read fast as the API server writes it, else field by
//! field as the decoder reads it.

use super::secret::parsed_says_secret;
use super::secret_text::holds_secrets;

/// Whether a protobuf value's envelope says Secret: any of its typeMeta fields (a repeated
/// one is merged by the decoder, its last kind winning) with kind `Secret`. `None` when the
/// envelope cannot be read or names no kind.
pub(super) fn envelope_says_secret(value: &[u8]) -> Option<bool> {
    let body = value.get(super::encoding::PROTOBUF_MAGIC.len()..)?;
    // As the API server writes it (every value of a dump is asked): typeMeta first, with one-byte
    // lengths, apiVersion then kind, then the raw object and empty contentEncoding and
    // contentType, so no second typeMeta and no other content type.
    if let Some((kind, end)) = short_type_meta(body) {
        if plain_tail(body, end) {
            return Some(holds_secrets(kind));
        }
    }
    envelope_fields_say_secret(body)
}

/// Whether a value starts as a protobuf object whose magic (`k8s\0`) lost one byte to damage:
/// three of its four bytes are the magic's, and the envelope's first tag (typeMeta, `0a`) follows.
/// It is not read as protobuf ([`super::encoding::classify`]), and was printed as stored at an
/// application's key, Secret and all (review 49b: `k8s@`, `k8r\0`, `{8s\0`).
pub(super) fn magic_damaged(value: &[u8]) -> bool {
    let m = super::encoding::PROTOBUF_MAGIC;
    let differ = value.iter().zip(m).filter(|(a, b)| a != b).count();
    value.len() > m.len() && differ == 1 && value[m.len()] == 0x0a
}

/// Whether an envelope goes on at `at` as the API server writes it: the raw object (field 2),
/// then nothing, or an empty contentEncoding (3) and an empty contentType (4).
fn plain_tail(body: &[u8], at: usize) -> bool {
    let mut pos = at.saturating_add(1);
    if body.get(at) != Some(&0x12) {
        return false;
    }
    let end =
        super::wire::varint(body, &mut pos).and_then(|n| usize::try_from(n).ok()).and_then(|n| pos.checked_add(n));
    matches!(end.and_then(|e| body.get(e..)), Some([] | [0x1a, 0, 0x22, 0]))
}

/// [`envelope_says_secret`] of the bytes after the magic, by the general field reader. An
/// envelope of JSON says what the object inside says of itself (its kind is the one the decoder
/// shows); one with a content encoding or another content type says nothing.
fn envelope_fields_say_secret(body: &[u8]) -> Option<bool> {
    use super::wire::{fields, Wire};
    let (mut kinds, mut secret) = (0, false);
    let (mut raw, mut json): (&[u8], bool) = (b"", false);
    for f in fields(body) {
        // Bytes that stop reading after a kind was read (filler a test load put there, or damage
        // past the typeMeta) leave the kinds read to decide.
        // So does a field no envelope holds (1 typeMeta, 2 raw, 3 contentEncoding, 4 contentType).
        let Ok(f) = f else { break };
        if !(1..=4).contains(&f.0) || !matches!(f.1, Wire::Bytes(_)) {
            break;
        }
        match f {
            (2, Wire::Bytes(r)) => raw = r,
            (3, Wire::Bytes(c)) if !c.is_empty() => return None,
            (4, Wire::Bytes(c)) if c == b"application/json" => json = true,
            (4, Wire::Bytes(c)) if !c.is_empty() && c != b"application/vnd.kubernetes.protobuf" => return None,
            _ => {}
        }
        if let (1, Wire::Bytes(tm)) = f {
            for g in fields(tm) {
                let Ok(g) = g else { break };
                if let (2, Wire::Bytes(kind)) = g {
                    kinds += 1;
                    secret |= holds_secrets(kind);
                }
            }
        }
    }
    if json {
        // The object inside names its own kind, which the decoder shows; an envelope that says
        // Secret is one whatever its object says (the decoder redacts by either).
        return Some(secret || parsed_says_secret(true, raw, true));
    }
    (kinds > 0).then_some(secret)
}

/// The kind of an envelope's leading typeMeta written with one-byte lengths
/// (`0a L [0a A apiVersion] 12 K kind`), and where the typeMeta ends; `None` otherwise (the
/// general reader decides).
fn short_type_meta(body: &[u8]) -> Option<(&[u8], usize)> {
    let short = |b: &[u8], at: usize, tag: u8| -> Option<(usize, usize)> {
        let (&t, &n) = (b.get(at)?, b.get(at + 1)?);
        (t == tag && n < 0x80).then_some((at + 2, at + 2 + usize::from(n)))
    };
    let (start, end) = short(body, 0, 0x0a)?;
    let tm = body.get(start..end)?;
    let at = short(tm, 0, 0x0a).map_or(0, |(_, e)| e);
    let (ks, ke) = short(tm, at, 0x12)?;
    // Nothing after the kind inside the typeMeta.
    (ke == tm.len()).then(|| tm.get(ks..ke).map(|k| (k, end)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_envelope_reader_agrees_with_the_general_one_whenever_it_answers() {
        // Envelopes as written, and every truncation and one-byte change of them.
        let seeds: [&[u8]; 4] = [
            b"\x0a\x0c\x0a\x02v1\x12\x06Secret\x12\x00",
            b"\x0a\x08\x12\x06Secret\x12\x01x",
            b"\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x00\x1a\x00",
            b"\x0a\x08\x12\x06Secret\x0a\x0b\x12\x09ConfigMap",
        ];
        let mut answered = 0;
        for seed in seeds {
            for cut in 0..=seed.len() {
                for at in 0..cut.max(1) {
                    for byte in [None, Some(0x00), Some(0x0a), Some(0x12), Some(0x7f), Some(0x80)] {
                        let mut b = seed[..cut].to_vec();
                        if let (Some(x), Some(slot)) = (byte, b.get_mut(at)) {
                            *slot = x;
                        }
                        if let Some((kind, end)) = short_type_meta(&b) {
                            if b.get(end) != Some(&0x0a) {
                                answered += 1;
                                assert_eq!(Some(kind == b"Secret"), envelope_fields_say_secret(&b), "{b:02x?}");
                            }
                        }
                    }
                }
            }
        }
        assert!(answered > 20, "{answered}");
    }
}

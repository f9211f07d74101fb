//! Compact face templates: what the registry stores and what an upgraded
//! credential carries for offline face matching.
//!
//! Layout (all integers big-endian):
//! `version u8 | model-id length u8 | model id (ASCII) | dimension u16 |
//! scale f32 | values`. Each value is `round(x / scale)` with
//! `scale = max|x| / L`:
//! - version 1, L = 127, one `i8` per value: 512 bytes plus ~30 of header for
//!   a 512-D embedding — the registry's template;
//! - version 2, L = 7, two signed 4-bit values per byte (high nibble first):
//!   256 bytes plus header — the compact template an upgraded credential
//!   signs, small enough for an offline QR code.

use crate::FaceError;
use crate::embedding::Embedding;

const INT8: u8 = 1;
const INT4: u8 = 2;
const MAX_DIMENSION: usize = 4096;

/// A quantised embedding and the model that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    model_id: String,
    /// [`INT8`] or [`INT4`].
    version: u8,
    scale: f32,
    values: Vec<i8>,
}

impl Template {
    /// Quantises an embedding made by `model_id` to int8.
    pub fn quantise(embedding: &Embedding, model_id: &str) -> Template {
        Template::quantise_to(embedding, model_id, INT8)
    }

    /// The compact (int4) form of this template, for credentials that must fit a QR code.
    pub fn compact(&self) -> Template {
        Template::quantise_to(&self.embedding(), &self.model_id, INT4)
    }

    /// Cosine similarity with a fresh full-precision embedding of the same
    /// model: how a verifier matches the person in front of it.
    pub fn similarity_to_live(&self, live: &Embedding) -> Result<f32, FaceError> {
        if live.0.len() != self.values.len() {
            let live_model = format!("a {}-D live embedding", live.0.len());
            return Err(FaceError::TemplateMismatch(self.model_id.clone(), live_model));
        }
        Ok(self.embedding().cosine(live))
    }

    fn quantise_to(embedding: &Embedding, model_id: &str, version: u8) -> Template {
        let levels = if version == INT4 { 7.0 } else { 127.0 };
        let max = embedding.0.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 { max / levels } else { 1.0 };
        let values = embedding.0.iter().map(|v| (v / scale).round().clamp(-levels, levels) as i8).collect();
        Template { model_id: model_id.to_owned(), version, scale, values }
    }

    /// The model that made the embedding.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The embedding back in floating point, renormalised.
    pub fn embedding(&self) -> Embedding {
        Embedding::normalised(self.values.iter().map(|&v| f32::from(v) * self.scale).collect())
    }

    /// Cosine similarity with another template of the same model.
    pub fn similarity(&self, other: &Template) -> Result<f32, FaceError> {
        if self.model_id != other.model_id || self.values.len() != other.values.len() {
            return Err(FaceError::TemplateMismatch(self.model_id.clone(), other.model_id.clone()));
        }
        Ok(self.embedding().cosine(&other.embedding()))
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let id = self.model_id.as_bytes();
        let mut out = Vec::with_capacity(8 + id.len() + self.values.len());
        out.push(self.version);
        out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&id[..id.len().min(255)]);
        out.extend_from_slice(&u16::try_from(self.values.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(&self.scale.to_be_bytes());
        if self.version == INT4 {
            out.extend(self.values.chunks(2).map(|pair| {
                let low = pair.get(1).copied().unwrap_or(0);
                ((pair[0] as u8) << 4) | (low as u8 & 0x0f)
            }));
        } else {
            out.extend(self.values.iter().map(|&v| v as u8));
        }
        out
    }

    /// Reads the binary form, refusing anything malformed.
    pub fn from_bytes(bytes: &[u8]) -> Result<Template, FaceError> {
        let mut reader = Reader(bytes);
        let version = reader.take(1)?[0];
        if version != INT8 && version != INT4 {
            return Err(FaceError::InvalidTemplate(format!("version {version} is not supported")));
        }
        let id_len = usize::from(reader.take(1)?[0]);
        let model_id = std::str::from_utf8(reader.take(id_len)?)
            .ok()
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| FaceError::InvalidTemplate("the model id is not printable ASCII".into()))?
            .to_owned();
        let dimension = usize::from(u16::from_be_bytes(reader.array()?));
        if dimension == 0 || dimension > MAX_DIMENSION {
            return Err(FaceError::InvalidTemplate(format!("dimension {dimension} is out of range")));
        }
        let scale = f32::from_be_bytes(reader.array()?);
        if !scale.is_finite() || scale <= 0.0 {
            return Err(FaceError::InvalidTemplate("the scale is not a positive number".into()));
        }
        let values: Vec<i8> = if version == INT4 {
            let packed = reader.take(dimension.div_ceil(2))?;
            // An odd dimension leaves the last byte's low nibble unused: it must
            // be zero, so one template has one encoding (found by fuzzing).
            if dimension % 2 == 1 && packed.last().is_some_and(|b| b & 0x0f != 0) {
                return Err(FaceError::InvalidTemplate("the unused last nibble is not zero".into()));
            }
            // Arithmetic shifts sign-extend each nibble.
            let nibbles = packed.iter().flat_map(|&b| [(b as i8) >> 4, ((b << 4) as i8) >> 4]);
            nibbles.take(dimension).collect()
        } else {
            reader.take(dimension)?.iter().map(|&b| b as i8).collect()
        };
        if !reader.0.is_empty() {
            return Err(FaceError::InvalidTemplate(format!("{} trailing bytes", reader.0.len())));
        }
        if values.iter().any(|&v| v == i8::MIN || (version == INT4 && v == -8)) {
            return Err(FaceError::InvalidTemplate("a value is outside the quantisation range".into()));
        }
        Ok(Template { model_id, version, scale, values })
    }
}

/// A cursor over untrusted bytes in which every read is checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FaceError> {
        if self.0.len() < n {
            return Err(FaceError::InvalidTemplate("truncated".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FaceError> {
        self.take(N)?.try_into().map_err(|_| FaceError::InvalidTemplate("truncated".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn embedding(seed: u32) -> Embedding {
        Embedding::normalised((0..512).map(|i| ((i * 7919 + seed * 104_729) % 1000) as f32 / 500.0 - 1.0).collect())
    }

    #[test]
    fn quantisation_costs_little_similarity() {
        let (a, b) = (embedding(1), embedding(2));
        let (ta, tb) = (Template::quantise(&a, "m-1"), Template::quantise(&b, "m-1"));
        assert!((ta.similarity(&tb).unwrap() - a.cosine(&b)).abs() < 0.01);
        assert!((ta.embedding().cosine(&a) - 1.0).abs() < 0.001);
        assert_eq!(ta.to_bytes().len(), 1 + 1 + 3 + 2 + 4 + 512);
    }

    #[test]
    fn the_compact_form_is_half_the_size_and_round_trips() {
        let (a, b) = (embedding(1), embedding(2));
        let (ta, tb) = (Template::quantise(&a, "m-1").compact(), Template::quantise(&b, "m-1").compact());
        assert_eq!(ta.to_bytes().len(), 1 + 1 + 3 + 2 + 4 + 256);
        assert_eq!(Template::from_bytes(&ta.to_bytes()).unwrap(), ta);
        assert!((ta.similarity(&tb).unwrap() - a.cosine(&b)).abs() < 0.05, "4 bits keep the geometry");
        assert!(ta.embedding().cosine(&a) > 0.97);
        assert!((ta.similarity_to_live(&b).unwrap() - a.cosine(&b)).abs() < 0.05);
        let odd = Template::quantise(&Embedding::normalised(vec![0.5, -0.25, 0.75]), "m-1").compact();
        assert_eq!(Template::from_bytes(&odd.to_bytes()).unwrap(), odd, "an odd dimension pads the last byte");
        let mut padded = odd.to_bytes();
        *padded.last_mut().unwrap() |= 0x05;
        let refused = Template::from_bytes(&padded).unwrap_err();
        assert!(refused.to_string().contains("unused last nibble"), "one template, one encoding: {refused}");
    }

    #[test]
    fn different_models_are_not_compared() {
        let a = Template::quantise(&embedding(1), "m-1");
        let b = Template::quantise(&embedding(1), "m-2");
        assert!(matches!(a.similarity(&b), Err(FaceError::TemplateMismatch(..))));
    }

    #[test]
    fn malformed_bytes_are_refused() {
        let good = Template::quantise(&embedding(3), "fr_feature-87aacdfe").to_bytes();
        assert_eq!(Template::from_bytes(&good).unwrap().to_bytes(), good);
        assert!(Template::from_bytes(&good[..good.len() - 1]).is_err());
        assert!(Template::from_bytes(&[good.as_slice(), &[0]].concat()).is_err());
        let mut bad_version = good.clone();
        bad_version[0] = 2;
        assert!(Template::from_bytes(&bad_version).is_err());
        assert!(Template::from_bytes(&[]).is_err());
    }

    proptest! {
        /// A real template with one byte changed is refused as invalid, or
        /// reads as a template that re-encodes to exactly those bytes: never
        /// a panic, never two encodings of one template.
        #[test]
        fn a_changed_template_is_refused_or_reads_stably(
            values in proptest::collection::vec(-1.0f32..1.0, 1..600),
            compact in any::<bool>(),
            position in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let t = Template::quantise(&Embedding::normalised(values), "model-x");
            let t = if compact { t.compact() } else { t };
            let mut bytes = t.to_bytes();
            let at = position.index(bytes.len());
            bytes[at] ^= flip;
            match Template::from_bytes(&bytes) {
                Err(e) => prop_assert_eq!(e.code(), "face.template.invalid"),
                Ok(read) => prop_assert_eq!(read.to_bytes(), bytes),
            }
        }

        /// Cut anywhere, or with a byte added, a real template is refused.
        #[test]
        fn a_cut_or_lengthened_template_is_refused(
            values in proptest::collection::vec(-1.0f32..1.0, 1..600),
            cut in any::<prop::sample::Index>(),
            extra in any::<u8>(),
        ) {
            let bytes = Template::quantise(&Embedding::normalised(values), "model-x").to_bytes();
            let cut = cut.index(bytes.len());
            prop_assert_eq!(Template::from_bytes(&bytes[..cut]).unwrap_err().code(), "face.template.invalid");
            let mut longer = bytes.clone();
            longer.push(extra);
            prop_assert_eq!(Template::from_bytes(&longer).unwrap_err().code(), "face.template.invalid");
        }

        #[test]
        fn round_trip(values in proptest::collection::vec(-1.0f32..1.0, 1..600)) {
            let t = Template::quantise(&Embedding::normalised(values), "model-x");
            prop_assert_eq!(Template::from_bytes(&t.to_bytes()).unwrap(), t.clone());
            let compact = t.compact();
            prop_assert_eq!(Template::from_bytes(&compact.to_bytes()).unwrap(), compact);
        }
    }
}

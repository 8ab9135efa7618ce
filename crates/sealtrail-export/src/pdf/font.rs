//! The report's one font, DejaVu Sans (`fonts/`, Bitstream Vera licence), embedded so names
//! like "Zoë", "Łukasz" or "Ñandú" render on every reader and copy out as text.
//!
//! Glyphs are numbered in the order the report first uses them ([`GlyphRemapper`]), so content
//! streams can be written page by page and the font subset, containing only those glyphs, is
//! built once at the end. Memory is bounded by the font's glyph count, not by the report.
//!
//! Limits: no shaping (no ligatures or kerning, Arabic letters in isolated forms, right-to-left
//! runs drawn left to right); characters the font lacks (CJK, emoji) show as "�".

use crate::ExportError;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Chunk, Filter, Finish, Name, Rect, Ref, Str};
use subsetter::GlyphRemapper;
use ttf_parser::Face;

/// The TrueType file, compiled in so a report never depends on the fonts of the machine.
static DEJAVU_SANS: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
/// The PostScript name of the embedded face.
const POSTSCRIPT_NAME: &str = "DejaVuSans";
/// Code points below this have glyph and advance looked up once: Latin, Greek, Cyrillic,
/// Hebrew and Arabic, i.e. nearly all text in an audit log.
const CACHED: u32 = 0x800;

/// Object numbers of the font's PDF objects, reserved before the pages that use them.
#[derive(Debug, Clone, Copy)]
pub(super) struct FontRefs {
    /// The font pages name in their resources.
    pub type0: Ref,
    /// Its descendant CID font.
    pub cid: Ref,
    /// Metrics and the embedded file.
    pub descriptor: Ref,
    /// The subset TrueType file.
    pub file: Ref,
    /// Glyph to Unicode map, which makes the text extractable.
    pub to_unicode: Ref,
}

/// The embedded face and the glyphs used so far.
pub(super) struct Font {
    face: Face<'static>,
    /// Font units per em, to scale advances to text space.
    per_em: f32,
    /// (glyph, advance) for code points below [`CACHED`].
    cache: Vec<(u16, u16)>,
    /// (glyph, advance) of U+FFFD, shown for characters the font lacks.
    fallback: (u16, u16),
    remapper: GlyphRemapper,
    /// For each new glyph number: the character it shows and its width in 1/1000 em.
    used: Vec<(char, f32)>,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Font")
            .field("glyphs_used", &self.used.len())
            .finish_non_exhaustive()
    }
}

impl Font {
    /// Parses the embedded face.
    pub fn new() -> Result<Self, ExportError> {
        let face = Face::parse(DEJAVU_SANS, 0)
            .map_err(|e| ExportError::Pdf(format!("embedded font: {e}")))?;
        let lookup = |c: char| -> Option<(u16, u16)> {
            let gid = face.glyph_index(c)?;
            Some((gid.0, face.glyph_hor_advance(gid).unwrap_or(0)))
        };
        let fallback = lookup('\u{FFFD}').or_else(|| lookup('?')).unwrap_or((0, 0));
        let cache = (0..CACHED)
            .map(|cp| char::from_u32(cp).and_then(lookup).unwrap_or(fallback))
            .collect();
        let per_em = f32::from(face.units_per_em().max(1));
        Ok(Font {
            face,
            per_em,
            cache,
            fallback,
            remapper: GlyphRemapper::new(),
            used: vec![('\u{FFFD}', 0.0)], // glyph 0, .notdef, is never shown
        })
    }

    /// The glyph and advance for `c`; the fallback glyph when the font lacks it.
    fn glyph(&self, c: char) -> (u16, u16) {
        if let Some(hit) = self.cache.get(c as usize) {
            return *hit;
        }
        self.face
            .glyph_index(c)
            .map(|gid| (gid.0, self.face.glyph_hor_advance(gid).unwrap_or(0)))
            .unwrap_or(self.fallback)
    }

    /// Width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text.chars().map(|c| u32::from(self.glyph(c).1)).sum();
        units as f32 * size / self.per_em
    }

    /// `text` as the two-byte glyph numbers a content stream shows (Identity-H encoding).
    pub fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let (gid, advance) = self.glyph(c);
            let new = self.remapper.remap(gid);
            if usize::from(new) == self.used.len() {
                let shown = if gid == self.fallback.0 {
                    '\u{FFFD}'
                } else {
                    c
                };
                self.used
                    .push((shown, f32::from(advance) * 1000.0 / self.per_em));
            }
            bytes.extend_from_slice(&new.to_be_bytes());
        }
        bytes
    }

    /// Writes the subset font's objects, one chunk each, through `emit`.
    pub fn write(
        &self,
        refs: FontRefs,
        mut emit: impl FnMut(Chunk) -> std::io::Result<()>,
    ) -> Result<(), ExportError> {
        let subset = subsetter::subset(DEJAVU_SANS, 0, &self.remapper)
            .map_err(|e| ExportError::Pdf(format!("subsetting the font: {e}")))?;
        let base = format!("{}+{POSTSCRIPT_NAME}", self.subset_tag());
        let base = Name(base.as_bytes());
        let system_info = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };

        let mut chunk = new_chunk();
        chunk
            .type0_font(refs.type0)
            .base_font(base)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(refs.cid)
            .to_unicode(refs.to_unicode);
        emit(chunk)?;

        let mut chunk = new_chunk();
        let mut cid = chunk.cid_font(refs.cid);
        cid.subtype(CidFontType::Type2)
            .base_font(base)
            .system_info(system_info)
            .font_descriptor(refs.descriptor)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cid.widths()
            .consecutive(0, self.used.iter().map(|(_, w)| w.round()));
        cid.finish();
        emit(chunk)?;

        let scale = |v: i16| f32::from(v) * 1000.0 / self.per_em;
        let bbox = self.face.global_bounding_box();
        let mut chunk = new_chunk();
        chunk
            .font_descriptor(refs.descriptor)
            .name(base)
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(
                scale(bbox.x_min),
                scale(bbox.y_min),
                scale(bbox.x_max),
                scale(bbox.y_max),
            ))
            .italic_angle(0.0)
            .ascent(scale(self.face.ascender()))
            .descent(scale(self.face.descender()))
            .cap_height(scale(self.face.capital_height().unwrap_or(0)))
            .stem_v(80.0)
            .font_file2(refs.file);
        emit(chunk)?;

        let compressed = super::deflate(&subset);
        let mut chunk = new_chunk();
        chunk
            .stream(refs.file, &compressed)
            .filter(Filter::FlateDecode)
            .pair(
                Name(b"Length1"),
                i32::try_from(subset.len()).unwrap_or(i32::MAX),
            );
        emit(chunk)?;

        let mut cmap = UnicodeCmap::new(Name(b"Sealtrail-UCS"), system_info);
        for (gid, (c, _)) in (0u16..).zip(&self.used).skip(1) {
            cmap.pair(gid, *c);
        }
        let compressed = super::deflate(&cmap.finish());
        let mut chunk = new_chunk();
        chunk
            .cmap(refs.to_unicode, &compressed)
            .filter(Filter::FlateDecode);
        emit(chunk)?;
        Ok(())
    }

    /// Six capital letters naming this subset (PDF 32000 §9.6.4), derived from its glyphs so
    /// different reports' subsets of the same font get different names.
    fn subset_tag(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a
        for gid in self.remapper.remapped_gids() {
            for byte in gid.to_be_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        (0..6)
            .map(|i| char::from(b'A' + ((hash >> (i * 8)) % 26) as u8))
            .collect()
    }
}

/// A compact chunk for one object.
pub(super) fn new_chunk() -> Chunk {
    Chunk::with_settings(pdf_writer::Settings { pretty: false })
}

//! C2SP `tlog-tiles`: a log's Merkle tree as immutable 256-hash tiles that any tlog tool reads.
//!
//! Why: proofs on demand (`/v1/proof/...`) need a key and Sealtrail's own JSON; tiles let a
//! monitor built on standard tooling (Go's `sumdb/tlog`, transparency-dev clients) follow every
//! tenant's log, compute any proof itself and notice a fork — without ever seeing an entry.
//! Tile `N` at level `L` holds the hashes of tree level `8·L`, indexes `256·N .. 256·N + W`:
//! exactly the complete-subtree hashes the store already keeps, so a tile is one range read.
//!
//! Paths are `tile/<L>/<N>[.p/<W>]`, `N` in zero-padded groups of three digits, all but the
//! last prefixed `x` (`1234067` → `x001/x234/067`). Entry bundles (`tile/entries/...`) are
//! deliberately not part of this: the tiles carry hashes only.

/// Hashes per full tile (tile height 8).
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u32 = 8;
/// The highest tile level the format allows.
pub const MAX_LEVEL: u32 = 63;

/// One tile as named by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRef {
    /// Tile level: its hashes are tree level `8 * level`.
    pub level: u32,
    /// Index of the tile within its level.
    pub index: u64,
    /// `Some(w)` for a partial tile of `w` hashes (1–255), `None` for a full one.
    pub partial: Option<u16>,
}

/// Why a tile path was refused (the API answers 404: there is no such resource).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a tile path: {0}")]
pub struct BadTilePath(pub String);

impl TileRef {
    /// Parses what follows `tile/` in a tile URL, exactly as the format spells it (no leading
    /// zeroes in `L` or `W`, three digits per index group, `x` on all groups but the last).
    pub fn parse(path: &str) -> Result<TileRef, BadTilePath> {
        let bad = |why: &str| BadTilePath(format!("{path:?}: {why}"));
        let (level, rest) = path.split_once('/').ok_or_else(|| bad("no level"))?;
        let level = decimal(level)
            .filter(|l| *l <= u64::from(MAX_LEVEL))
            .ok_or_else(|| bad("level must be 0 to 63 without leading zeroes"))?
            as u32;
        let (index_part, partial) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let width = decimal(width)
                    .filter(|w| (1..TILE_WIDTH).contains(w))
                    .ok_or_else(|| bad("a partial width must be 1 to 255"))?;
                (index, Some(width as u16))
            }
            None => (rest, None),
        };
        let groups: Vec<&str> = index_part.split('/').collect();
        let mut index: u64 = 0;
        for (i, group) in groups.iter().enumerate() {
            let last = i + 1 == groups.len();
            let digits = if last {
                *group
            } else {
                group
                    .strip_prefix('x')
                    .ok_or_else(|| bad("index groups before the last start with x"))?
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("index groups are three digits"));
            }
            let value: u64 = digits.parse().map_err(|_| bad("index is not a number"))?;
            index = index
                .checked_mul(1000)
                .and_then(|i| i.checked_add(value))
                .ok_or_else(|| bad("index too large"))?;
        }
        let tile = TileRef {
            level,
            index,
            partial,
        };
        // One spelling per tile (no `x000/` groups in front): an immutable resource that
        // answers under many URLs would defeat caches and invite cache flooding.
        if tile.path() != path {
            return Err(bad("not the canonical spelling of the tile"));
        }
        Ok(tile)
    }

    /// The path after `tile/`, the inverse of [`TileRef::parse`].
    pub fn path(&self) -> String {
        let mut groups = Vec::new();
        let mut n = self.index;
        loop {
            groups.push(n % 1000);
            n /= 1000;
            if n == 0 {
                break;
            }
        }
        let mut out = format!("{}/", self.level);
        for (i, group) in groups.iter().rev().enumerate() {
            if i + 1 < groups.len() {
                out.push_str(&format!("x{group:03}/"));
            } else {
                out.push_str(&format!("{group:03}"));
            }
        }
        if let Some(w) = self.partial {
            out.push_str(&format!(".p/{w}"));
        }
        out
    }

    /// The tree level of the tile's hashes.
    pub fn tree_level(&self) -> u32 {
        self.level * TILE_HEIGHT
    }

    /// The first node index (at [`TileRef::tree_level`]) in the tile.
    pub fn first_node(&self) -> Option<u64> {
        self.index.checked_mul(TILE_WIDTH)
    }

    /// How many hashes the tile holds.
    pub fn width(&self) -> u64 {
        self.partial.map_or(TILE_WIDTH, u64::from)
    }

    /// Whether a tree of `size` leaves has every hash of this tile: its nodes are complete
    /// subtrees, so a tile exists once the tree covers its last node. A partial tile exists for
    /// any tree at least that large (a log keeps them rather than deleting them when the full
    /// tile appears, which the format allows).
    pub fn exists_in(&self, size: u64) -> bool {
        let complete = complete_nodes(size, self.tree_level());
        match self.first_node() {
            Some(first) => first
                .checked_add(self.width())
                .is_some_and(|end| end <= complete),
            None => false,
        }
    }
}

/// Complete subtrees at tree level `level` in a tree of `size` leaves.
fn complete_nodes(size: u64, level: u32) -> u64 {
    if level >= 64 {
        0
    } else {
        size >> level
    }
}

/// A decimal without leading zeroes (except `0` itself).
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_follow_the_c2sp_examples() {
        let t = TileRef::parse("0/x001/x234/067").unwrap();
        assert_eq!((t.level, t.index, t.partial), (0, 1_234_067, None));
        assert_eq!(t.path(), "0/x001/x234/067");
        let p = TileRef::parse("1/000.p/17").unwrap();
        assert_eq!((p.level, p.index, p.partial), (1, 0, Some(17)));
        assert_eq!(p.path(), "1/000.p/17");
        for bad in [
            "",
            "0",
            "0/1",
            "0/0001",
            "00/000",
            "64/000",
            "0/001/002",
            "0/x001",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/07",
            "0/000.p/",
            "0/x00a/000",
            "-1/000",
            "0/000/",
        ] {
            assert!(TileRef::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn a_tree_of_70000_has_the_tiles_the_spec_lists() {
        let size = 70_000;
        let full0 = TileRef::parse("0/272").unwrap();
        assert!(full0.exists_in(size));
        assert!(!TileRef::parse("0/273").unwrap().exists_in(size));
        assert!(TileRef::parse("0/273.p/112").unwrap().exists_in(size));
        assert!(!TileRef::parse("0/273.p/113").unwrap().exists_in(size));
        assert!(TileRef::parse("1/000").unwrap().exists_in(size));
        assert!(TileRef::parse("1/001.p/17").unwrap().exists_in(size));
        assert!(TileRef::parse("2/000.p/1").unwrap().exists_in(size));
        assert!(!TileRef::parse("2/000.p/2").unwrap().exists_in(size));
        assert!(!TileRef::parse("3/000.p/1").unwrap().exists_in(size));
    }

    proptest! {
        #[test]
        fn every_path_round_trips(level in 0u32..=63, index: u64, width in proptest::option::of(1u16..256)) {
            let tile = TileRef { level, index, partial: width };
            prop_assert_eq!(TileRef::parse(&tile.path()), Ok(tile));
        }

        #[test]
        fn parse_never_panics(path in "[0-9x./p]{0,24}") {
            let _ = TileRef::parse(&path);
        }
    }
}

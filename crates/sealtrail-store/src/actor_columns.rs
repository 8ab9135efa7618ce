//! Which column an actor filter must search.
//!
//! `actor=X` matches an entry whose actor id *or* email is X. Written as one `OR`, both
//! engines answer it by merging two indexes and then sorting every match by seq, so a page of
//! a busy actor cost a read of all their entries (54 ms for 38k entries on SQLite). Almost
//! always X occurs in only one of the columns; two cheap index probes, in the query's own
//! snapshot, find which, and the filter then walks that one index in seq order and stops
//! after a page.

/// Where an actor value occurs in the searched range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActorColumns {
    /// Only as an actor id, or nowhere (the id index then answers "nothing" at once).
    Id,
    /// Only as an actor email.
    Email,
    /// As an id in some entries and an email in others: the `OR` is needed.
    Both,
}

impl ActorColumns {
    /// The columns to search, from whether the value occurs as an id and as an email.
    pub(crate) fn from_presence(in_id: bool, in_email: bool) -> ActorColumns {
        match (in_id, in_email) {
            (true, true) => ActorColumns::Both,
            (false, true) => ActorColumns::Email,
            _ => ActorColumns::Id,
        }
    }

    /// The SQL condition over `e` for the actor parameter `p` (already bound).
    pub(crate) fn condition(self, p: &str) -> String {
        match self {
            ActorColumns::Id => format!("e.actor_id = {p}"),
            ActorColumns::Email => format!("e.actor_email = {p}"),
            ActorColumns::Both => format!("(e.actor_id = {p} OR e.actor_email = {p})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ActorColumns;

    #[test]
    fn only_a_value_in_both_columns_needs_the_union() {
        assert_eq!(ActorColumns::from_presence(true, true), ActorColumns::Both);
        assert_eq!(ActorColumns::from_presence(true, false), ActorColumns::Id);
        assert_eq!(
            ActorColumns::from_presence(false, true),
            ActorColumns::Email
        );
        assert_eq!(ActorColumns::from_presence(false, false), ActorColumns::Id);
        assert_eq!(ActorColumns::Id.condition("?2"), "e.actor_id = ?2");
        assert_eq!(
            ActorColumns::Both.condition("$4"),
            "(e.actor_id = $4 OR e.actor_email = $4)"
        );
    }
}

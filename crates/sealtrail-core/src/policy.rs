//! Product rules that hold whichever backend stores the data and whichever interface (API,
//! page, CLI) asks: how short a retention may be, how a log names itself, and that a tenant
//! never loses its last owner. The store enforces them inside its transactions; the page and
//! the CLI show the same limits from here, so no number is typed twice.

use crate::Timestamp;

/// How long a tenant keeps entry bodies before pruning may remove them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Entries older than this many days may be pruned.
    Days(u32),
    /// Never prune.
    Forever,
}

impl Retention {
    /// The shortest retention accepted: an audit trail shorter than a month is of little use
    /// and a typo (`3` for `30`) would destroy data.
    pub const MIN_DAYS: u32 = 30;
    /// The retention of a new tenant.
    pub const DEFAULT_DAYS: u32 = 365;

    /// The prune cutoff this retention gives at `now`: entries recorded before it may go.
    /// `None` for `Forever`.
    pub fn cutoff(self, now: Timestamp) -> Option<Timestamp> {
        match self {
            Retention::Days(days) => Some(Timestamp(
                now.millis()
                    .saturating_sub(i64::from(days).saturating_mul(86_400_000)),
            )),
            Retention::Forever => None,
        }
    }

    /// Refuses a retention below [`Retention::MIN_DAYS`], naming the floor, before anything
    /// is written: a typo would otherwise let the next prune destroy most of the log.
    pub fn check(self) -> Result<Retention, String> {
        match self {
            Retention::Days(days) if days < Retention::MIN_DAYS => Err(format!(
                "retention of {days} days is below the minimum of {} days",
                Retention::MIN_DAYS
            )),
            ok => Ok(ok),
        }
    }

    /// A retention as read back from storage (`None` = forever). One below the floor was not
    /// set through the store (which refuses it), so it is read as the floor: a value edited in
    /// the database must not let the next prune remove entries younger than
    /// [`Retention::MIN_DAYS`].
    pub fn from_stored(days: Option<i64>) -> Retention {
        match days {
            Some(d) => Retention::Days(
                u32::try_from(d.max(i64::from(Retention::MIN_DAYS))).unwrap_or(u32::MAX),
            ),
            None => Retention::Forever,
        }
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention::Days(Retention::DEFAULT_DAYS)
    }
}

/// The origin of a tenant's log (`sealtrail/<installation>/<tenant>`): unique per installation
/// and tenant, so envelopes and checkpoints of one log can never be presented as another's.
/// Fixed when the tenant is created.
pub fn log_origin(installation: &str, tenant_name: &str) -> String {
    format!("sealtrail/{installation}/{tenant_name}")
}

/// Why a change to a user was refused when it would leave the tenant without an active owner
/// (a role change, a deactivation): one wording for every backend and interface.
pub const LAST_OWNER_REFUSAL: &str =
    "this is the tenant's last active owner: make someone else an owner first";

/// True when a change that made a user stop being an active owner (`was_active_owner`) left
/// `active_owners_after` active owners: none means the tenant could no longer be managed, so
/// the change must be undone.
pub fn loses_last_owner(was_active_owner: bool, active_owners_after: i64) -> bool {
    was_active_owner && active_owners_after <= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retention_floor_holds_when_set_and_when_read_back() {
        assert!(Retention::Days(29).check().is_err());
        assert_eq!(Retention::Days(30).check(), Ok(Retention::Days(30)));
        assert!(Retention::Forever.check().is_ok());
        assert_eq!(Retention::from_stored(Some(3)), Retention::Days(30));
        assert_eq!(Retention::from_stored(Some(400)), Retention::Days(400));
        assert_eq!(Retention::from_stored(None), Retention::Forever);
        assert_eq!(
            Retention::Days(1).cutoff(Timestamp(86_400_000 * 2)),
            Some(Timestamp(86_400_000))
        );
    }

    #[test]
    fn only_a_change_that_leaves_no_active_owner_loses_the_last_one() {
        assert!(loses_last_owner(true, 0));
        assert!(!loses_last_owner(true, 1));
        assert!(!loses_last_owner(false, 0));
        assert_eq!(log_origin("i1", "acme"), "sealtrail/i1/acme");
    }
}

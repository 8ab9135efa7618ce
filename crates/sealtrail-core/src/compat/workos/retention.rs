//! WorkOS's organization retention (`GET`/`PUT /organizations/{id}/audit_logs_retention`) as
//! the tenant's retention: WorkOS's periods (`1_MONTH` … `11_MONTHS`, `1_YEAR` … `10_YEARS`,
//! or a number of days) read as days, and the answer `{"retention_period_in_days": N}` (`null`
//! for a tenant that keeps its log forever).

use super::{invalid, Invalid};
use crate::policy::Retention;
use serde_json::{json, Value};

/// The retention a `PUT` body asks for: `{"retention_period": "2_YEARS"}` (the Node SDK) or
/// `{"retention_period_in_days": 730}` (the Python SDK). Sealtrail's floor of 30 days then
/// applies as to every retention change.
pub fn requested(body: &Value) -> Result<Retention, Invalid> {
    let Value::Object(body) = body else {
        return Err(invalid(
            "",
            "the body must be an object with `retention_period`",
        ));
    };
    if let Some(key) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "retention_period" | "retention_period_in_days"))
    {
        return Err(invalid(format!("/{key}"), "unknown property"));
    }
    match (
        body.get("retention_period"),
        body.get("retention_period_in_days"),
    ) {
        (Some(Value::String(period)), None) => {
            period_days(period).map(Retention::Days).ok_or_else(|| {
                invalid(
                    "/retention_period",
                    "must be 1_MONTH to 11_MONTHS or 1_YEAR to 10_YEARS",
                )
            })
        }
        (None, Some(Value::Number(days))) => days
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .map(Retention::Days)
            .ok_or_else(|| {
                invalid(
                    "/retention_period_in_days",
                    "must be a whole number of days",
                )
            }),
        (None, Some(Value::Null)) => Ok(Retention::Forever),
        _ => Err(invalid(
            "",
            "give one of `retention_period` (such as \"1_YEAR\") or `retention_period_in_days`",
        )),
    }
}

/// Days of a WorkOS period: a month is 30 days, a year 365, as WorkOS counts them.
fn period_days(period: &str) -> Option<u32> {
    let (count, unit) = period.split_once('_')?;
    let count: u32 = count.parse().ok()?;
    match unit {
        "MONTH" if count == 1 => Some(30),
        "MONTHS" if (2..=11).contains(&count) => Some(30 * count),
        "YEAR" if count == 1 => Some(365),
        "YEARS" if (2..=10).contains(&count) => Some(365 * count),
        _ => None,
    }
}

/// The answer both calls give.
pub fn answer(retention: Retention) -> Value {
    match retention {
        Retention::Days(days) => json!({ "retention_period_in_days": days }),
        Retention::Forever => json!({ "retention_period_in_days": null }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workos_periods_read_as_days() {
        for (period, days) in [
            ("1_MONTH", 30),
            ("11_MONTHS", 330),
            ("1_YEAR", 365),
            ("10_YEARS", 3650),
        ] {
            assert_eq!(
                requested(&json!({ "retention_period": period })),
                Ok(Retention::Days(days))
            );
        }
        assert_eq!(
            requested(&json!({"retention_period_in_days": 90})),
            Ok(Retention::Days(90))
        );
        assert_eq!(
            requested(&json!({"retention_period_in_days": null})),
            Ok(Retention::Forever)
        );
        for bad in [
            json!({"retention_period": "12_MONTHS"}),
            json!({"retention_period": "0_YEARS"}),
            json!({"retention_period": "1_WEEK"}),
            json!({"retention_period_in_days": -1}),
            json!({}),
            json!({"retention_period": "1_YEAR", "retention_period_in_days": 365}),
            json!({"other": 1}),
        ] {
            assert!(requested(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            answer(Retention::Days(30)),
            json!({"retention_period_in_days": 30})
        );
        assert_eq!(
            answer(Retention::Forever),
            json!({"retention_period_in_days": null})
        );
    }
}

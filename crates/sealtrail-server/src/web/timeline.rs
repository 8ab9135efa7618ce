//! The timeline above the audit table as the page draws it: one SVG bar per hour, day, week,
//! month or year, stacked by outcome (failures and denials on top, in their badge colours),
//! each bar a link that narrows the period to it; the page's script adds dragging across bars.
//! Geometry and labels are computed here; the template only places them, escaped.

use sealtrail_core::entry::Outcome;
use sealtrail_core::timeline::{Bar, BarWidth, TallyUnit, Timeline};
use sealtrail_core::Timestamp;

/// Height of the drawing area, in SVG units; bars are [`BAR_STEP`] wide.
const HEIGHT: f64 = 60.0;
/// Horizontal room per bar, in SVG units (the bar itself is a little narrower).
const BAR_STEP: f64 = 10.0;
/// The shortest visible bar for a non-zero count, so one failure among thousands still shows.
const MIN_HEIGHT: f64 = 1.5;

/// The stacking order from the baseline up, with each layer's CSS class and name.
const LAYERS: [(&str, &str, &[Outcome]); 4] = [
    (
        "tl-ok",
        "succeeded",
        &[Outcome::Success, Outcome::Approved, Outcome::Allowed],
    ),
    ("tl-warn", "warnings", &[Outcome::Warning]),
    ("tl-fail", "failed", &[Outcome::Failure]),
    ("tl-deny", "denied", &[Outcome::Denied]),
];

/// One coloured part of a bar.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Top edge.
    pub y: String,
    /// Height.
    pub h: String,
    /// CSS class (its colour).
    pub class: &'static str,
}

/// One bar as drawn.
#[derive(Debug, Clone)]
pub struct BarView {
    /// Left edge.
    pub x: String,
    /// Drawn width.
    pub w: String,
    /// The page narrowed to this bar's period (current filters kept).
    pub href: String,
    /// `from` of that period, for the script's drag selection.
    pub from: String,
    /// `to` of that period.
    pub to: String,
    /// The tooltip and accessible name: period and counts in words.
    pub title: String,
    /// Stacked parts, baseline first; empty for a bar with no entries.
    pub segments: Vec<Segment>,
}

/// The chart as the template draws it.
#[derive(Debug, Clone, Default)]
pub struct TimelineView {
    /// SVG width in units (bars × step).
    pub width: String,
    /// Bars, oldest first.
    pub bars: Vec<BarView>,
    /// "Entries per day (UTC)".
    pub caption: String,
    /// The first bar's start, the middle's and the last's end, as axis labels.
    pub ticks: Vec<String>,
    /// The current filters without a period, for the script to add a dragged one to.
    pub base_query: String,
}

impl TimelineView {
    /// True when there is nothing to draw (no period and no entries).
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }

    /// Draws `timeline`; `base_query` is the page's query string without period or cursor.
    pub fn new(timeline: &Timeline, base_query: &str) -> TimelineView {
        let peak = timeline
            .bars
            .iter()
            .map(Bar::total)
            .max()
            .unwrap_or(0)
            .max(1);
        let bars: Vec<BarView> = timeline
            .bars
            .iter()
            .enumerate()
            .map(|(i, bar)| draw(i, bar, peak, timeline.width, base_query))
            .collect();
        let ticks = match timeline.bars.as_slice() {
            [] => Vec::new(),
            [only] => vec![label(only.start, timeline.width)],
            all => vec![
                label(all[0].start, timeline.width),
                label(all[all.len() / 2].start, timeline.width),
                label(all[all.len() - 1].start, timeline.width),
            ],
        };
        TimelineView {
            width: format!("{}", bars.len() as f64 * BAR_STEP),
            bars,
            caption: format!("Entries per {} (UTC)", unit_name(timeline.width)),
            ticks,
            base_query: base_query.to_string(),
        }
    }
}

fn unit_name(width: BarWidth) -> &'static str {
    match width {
        BarWidth::Hour => "hour",
        BarWidth::Day => "day",
        BarWidth::Week => "week",
        BarWidth::Month => "month",
        BarWidth::Year => "year",
    }
}

fn draw(i: usize, bar: &Bar, peak: u64, width: BarWidth, base_query: &str) -> BarView {
    let mut top = HEIGHT;
    let mut segments = Vec::new();
    let mut words = Vec::new();
    for (class, name, outcomes) in LAYERS {
        let n: u64 = outcomes.iter().map(|o| bar.count(*o)).sum();
        if n == 0 {
            continue;
        }
        let h = (n as f64 / peak as f64 * (HEIGHT - 4.0)).max(MIN_HEIGHT);
        top -= h;
        segments.push(Segment {
            y: format!("{top:.2}"),
            h: format!("{h:.2}"),
            class,
        });
        words.push(format!("{n} {name}"));
    }
    let (from, to) = period(bar);
    let total = bar.total();
    let counted = match total {
        0 => "no entries".to_string(),
        1 => "1 entry".to_string(),
        n => format!("{n} entries"),
    };
    // The outcomes in words, unless every entry succeeded.
    let detail = match words.as_slice() {
        [] => String::new(),
        [only] if only.ends_with("succeeded") => String::new(),
        _ => format!(" ({})", words.join(", ")),
    };
    let mut query = form_urlencoded::Serializer::new(base_query.to_string());
    query.append_pair("from", &from).append_pair("to", &to);
    BarView {
        x: format!("{:.2}", i as f64 * BAR_STEP + 1.0),
        w: format!("{:.2}", BAR_STEP - 2.0),
        href: format!("/audit?{}", query.finish()),
        title: format!("{}: {counted}{detail}", span_text(bar, width)),
        from,
        to,
        segments,
    }
}

/// The bar's period as `from`/`to` values: whole days as dates (`to` inclusive, as the date
/// fields take them), anything else as exact times (`to` exclusive).
fn period(bar: &Bar) -> (String, String) {
    let day = TallyUnit::Day.millis();
    let (start, end) = (bar.start.millis(), bar.end.millis());
    if start % day == 0 && end % day == 0 {
        (date(bar.start), date(Timestamp(end - day)))
    } else {
        (bar.start.to_rfc3339(), bar.end.to_rfc3339())
    }
}

fn date(at: Timestamp) -> String {
    at.to_rfc3339()[..10].to_string()
}

/// "2026-12-04 10:00–11:00", "2026-12-04", "2026-11-30 to 2026-12-06", "2026-11", "2026".
fn span_text(bar: &Bar, width: BarWidth) -> String {
    let start = bar.start.to_rfc3339();
    let last = Timestamp(bar.end.millis() - 1).to_rfc3339();
    match width {
        BarWidth::Hour => format!(
            "{} {}–{} UTC",
            &start[..10],
            &start[11..16],
            &bar.end.to_rfc3339()[11..16]
        ),
        BarWidth::Day if bar.start.millis() % TallyUnit::Day.millis() == 0 => {
            start[..10].to_string()
        }
        BarWidth::Day | BarWidth::Week => format!("{} to {}", &start[..10], &last[..10]),
        BarWidth::Month => start[..7].to_string(),
        BarWidth::Year => start[..4].to_string(),
    }
}

/// An axis label for a bar starting at `at`.
fn label(at: Timestamp, width: BarWidth) -> String {
    let text = at.to_rfc3339();
    match width {
        BarWidth::Hour => format!("{} {}", &text[5..10], &text[11..16]),
        BarWidth::Day | BarWidth::Week => text[..10].to_string(),
        BarWidth::Month => text[..7].to_string(),
        BarWidth::Year => text[..4].to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn bar(start: &str, end: &str, counts: [u64; 6]) -> Bar {
        Bar {
            start: at(start),
            end: at(end),
            counts,
        }
    }

    #[test]
    fn failures_and_denials_stack_on_top_in_their_colours() {
        let timeline = Timeline {
            width: BarWidth::Day,
            bars: vec![
                bar(
                    "2026-12-01T00:00:00Z",
                    "2026-12-02T00:00:00Z",
                    [90, 6, 4, 0, 0, 0],
                ),
                bar("2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z", [0; 6]),
                bar(
                    "2026-12-03T00:00:00Z",
                    "2026-12-03T10:30:00Z",
                    [10, 0, 0, 0, 0, 0],
                ),
            ],
        };
        let view = TimelineView::new(&timeline, "actor=u1");
        assert_eq!(view.width, "30");
        assert_eq!(view.caption, "Entries per day (UTC)");
        let first = &view.bars[0];
        let classes: Vec<&str> = first.segments.iter().map(|s| s.class).collect();
        assert_eq!(classes, ["tl-ok", "tl-fail", "tl-deny"]);
        assert_eq!(
            first.title,
            "2026-12-01: 100 entries (90 succeeded, 6 failed, 4 denied)"
        );
        assert_eq!(first.href, "/audit?actor=u1&from=2026-12-01&to=2026-12-01");
        assert!(view.bars[1].segments.is_empty());
        assert_eq!(view.bars[1].title, "2026-12-02: no entries");
        // A part-day (the period ends mid-day) narrows to exact times.
        let last = &view.bars[2];
        assert_eq!(
            (last.from.as_str(), last.to.as_str()),
            ("2026-12-03T00:00:00.000Z", "2026-12-03T10:30:00.000Z")
        );
        assert_eq!(last.title, "2026-12-03: 10 entries");
        assert_eq!(view.ticks, ["2026-12-01", "2026-12-02", "2026-12-03"]);
    }

    #[test]
    fn one_failure_among_thousands_is_still_visible() {
        let timeline = Timeline {
            width: BarWidth::Hour,
            bars: vec![bar(
                "2026-12-04T10:00:00Z",
                "2026-12-04T11:00:00Z",
                [5000, 1, 0, 0, 0, 0],
            )],
        };
        let view = TimelineView::new(&timeline, "");
        let fail = &view.bars[0].segments[1];
        assert_eq!(fail.class, "tl-fail");
        assert_eq!(fail.h, "1.50");
        assert_eq!(
            view.bars[0].title,
            "2026-12-04 10:00–11:00 UTC: 5001 entries (5000 succeeded, 1 failed)"
        );
        assert_eq!(
            view.bars[0].href,
            "/audit?from=2026-12-04T10%3A00%3A00.000Z&to=2026-12-04T11%3A00%3A00.000Z"
        );
    }
}

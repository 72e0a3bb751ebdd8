//! Parts of a run's output that are stored compactly: the run's dates (a range of the data's
//! calendar, shared, not copied) and its target allocations (one flat table, not a vector
//! per rebalance day).

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

use chrono::NaiveDate;

/// The dates of a run: a range of the data's calendar, shared with it. Reads as a
/// `&[NaiveDate]`.
#[derive(Clone, Default)]
pub struct DateSpan {
    all: Arc<[NaiveDate]>,
    range: Range<usize>,
}

impl DateSpan {
    /// `all[range]`; the range is clamped to `all`.
    pub fn new(all: Arc<[NaiveDate]>, range: Range<usize>) -> DateSpan {
        let end = range.end.min(all.len());
        let start = range.start.min(end);
        DateSpan {
            all,
            range: start..end,
        }
    }
}

impl Deref for DateSpan {
    type Target = [NaiveDate];

    fn deref(&self) -> &[NaiveDate] {
        &self.all[self.range.clone()]
    }
}

impl From<Vec<NaiveDate>> for DateSpan {
    fn from(dates: Vec<NaiveDate>) -> DateSpan {
        let range = 0..dates.len();
        DateSpan {
            all: dates.into(),
            range,
        }
    }
}

impl fmt::Debug for DateSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl PartialEq for DateSpan {
    fn eq(&self, other: &DateSpan) -> bool {
        **self == **other
    }
}

impl PartialEq<Vec<NaiveDate>> for DateSpan {
    fn eq(&self, other: &Vec<NaiveDate>) -> bool {
        **self == **other
    }
}

/// The target weights a strategy chose on each of its rebalance days (QSTrader's target
/// allocations, before forward filling): a row of one weight per symbol, in
/// `RunOutput::symbols` order, per day.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Allocations {
    dates: Vec<NaiveDate>,
    /// The rows one after another.
    weights: Vec<f64>,
}

/// One row of [`Allocations`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Allocation<'a> {
    pub date: NaiveDate,
    /// One weight per symbol.
    pub weights: &'a [f64],
}

impl Allocations {
    /// Appends the row of `date`. Every row has the same width (the number of symbols).
    pub fn push(&mut self, date: NaiveDate, weights: &[f64]) {
        debug_assert!(self.dates.is_empty() || weights.len() == self.width());
        self.dates.push(date);
        self.weights.extend_from_slice(weights);
    }

    pub fn len(&self) -> usize {
        self.dates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    /// The row `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<Allocation<'_>> {
        let width = self.width();
        Some(Allocation {
            date: *self.dates.get(i)?,
            weights: self.weights.get(i * width..(i + 1) * width)?,
        })
    }

    /// The rows in order.
    pub fn iter(&self) -> impl Iterator<Item = Allocation<'_>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    fn width(&self) -> usize {
        self.weights
            .len()
            .checked_div(self.dates.len())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, day).expect("valid date")
    }

    #[test]
    fn allocations_are_rows_of_the_same_width() {
        let mut a = Allocations::default();
        assert!(a.is_empty());
        assert_eq!(a.get(0), None);
        a.push(d(2), &[0.6, 0.4]);
        a.push(d(3), &[1.0, 0.0]);
        assert_eq!(a.len(), 2);
        assert_eq!(
            a.get(1),
            Some(Allocation {
                date: d(3),
                weights: &[1.0, 0.0]
            })
        );
        let dates: Vec<NaiveDate> = a.iter().map(|r| r.date).collect();
        assert_eq!(dates, [d(2), d(3)]);
        assert_eq!(a.get(2), None);
    }

    #[test]
    fn a_span_reads_as_its_range_of_the_calendar() {
        let all: Arc<[NaiveDate]> = (1..=5).map(d).collect();
        let span = DateSpan::new(all, 1..3);
        assert_eq!(&*span, &[d(2), d(3)]);
        assert_eq!(span, vec![d(2), d(3)]);
        assert_eq!(span[0], d(2));
        assert_eq!(format!("{span:?}"), format!("{:?}", [d(2), d(3)]));
        let clamped = DateSpan::new((1..=2).map(d).collect(), 1..9);
        assert_eq!(clamped.len(), 1);
        assert_eq!(DateSpan::from(vec![d(4)]), vec![d(4)]);
    }
}

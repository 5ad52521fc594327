//! The byte stream under the XML parser, with the size limits enforced where the bytes
//! come in.
//!
//! quick-xml buffers each event (a tag, a text run, a comment) completely before handing
//! it over, so a 2 GB text node would be 2 GB of memory before the scanner could object.
//! [`Input`] therefore refuses to hand out more than `max_bytes` in total and more than
//! about `max_text_len` since the last event boundary, which the scanner marks after
//! every event. When reading from a stream it also remembers where recent lines start,
//! so that errors can name a line even though the bytes are gone.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use crate::error::Position;

/// Why [`Input`] stopped handing out bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trip {
    /// More than `max_bytes` in total.
    TooLarge,
    /// One event ran longer than the per-event budget.
    EventTooLong,
}

/// A [`BufRead`] that enforces byte budgets and tracks line starts.
pub(crate) struct Input<R> {
    inner: R,
    consumed: u64,
    boundary: u64,
    max_bytes: u64,
    max_event: u64,
    tripped: Option<Trip>,
    lines: Option<LineIndex>,
}

impl<R: BufRead> Input<R> {
    /// `track_lines` is only needed when the input cannot be re-read to locate an error.
    pub fn new(inner: R, max_bytes: u64, max_event: u64, track_lines: bool) -> Self {
        Self {
            inner,
            consumed: 0,
            boundary: 0,
            max_bytes,
            max_event,
            tripped: None,
            lines: track_lines.then(LineIndex::default),
        }
    }

    /// Marks the end of an event: the per-event budget starts again from here.
    pub fn mark_boundary(&mut self) {
        self.boundary = self.consumed;
    }

    /// Which budget ran out, if any.
    pub fn tripped(&self) -> Option<Trip> {
        self.tripped
    }

    /// Total bytes handed to the parser so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The position of a byte offset already read (stream mode).
    pub fn locate(&self, offset: u64) -> Position {
        match &self.lines {
            Some(lines) => lines.locate(offset),
            None => Position::offset_only(offset),
        }
    }

    fn budget(&self) -> (u64, Trip) {
        let total = self.max_bytes.saturating_sub(self.consumed);
        let event = (self.boundary.saturating_add(self.max_event)).saturating_sub(self.consumed);
        if total <= event {
            (total, Trip::TooLarge)
        } else {
            (event, Trip::EventTooLong)
        }
    }
}

impl<R: BufRead> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let (budget, trip) = self.budget();
        if budget == 0 {
            // Exactly at the limit is fine as long as nothing follows.
            if self.inner.fill_buf()?.is_empty() {
                return Ok(&[]);
            }
            self.tripped = Some(trip);
            return Err(io::Error::other("input limit reached"));
        }
        let buf = self.inner.fill_buf()?;
        let n = usize::try_from(budget).map_or(buf.len(), |b| b.min(buf.len()));
        Ok(&buf[..n])
    }

    fn consume(&mut self, amt: usize) {
        if let Some(lines) = &mut self.lines {
            // Peeking again does no I/O: the bytes being consumed are still buffered.
            if let Ok(buf) = self.inner.fill_buf() {
                lines.record(self.consumed, &buf[..amt.min(buf.len())]);
            }
        }
        self.inner.consume(amt);
        self.consumed += amt as u64;
    }
}

impl<R: BufRead> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Offsets of the most recent line breaks, enough to locate errors near where reading
/// stopped without keeping the whole document.
#[derive(Default)]
struct LineIndex {
    recent: VecDeque<u64>,
    total: u64,
}

impl LineIndex {
    const KEEP: usize = 16 * 1024;

    fn record(&mut self, base: u64, bytes: &[u8]) {
        for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'\n') {
            if self.recent.len() == Self::KEEP {
                self.recent.pop_front();
            }
            self.recent.push_back(base + i as u64);
            self.total += 1;
        }
    }

    fn locate(&self, offset: u64) -> Position {
        let before = self.recent.partition_point(|&nl| nl < offset);
        let forgotten = self.total - self.recent.len() as u64;
        if before == 0 && forgotten > 0 {
            // The line break before `offset` is no longer known.
            return Position::offset_only(offset);
        }
        let line_start = match before {
            0 => 0,
            n => self.recent[n - 1] + 1,
        };
        Position {
            line: forgotten + before as u64 + 1,
            column: offset - line_start + 1,
            offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_budget_trips_only_when_more_follows() {
        let mut exact = Input::new(&b"12345"[..], 5, 100, false);
        let mut out = Vec::new();
        exact.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"12345");
        assert_eq!(exact.tripped(), None);

        let mut over = Input::new(&b"123456"[..], 5, 100, false);
        assert!(over.read_to_end(&mut Vec::new()).is_err());
        assert_eq!(over.tripped(), Some(Trip::TooLarge));
    }

    #[test]
    fn event_budget_restarts_at_boundaries() {
        let mut input = Input::new(&b"aaaabbbbcccc"[..], 100, 4, false);
        let mut chunk = [0u8; 4];
        input.read_exact(&mut chunk).unwrap();
        input.mark_boundary();
        input.read_exact(&mut chunk).unwrap();
        assert!(input.read_exact(&mut chunk).is_err());
        assert_eq!(input.tripped(), Some(Trip::EventTooLong));
    }

    #[test]
    fn stream_positions_match_slice_positions() {
        let doc = b"<a>\n<b>\n\n  <c/>\n</b></a>";
        let mut input = Input::new(&doc[..], 100, 100, true);
        input.read_to_end(&mut Vec::new()).unwrap();
        for offset in 0..doc.len() as u64 {
            assert_eq!(input.locate(offset), Position::in_slice(doc, offset));
        }
    }
}

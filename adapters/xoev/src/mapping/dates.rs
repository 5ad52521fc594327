//! Dates and times for the `date` and `datetime` transforms.
//!
//! XÖV messages carry `xs:date` (`2016-08-01`) and `xs:dateTime`
//! (`2019-10-24T00:00:00+02:00`), and now and then a date in some other shape
//! (XGewerbeanzeige writes birth dates as `12101965`). Fachverfahren want ISO dates or the
//! German `01.08.2016`. Formats are written with the familiar `strftime` codes, a small
//! set that covers this: `%Y %y %m %-m %d %-d %B %H %M %S %f %z %:z %%`, plus the names
//! `xs:date` and `xs:dateTime` for the XML Schema forms.
//!
//! Reading and writing the formats is our own code rather than a date library's parser: the
//! formats are checked when the mapping is loaded, reading is strict (the whole value must
//! match), month names are German, fractions are kept digit for digit, and nothing here can
//! panic or print a value. The calendar itself (is February 30th a date, what is this instant
//! in UTC) is the `time` crate's.

use std::fmt::Write as _;

/// A date format, for reading (`from`) or writing (`to`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Format {
    /// `YYYY-MM-DD`, optionally followed by a time zone when reading.
    XsDate,
    /// `YYYY-MM-DDThh:mm:ss`, optional fraction and time zone.
    XsDateTime,
    Pattern(Vec<Piece>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Literal(String),
    Year,
    YearShort,
    Month,
    MonthUnpadded,
    MonthName,
    Day,
    DayUnpadded,
    Hour,
    Minute,
    Second,
    Fraction,
    Offset { colon: bool },
}

/// What a `to` format needs from the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Needs {
    pub time: bool,
    pub offset: bool,
}

/// A date read from a message, with time and time zone where it had them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Moment {
    year: i32,
    month: u32,
    day: u32,
    time: Option<Time>,
    /// Offset from UTC in minutes.
    offset: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Time {
    hour: u32,
    minute: u32,
    second: u32,
    /// Fractional-second digits as written (may be empty).
    fraction: String,
}

/// Why a value could not be written in the requested format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteError {
    /// The format (or `utc = true`) needs a time zone, the value has none.
    NoTimezone,
    /// In UTC the value falls outside the years 1 to 9999.
    OutOfRange,
}

const MONTHS_DE: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];

impl Format {
    /// Parses a format as written in a mapping file. `reading` is true for `from`.
    pub(crate) fn parse(text: &str, reading: bool) -> Result<Format, String> {
        match text {
            "xs:date" => return Ok(Format::XsDate),
            "xs:dateTime" => return Ok(Format::XsDateTime),
            _ => {}
        }
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            let code: String = match chars.next() {
                Some(m @ ('-' | ':')) => match chars.next() {
                    Some(c) => [m, c].iter().collect(),
                    None => return Err(format!("incomplete format code `%{m}` at the end")),
                },
                Some(c) => c.to_string(),
                None => {
                    return Err("a single `%` at the end (write `%%` for a percent sign)".into());
                }
            };
            let piece = match code.as_str() {
                "%" => {
                    literal.push('%');
                    continue;
                }
                "Y" => Piece::Year,
                "y" => Piece::YearShort,
                "m" => Piece::Month,
                "-m" => Piece::MonthUnpadded,
                "B" => Piece::MonthName,
                "d" => Piece::Day,
                "-d" | "e" => Piece::DayUnpadded,
                "H" => Piece::Hour,
                "M" => Piece::Minute,
                "S" => Piece::Second,
                "f" => Piece::Fraction,
                "z" => Piece::Offset { colon: false },
                ":z" => Piece::Offset { colon: true },
                other => {
                    return Err(format!(
                        "unknown format code `%{other}` (known: %Y %y %m %-m %B %d %-d %H %M %S %f %z %:z %%)"
                    ));
                }
            };
            if reading && matches!(piece, Piece::YearShort | Piece::MonthName) {
                return Err(format!(
                    "`%{code}` can only be written (`to`), not read (`from`): it is ambiguous"
                ));
            }
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(piece);
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        if reading {
            let has = |p: &Piece| {
                pieces
                    .iter()
                    .any(|q| std::mem::discriminant(q) == std::mem::discriminant(p))
            };
            let year = has(&Piece::Year);
            let month = has(&Piece::Month) || has(&Piece::MonthUnpadded);
            let day = has(&Piece::Day) || has(&Piece::DayUnpadded);
            if !(year && month && day) {
                return Err("a `from` format must contain %Y, %m and %d".into());
            }
        }
        Ok(Format::Pattern(pieces))
    }

    /// What reading with this format can provide.
    pub(crate) fn provides(&self) -> Needs {
        match self {
            Format::XsDate => Needs {
                time: false,
                offset: true,
            },
            Format::XsDateTime => Needs {
                time: true,
                offset: true,
            },
            Format::Pattern(pieces) => Needs {
                time: pieces
                    .iter()
                    .any(|p| matches!(p, Piece::Hour | Piece::Minute | Piece::Second)),
                offset: pieces.iter().any(|p| matches!(p, Piece::Offset { .. })),
            },
        }
    }

    /// What writing with this format needs.
    pub(crate) fn needs(&self) -> Needs {
        match self {
            Format::XsDate => Needs {
                time: false,
                offset: false,
            },
            Format::XsDateTime => Needs {
                time: true,
                offset: false,
            },
            Format::Pattern(pieces) => Needs {
                time: pieces.iter().any(|p| {
                    matches!(
                        p,
                        Piece::Hour | Piece::Minute | Piece::Second | Piece::Fraction
                    )
                }),
                offset: pieces.iter().any(|p| matches!(p, Piece::Offset { .. })),
            },
        }
    }

    /// Reads `text`; `None` if it does not match the format exactly or is no real date.
    pub(crate) fn read(&self, text: &str) -> Option<Moment> {
        match self {
            Format::XsDate => read_xs(text, false),
            Format::XsDateTime => read_xs(text, true),
            Format::Pattern(pieces) => read_pattern(pieces, text),
        }
    }

    /// Writes `moment`.
    pub(crate) fn write(&self, moment: &Moment) -> Result<String, WriteError> {
        let mut out = String::new();
        match self {
            Format::XsDate => write_date(&mut out, moment),
            Format::XsDateTime => {
                write_date(&mut out, moment);
                let time = moment.time.clone().unwrap_or_default();
                let _ = write!(
                    out,
                    "T{:02}:{:02}:{:02}",
                    time.hour, time.minute, time.second
                );
                if !time.fraction.is_empty() {
                    out.push('.');
                    out.push_str(&time.fraction);
                }
                if let Some(offset) = moment.offset {
                    write_offset(&mut out, offset, true);
                }
            }
            Format::Pattern(pieces) => {
                let time = moment.time.clone().unwrap_or_default();
                for piece in pieces {
                    let _ = match piece {
                        Piece::Literal(text) => write!(out, "{text}"),
                        Piece::Year => write!(out, "{:04}", moment.year),
                        Piece::YearShort => write!(out, "{:02}", moment.year.rem_euclid(100)),
                        Piece::Month => write!(out, "{:02}", moment.month),
                        Piece::MonthUnpadded => write!(out, "{}", moment.month),
                        Piece::MonthName => {
                            let index = (moment.month as usize).wrapping_sub(1);
                            write!(out, "{}", MONTHS_DE.get(index).unwrap_or(&""))
                        }
                        Piece::Day => write!(out, "{:02}", moment.day),
                        Piece::DayUnpadded => write!(out, "{}", moment.day),
                        Piece::Hour => write!(out, "{:02}", time.hour),
                        Piece::Minute => write!(out, "{:02}", time.minute),
                        Piece::Second => write!(out, "{:02}", time.second),
                        Piece::Fraction if time.fraction.is_empty() => write!(out, "0"),
                        Piece::Fraction => write!(out, "{}", time.fraction),
                        Piece::Offset { colon } => {
                            let offset = moment.offset.ok_or(WriteError::NoTimezone)?;
                            write_offset(&mut out, offset, *colon);
                            Ok(())
                        }
                    };
                }
            }
        }
        Ok(out)
    }
}

impl Moment {
    /// The same instant in UTC. Needs a time zone; a value without time is taken at
    /// midnight.
    pub(crate) fn to_utc(&self) -> Result<Moment, WriteError> {
        let offset = self.offset.ok_or(WriteError::NoTimezone)?;
        let time = self.time.clone().unwrap_or_default();
        let local = calendar_date(self.year, self.month, self.day)
            .and_then(|date| {
                let clock = time::Time::from_hms(time.hour as u8, time.minute as u8, 0).ok()?;
                let offset = time::UtcOffset::from_whole_seconds(offset * 60).ok()?;
                Some(time::PrimitiveDateTime::new(date, clock).assume_offset(offset))
            })
            .ok_or(WriteError::OutOfRange)?;
        let utc = local
            .checked_to_offset(time::UtcOffset::UTC)
            .filter(|utc| (1..=9999).contains(&utc.year()))
            .ok_or(WriteError::OutOfRange)?;
        Ok(Moment {
            year: utc.year(),
            month: u32::from(u8::from(utc.month())),
            day: u32::from(utc.day()),
            time: Some(Time {
                hour: u32::from(utc.hour()),
                minute: u32::from(utc.minute()),
                ..time
            }),
            offset: Some(0),
        })
    }
}

fn write_date(out: &mut String, moment: &Moment) {
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}",
        moment.year, moment.month, moment.day
    );
}

fn write_offset(out: &mut String, offset: i32, colon: bool) {
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.unsigned_abs();
    let separator = if colon { ":" } else { "" };
    let _ = write!(out, "{sign}{:02}{separator}{:02}", offset / 60, offset % 60);
}

/// A cursor over the value being read.
struct Reader<'a> {
    rest: &'a str,
}

impl Reader<'_> {
    /// Between `min` and `max` ASCII digits (greedy).
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let len = self
            .rest
            .bytes()
            .take(max)
            .take_while(u8::is_ascii_digit)
            .count();
        if len < min {
            return None;
        }
        let (digits, rest) = self.rest.split_at(len);
        self.rest = rest;
        digits.parse().ok()
    }

    fn literal(&mut self, text: &str) -> Option<()> {
        self.rest = self.rest.strip_prefix(text)?;
        Some(())
    }

    fn fraction(&mut self) -> Option<String> {
        let len = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 || len > 12 {
            return None;
        }
        let (digits, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(digits.to_owned())
    }

    /// `Z`, `+hh:mm`, `-hh:mm` or (with `colon_optional`) `+hhmm`.
    fn offset(&mut self, colon_optional: bool) -> Option<i32> {
        if let Some(rest) = self.rest.strip_prefix('Z') {
            self.rest = rest;
            return Some(0);
        }
        let sign = match self.rest.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.rest = &self.rest[1..];
        let hours = self.digits(2, 2)?;
        if self.literal(":").is_none() && !colon_optional {
            return None;
        }
        let minutes = self.digits(2, 2)?;
        if hours > 14 || minutes > 59 {
            return None;
        }
        Some(sign * (hours * 60 + minutes) as i32)
    }
}

fn read_xs(text: &str, with_time: bool) -> Option<Moment> {
    let mut r = Reader { rest: text };
    let year = r.digits(4, 4)?;
    r.literal("-")?;
    let month = r.digits(2, 2)?;
    r.literal("-")?;
    let day = r.digits(2, 2)?;
    let time = if with_time {
        r.literal("T")?;
        let hour = r.digits(2, 2)?;
        r.literal(":")?;
        let minute = r.digits(2, 2)?;
        r.literal(":")?;
        let second = r.digits(2, 2)?;
        let fraction = if r.literal(".").is_some() {
            r.fraction()?
        } else {
            String::new()
        };
        Some(Time {
            hour,
            minute,
            second,
            fraction,
        })
    } else {
        None
    };
    let offset = if r.rest.is_empty() {
        None
    } else {
        Some(r.offset(false)?)
    };
    finish(r, year, month, day, time, offset)
}

fn read_pattern(pieces: &[Piece], text: &str) -> Option<Moment> {
    let mut r = Reader { rest: text };
    let (mut year, mut month, mut day) = (None, None, None);
    let mut time: Option<Time> = None;
    let mut offset = None;
    for piece in pieces {
        match piece {
            Piece::Literal(literal) => r.literal(literal)?,
            Piece::Year => year = Some(r.digits(4, 4)?),
            Piece::Month | Piece::MonthUnpadded => month = Some(r.digits(1, 2)?),
            Piece::Day | Piece::DayUnpadded => day = Some(r.digits(1, 2)?),
            Piece::Hour => time.get_or_insert_with(Time::default).hour = r.digits(1, 2)?,
            Piece::Minute => time.get_or_insert_with(Time::default).minute = r.digits(1, 2)?,
            Piece::Second => time.get_or_insert_with(Time::default).second = r.digits(1, 2)?,
            Piece::Fraction => time.get_or_insert_with(Time::default).fraction = r.fraction()?,
            Piece::Offset { .. } => offset = Some(r.offset(true)?),
            // Refused for reading by `Format::parse`.
            Piece::YearShort | Piece::MonthName => return None,
        }
    }
    finish(r, year?, month?, day?, time, offset)
}

fn finish(
    r: Reader<'_>,
    year: u32,
    month: u32,
    day: u32,
    time: Option<Time>,
    offset: Option<i32>,
) -> Option<Moment> {
    if !r.rest.is_empty() || year == 0 {
        return None;
    }
    let year = i32::try_from(year).ok()?;
    calendar_date(year, month, day)?;
    if let Some(t) = &time
        && (t.hour > 23 || t.minute > 59 || t.second > 59)
    {
        return None;
    }
    Some(Moment {
        year,
        month,
        day,
        time,
        offset,
    })
}

/// The date, if it is one in the Gregorian calendar.
fn calendar_date(year: i32, month: u32, day: u32) -> Option<time::Date> {
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(from: &str, to: &str, value: &str) -> Option<String> {
        let from = Format::parse(from, true).unwrap();
        let to = Format::parse(to, false).unwrap();
        from.read(value).map(|m| to.write(&m).unwrap())
    }

    #[test]
    fn reads_xml_schema_dates_and_writes_german_ones() {
        assert_eq!(
            convert("xs:date", "%d.%m.%Y", "2016-08-01").unwrap(),
            "01.08.2016"
        );
        assert_eq!(
            convert("xs:date", "%-d. %B %Y", "2016-03-01+02:00").unwrap(),
            "1. März 2016"
        );
        assert_eq!(
            convert("xs:date", "%d.%m.%y", "2016-08-01Z").unwrap(),
            "01.08.16"
        );
        assert_eq!(
            convert("%d%m%Y", "xs:date", "12101965").unwrap(),
            "1965-10-12"
        );
        assert_eq!(
            convert("%d.%m.%Y", "xs:date", "1.8.2016").unwrap(),
            "2016-08-01"
        );
        assert_eq!(
            convert("xs:dateTime", "%d.%m.%Y %H:%M", "2019-10-24T07:05:00+02:00").unwrap(),
            "24.10.2019 07:05"
        );
        assert_eq!(
            convert("xs:dateTime", "xs:dateTime", "2025-01-14T13:35:14.124Z").unwrap(),
            "2025-01-14T13:35:14.124+00:00"
        );
        assert_eq!(
            convert("xs:dateTime", "%Y%m%d%H%M%S%z", "2025-01-14T13:35:14-05:30").unwrap(),
            "20250114133514-0530"
        );
        assert_eq!(
            convert("xs:dateTime", "xs:date", "2025-01-14T13:35:14").unwrap(),
            "2025-01-14"
        );
    }

    #[test]
    fn reading_is_strict() {
        for bad in [
            "2016-02-30",
            "2015-02-29",
            "2016-13-01",
            "2016-00-10",
            "16-08-01",
            "2016-8-1",
            "2016-08-01 ",
            " 2016-08-01",
            "2016-08-01T10:00:00",
            "2016-08-01+2:00",
            "0000-01-01",
            "2016-08-01+15:00",
            "",
            "٢٠١٦-08-01",
        ] {
            assert_eq!(Format::XsDate.read(bad), None, "{bad:?}");
        }
        assert!(Format::XsDate.read("2016-02-29").is_some());
        assert!(Format::XsDate.read("2000-02-29").is_some());
        assert_eq!(Format::XsDate.read("1900-02-29"), None);
        for bad in [
            "2016-08-01",
            "2016-08-01T24:00:00",
            "2016-08-01T10:00",
            "2016-08-01T10:00:00.",
            "2016-08-01T10:00:00+0200",
        ] {
            assert_eq!(Format::XsDateTime.read(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn converts_to_utc_across_midnight_and_years() {
        let m = Format::XsDateTime
            .read("2020-01-01T00:30:00+02:00")
            .unwrap();
        assert_eq!(
            Format::XsDateTime.write(&m.to_utc().unwrap()).unwrap(),
            "2019-12-31T22:30:00+00:00"
        );
        let m = Format::XsDateTime
            .read("2020-02-28T23:00:00-02:00")
            .unwrap();
        assert_eq!(
            Format::XsDateTime.write(&m.to_utc().unwrap()).unwrap(),
            "2020-02-29T01:00:00+00:00"
        );
        let m = Format::XsDateTime.read("2020-02-28T23:00:00").unwrap();
        assert_eq!(m.to_utc(), Err(WriteError::NoTimezone));
    }

    #[test]
    fn utc_outside_the_years_1_to_9999_is_refused_not_wrapped() {
        let late = Format::XsDateTime
            .read("9999-12-31T23:30:00-01:00")
            .unwrap();
        assert_eq!(late.to_utc(), Err(WriteError::OutOfRange));
        let early = Format::XsDateTime
            .read("0001-01-01T00:30:00+01:00")
            .unwrap();
        assert_eq!(early.to_utc(), Err(WriteError::OutOfRange));
        let leap = Format::XsDateTime
            .read("2024-02-29T00:30:00+01:00")
            .unwrap();
        assert_eq!(
            Format::XsDateTime.write(&leap.to_utc().unwrap()).unwrap(),
            "2024-02-28T23:30:00+00:00"
        );
        assert_eq!(Format::XsDate.read("2023-02-29"), None);
        assert_eq!(Format::XsDate.read("2000-02-29").map(|_| ()), Some(()));
        assert_eq!(Format::XsDate.read("1900-02-29"), None);
    }

    #[test]
    fn formats_are_checked() {
        assert!(
            Format::parse("%Q", false)
                .unwrap_err()
                .contains("unknown format code `%Q`")
        );
        assert!(
            Format::parse("%d.%m.", true)
                .unwrap_err()
                .contains("must contain %Y")
        );
        assert!(
            Format::parse("%d.%m.%y", true)
                .unwrap_err()
                .contains("can only be written")
        );
        assert!(
            Format::parse("50%", false)
                .unwrap_err()
                .contains("single `%`")
        );
        assert!(Format::parse("%-", false).is_err());
        assert_eq!(
            Format::parse("%%%Y", false).unwrap().needs(),
            Needs {
                time: false,
                offset: false
            }
        );
        assert_eq!(
            Format::parse("%H:%M%z", false).unwrap().needs(),
            Needs {
                time: true,
                offset: true
            }
        );
    }

    #[test]
    fn missing_timezone_is_an_error_not_a_panic() {
        let m = Format::XsDateTime.read("2020-01-01T10:00:00").unwrap();
        assert_eq!(
            Format::parse("%H%z", false).unwrap().write(&m),
            Err(WriteError::NoTimezone)
        );
    }
}

//! popt's option scanner over one argv: clusters of short options, `=`
//! arguments, optional arguments, `--` and leftovers.

use std::borrow::Cow;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PoptError {
    NoArg,
    BadOpt,
    UnwantedArg,
}

impl PoptError {
    pub(super) fn text(self) -> &'static str {
        match self {
            PoptError::NoArg => "missing argument",
            PoptError::BadOpt => "unknown option",
            PoptError::UnwantedArg => "option does not take an argument",
        }
    }
}

/// popt's scanner over one argv (argv[0] included).
pub(super) struct Popt<'a, S> {
    argv: &'a [S],
    next: usize,
    /// (argv index, byte offset) of the rest of a short-option cluster.
    next_char: Option<(usize, usize)>,
    rest_leftover: bool,
    leftovers: Vec<&'a str>,
    next_leftover: usize,
}

/// An option's value (`val` of its table entry) and its argument.
pub(super) type PoptOpt<'a> = (i32, Option<Cow<'a, str>>);

/// Bytes cut out of an argument at an ASCII `=` or option letter: still
/// valid UTF-8 in practice, so borrowed.
pub(super) fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

impl<'a, S: AsRef<str>> Popt<'a, S> {
    pub(super) fn new(argv: &'a [S]) -> Self {
        Popt {
            argv,
            next: 1,
            next_char: None,
            rest_leftover: false,
            leftovers: Vec::new(),
            next_leftover: 0,
        }
    }

    pub(super) fn arg(&self, i: usize) -> &'a str {
        self.argv.get(i).map(S::as_ref).unwrap_or("")
    }

    /// `poptBadOption(con, POPT_BADOPTION_NOALIAS)`
    pub(super) fn bad_option(&self) -> &'a str {
        self.arg(self.next.saturating_sub(1))
    }

    pub(super) fn get_arg(&mut self) -> Option<&'a str> {
        let r = self.leftovers.get(self.next_leftover).copied();
        if r.is_some() {
            self.next_leftover += 1;
        }
        r
    }

    /// `poptGetNextOpt`: Ok(None) at the end.
    pub(super) fn next_opt(&mut self) -> Result<Option<PoptOpt<'a>>, PoptError> {
        let argc = self.argv.len();
        loop {
            if self.next_char.is_none() && self.next >= argc {
                return Ok(None);
            }
            let mut opt: Option<&(&str, u8, ArgKind, i32)> = None;
            let mut long_arg: Option<Cow<'a, str>> = None;
            if self.next_char.is_none() {
                let i = self.next;
                self.next += 1;
                let s = self.arg(i);
                let b = s.as_bytes();
                if self.rest_leftover || b.first() != Some(&b'-') || b.len() == 1 {
                    self.leftovers.push(s);
                    continue;
                }
                if b == b"--" {
                    self.rest_leftover = true;
                    continue;
                }
                let double = b.get(1) == Some(&b'-');
                let body = if double { &b[2..] } else { &b[1..] };
                let (name, la) = match body.iter().position(|&x| x == b'=') {
                    Some(p) => (&body[..p], Some(lossy(&body[p + 1..]))),
                    None => (body, None),
                };
                if double {
                    // popt matches long names exactly.
                    opt = OPTIONS
                        .iter()
                        .find(|o| !o.0.is_empty() && o.0.as_bytes() == name);
                    if opt.is_none() {
                        return Err(PoptError::BadOpt);
                    }
                    long_arg = la;
                } else {
                    // No option of ipvsadm's is a one-dash long option:
                    // scan the word as a cluster of short options.
                    self.next_char = Some((i, 1));
                }
            }
            if let Some((i, off)) = self.next_char.take() {
                let b = self.arg(i).as_bytes();
                let ch = b.get(off).copied().unwrap_or(0);
                opt = SHORT_OPTIONS
                    .get(usize::from(ch))
                    .and_then(|&k| OPTIONS.get(usize::from(k?)));
                if opt.is_none() {
                    return Err(PoptError::BadOpt);
                }
                if off + 1 < b.len() {
                    self.next_char = Some((i, off + 1));
                }
            }
            let Some(&(_, _, kind, val)) = opt else {
                return Err(PoptError::BadOpt);
            };
            if kind == ArgKind::None {
                let eq_follows = match self.next_char {
                    Some((i, off)) => self.arg(i).as_bytes().get(off) == Some(&b'='),
                    None => false,
                };
                if long_arg.is_some() || eq_follows {
                    return Err(PoptError::UnwantedArg);
                }
                return Ok(Some((val, None)));
            }
            let arg = if let Some(la) = long_arg {
                Some(la)
            } else if let Some((i, off)) = self.next_char.take() {
                let b = self.arg(i).as_bytes();
                let rest = b.get(off..).unwrap_or(&[]);
                let rest = rest.strip_prefix(b"=").unwrap_or(rest);
                Some(lossy(rest))
            } else if self.next >= argc {
                if kind != ArgKind::OptStr {
                    return Err(PoptError::NoArg);
                }
                None
            } else if kind == ArgKind::OptStr && self.arg(self.next).starts_with('-') {
                None
            } else {
                self.next += 1;
                Some(Cow::Borrowed(self.arg(self.next - 1)))
            };
            return Ok(Some((val, arg)));
        }
    }
}

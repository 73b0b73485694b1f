//! A streaming `multipart/related` reader (RFC 2046 section 5.1, as Google's upload endpoints
//! accept it): bytes go in as they arrive, events come out, and a part's content is handed
//! on as soon as it cannot be the start of a delimiter, so a large media part never sits in
//! memory. Line ends are CRLF or, as googleapiclient writes them (Python's email package),
//! bare LF: the first boundary line decides which.

/// Longest header block of a part.
const MAX_HEADERS: usize = 16 * 1024;
/// Longest run of bytes before the first boundary.
const MAX_PREAMBLE: usize = 16 * 1024;

/// What the reader found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A part starts: its headers, names in lowercase.
    Headers(Vec<(String, String)>),
    /// Content of the current part.
    Data(Vec<u8>),
    /// The current part ended; another follows.
    PartEnd,
    /// The closing delimiter: the last part ended.
    End,
}

/// Why a body is not a multipart body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MultipartError(pub(crate) &'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Preamble,
    Headers,
    Body,
    /// After a delimiter: `--` closes, a line end opens the next part.
    AfterDelimiter,
    Epilogue,
}

/// The reader.
#[derive(Debug)]
pub(crate) struct Multipart {
    boundary: Vec<u8>,
    /// `\r\n` or `\n`, known after the first boundary line.
    eol: Vec<u8>,
    state: State,
    pending: Vec<u8>,
}

impl Multipart {
    /// A reader for `boundary` (from the Content-Type's `boundary` parameter).
    pub(crate) fn new(boundary: &str) -> Multipart {
        Multipart {
            boundary: boundary.as_bytes().to_vec(),
            eol: b"\r\n".to_vec(),
            state: State::Preamble,
            pending: Vec::new(),
        }
    }

    /// `"crlf"` or `"lf"`.
    pub(crate) fn line_ending(&self) -> &'static str {
        if self.eol == b"\n" { "lf" } else { "crlf" }
    }

    /// Reads `data` and returns what it completed.
    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<Vec<Event>, MultipartError> {
        if self.state == State::Epilogue {
            return Ok(Vec::new());
        }
        self.pending.extend_from_slice(data);
        let mut events = Vec::new();
        loop {
            let progressed = match self.state {
                State::Preamble => self.preamble()?,
                State::Headers => self.headers(&mut events)?,
                State::Body => self.body(&mut events),
                State::AfterDelimiter => self.after_delimiter(&mut events)?,
                State::Epilogue => {
                    self.pending.clear();
                    false
                }
            };
            if !progressed {
                return Ok(events);
            }
        }
    }

    /// The body ended: an error unless the closing delimiter came.
    pub(crate) fn finish(&self) -> Result<(), MultipartError> {
        if self.state == State::Epilogue {
            Ok(())
        } else {
            Err(MultipartError(
                "the multipart body ended before its closing boundary",
            ))
        }
    }

    fn preamble(&mut self) -> Result<bool, MultipartError> {
        let mut dash = b"--".to_vec();
        dash.extend_from_slice(&self.boundary);
        let mut from = 0;
        while let Some(p) = find(&self.pending[from..], &dash).map(|p| p + from) {
            if p == 0 || self.pending[p - 1] == b'\n' {
                let rest = &self.pending[p + dash.len()..];
                // Transport padding, then the line end.
                let pad = rest
                    .iter()
                    .take_while(|b| **b == b' ' || **b == b'\t')
                    .count();
                let rest = &rest[pad..];
                if rest.starts_with(b"\r\n") {
                    self.eol = b"\r\n".to_vec();
                } else if rest.starts_with(b"\n") {
                    self.eol = b"\n".to_vec();
                } else if rest.len() < 2 {
                    return Ok(false);
                } else if rest.starts_with(b"--") {
                    return Err(MultipartError("the multipart body has no parts"));
                } else {
                    from = p + 1;
                    continue;
                }
                let end = p + dash.len() + pad + self.eol.len();
                self.pending.drain(..end);
                self.state = State::Headers;
                return Ok(true);
            }
            from = p + 1;
        }
        if self.pending.len() > MAX_PREAMBLE {
            return Err(MultipartError(
                "no multipart boundary at the start of the body",
            ));
        }
        Ok(false)
    }

    fn headers(&mut self, events: &mut Vec<Event>) -> Result<bool, MultipartError> {
        // The header block ends with an empty line.
        let blank = [self.eol.as_slice(), self.eol.as_slice()].concat();
        let (block_end, skip) = if self.pending.starts_with(&self.eol) {
            (0, self.eol.len())
        } else if let Some(p) = find(&self.pending, &blank) {
            (p, blank.len())
        } else {
            if self.pending.len() > MAX_HEADERS {
                return Err(MultipartError("a multipart part's headers are too long"));
            }
            return Ok(false);
        };
        let text = std::str::from_utf8(&self.pending[..block_end])
            .map_err(|_| MultipartError("a multipart part's headers are not text"))?;
        let mut headers = Vec::new();
        for line in text.split('\n') {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or(MultipartError("a multipart part's header has no colon"))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        self.pending.drain(..block_end + skip);
        events.push(Event::Headers(headers));
        self.state = State::Body;
        Ok(true)
    }

    fn delimiter(&self) -> Vec<u8> {
        [self.eol.as_slice(), b"--", self.boundary.as_slice()].concat()
    }

    fn body(&mut self, events: &mut Vec<Event>) -> bool {
        let delimiter = self.delimiter();
        if let Some(p) = find(&self.pending, &delimiter) {
            if p > 0 {
                events.push(Event::Data(self.pending[..p].to_vec()));
            }
            self.pending.drain(..p + delimiter.len());
            self.state = State::AfterDelimiter;
            return true;
        }
        // Everything but a tail that could start a delimiter is content.
        let keep = delimiter.len() - 1;
        if self.pending.len() > keep {
            let n = self.pending.len() - keep;
            events.push(Event::Data(self.pending[..n].to_vec()));
            self.pending.drain(..n);
        }
        false
    }

    fn after_delimiter(&mut self, events: &mut Vec<Event>) -> Result<bool, MultipartError> {
        if self.pending.len() < 2 {
            return Ok(false);
        }
        if self.pending.starts_with(b"--") {
            self.pending.clear();
            events.push(Event::End);
            self.state = State::Epilogue;
            return Ok(true);
        }
        let pad = self
            .pending
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count();
        let rest = &self.pending[pad..];
        if rest.starts_with(&self.eol) {
            let n = pad + self.eol.len();
            self.pending.drain(..n);
            events.push(Event::PartEnd);
            self.state = State::Headers;
            return Ok(true);
        }
        if rest.len() < self.eol.len() || rest.iter().all(|b| *b == b'\r') {
            return Ok(false);
        }
        Err(MultipartError(
            "a multipart boundary is followed by something else than a line end",
        ))
    }
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..=hay.len() - needle.len()]
            .iter()
            .position(|b| *b == first)
        {
            None => return None,
            Some(p) => {
                i += p;
                if hay[i..].starts_with(needle) {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

/// The `boundary` parameter of a `multipart/related` Content-Type.
pub(crate) fn boundary_of(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    let kind = parts.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/related") {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A part's headers and content.
    type Part = (Vec<(String, String)>, Vec<u8>);

    /// Feeds `body` in pieces of `step` bytes and gathers the parts.
    fn parse(boundary: &str, body: &[u8], step: usize) -> Result<Vec<Part>, MultipartError> {
        let mut m = Multipart::new(boundary);
        let mut parts: Vec<Part> = Vec::new();
        for piece in body.chunks(step.max(1)) {
            for e in m.feed(piece)? {
                match e {
                    Event::Headers(h) => parts.push((h, Vec::new())),
                    Event::Data(d) => parts.last_mut().unwrap().1.extend_from_slice(&d),
                    Event::PartEnd | Event::End => {}
                }
            }
        }
        m.finish()?;
        Ok(parts)
    }

    fn body(eol: &str, media: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(format!("--b0{eol}Content-Type: application/json{eol}MIME-Version: 1.0{eol}{eol}{{\"name\": \"x\"}}{eol}--b0{eol}Content-Type: application/octet-stream{eol}Content-Transfer-Encoding: binary{eol}{eol}").as_bytes());
        b.extend_from_slice(media);
        b.extend_from_slice(format!("{eol}--b0--{eol}").as_bytes());
        b
    }

    #[test]
    fn both_line_ends_read_the_same_parts_at_any_split() {
        // Media that holds line ends, dashes and near-boundaries.
        let media: Vec<u8> = b"a\r\n--b\n--b1\r\n-b0\r\0\xff\r"
            .iter()
            .copied()
            .cycle()
            .take(3000)
            .collect();
        for eol in ["\r\n", "\n"] {
            for step in [1, 2, 7, 64, 100_000] {
                let parts = parse("b0", &body(eol, &media), step).unwrap();
                assert_eq!(parts.len(), 2, "{eol:?} {step}");
                assert_eq!(parts[0].1, b"{\"name\": \"x\"}");
                assert_eq!(
                    parts[0].0[0],
                    ("content-type".into(), "application/json".into())
                );
                assert_eq!(parts[1].1, media, "{eol:?} {step}");
                assert_eq!(parts[1].0[1].0, "content-transfer-encoding");
            }
        }
    }

    #[test]
    fn the_line_end_is_taken_from_the_first_boundary() {
        let mut m = Multipart::new("b0");
        m.feed(b"--b0\nContent-Type: text/plain\n\nhi\n--b0--")
            .unwrap();
        assert_eq!(m.line_ending(), "lf");
        assert!(m.finish().is_ok());
        let mut m = Multipart::new("b0");
        m.feed(b"preamble\r\n--b0\r\n\r\nhi\r\n--b0--").unwrap();
        assert_eq!(m.line_ending(), "crlf");
    }

    #[test]
    fn a_body_without_its_closing_boundary_is_refused() {
        let full = body("\r\n", b"media");
        let cut = &full[..full.len() - 10];
        assert!(parse("b0", cut, 5).is_err());
        assert!(parse("other", &full, 5).is_err());
    }

    #[test]
    fn junk_is_refused_without_panicking() {
        for junk in [
            &b"--b0--\r\n"[..],
            b"--b0\r\nno colon here\r\n\r\n",
            b"--b0\r\n\xff\xfe: x\r\n\r\n",
            b"--b0\r\n\r\nx\r\n--b0garbage",
        ] {
            assert!(parse("b0", junk, 3).is_err(), "{junk:?}");
        }
        let mut m = Multipart::new("b0");
        assert!(m.feed(&vec![b'x'; MAX_PREAMBLE + 10]).is_err());
        let mut m = Multipart::new("b0");
        let mut long = b"--b0\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'h', MAX_HEADERS + 10));
        assert!(m.feed(&long).is_err());
    }

    #[test]
    fn the_boundary_comes_from_the_content_type() {
        assert_eq!(
            boundary_of("multipart/related; boundary=\"===============123==\"").as_deref(),
            Some("===============123==")
        );
        assert_eq!(
            boundary_of("Multipart/Related;boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(boundary_of("multipart/form-data; boundary=abc"), None);
        assert_eq!(boundary_of("multipart/related"), None);
        assert_eq!(boundary_of("multipart/related; boundary=\"\""), None);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_read_or_refused_without_panicking(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            step in 1usize..50,
        ) {
            let _ = parse("b0", &body, step);
        }

        #[test]
        fn where_the_body_is_split_never_changes_the_parts(
            media in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
            lf in proptest::prelude::any::<bool>(),
            step in 1usize..300,
        ) {
            // A boundary that random media cannot hold (a byte it never has).
            let media: Vec<u8> = media.into_iter().map(|b| b & 0x7f).collect();
            let boundary = "\u{ff}b";
            let eol = if lf { "\n" } else { "\r\n" };
            let mut b = format!("--{boundary}{eol}Content-Type: application/json{eol}{eol}{{}}{eol}--{boundary}{eol}{eol}").into_bytes();
            b.extend_from_slice(&media);
            b.extend_from_slice(format!("{eol}--{boundary}--").as_bytes());
            let parts = parse(boundary, &b, step).unwrap();
            proptest::prop_assert_eq!(parts.len(), 2);
            proptest::prop_assert_eq!(&parts[1].1, &media);
        }
    }

    #[test]
    fn find_finds_the_first_occurrence() {
        assert_eq!(find(b"abcabc", b"ca"), Some(2));
        assert_eq!(find(b"aaab", b"aab"), Some(1));
        assert_eq!(find(b"ab", b"abc"), None);
        assert_eq!(find(b"", b"a"), None);
    }
}

//! The token layer: quick-xml's events folded into start tags, end tags
//! and runs of text, with everything XML-level checked on the way (the
//! declaration, references, characters, elements and their attributes).

use std::borrow::Cow;
use std::fmt;

use quick_xml::events::{BytesDecl, BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;
use quick_xml::XmlVersion;

use crate::error::Error;
use crate::text::{is_xml_char, is_xml_space};

/// What the reader yields, one step at a time.
pub(super) enum Token<'i> {
    Start(BytesStart<'i>),
    End,
    Text(Cow<'i, str>),
    Eof,
}

/// The elements of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Unit,
    None,
    Some,
    Bool,
    Int,
    Float,
    Str,
    Bytes,
    Seq,
    Map,
    Struct,
    Variant,
    Entry,
    Key,
    Value,
    Field,
}

/// Every element, with its tag.
const KINDS: [(Kind, &str); 16] = [
    (Kind::Unit, "unit"),
    (Kind::None, "none"),
    (Kind::Some, "some"),
    (Kind::Bool, "bool"),
    (Kind::Int, "int"),
    (Kind::Float, "float"),
    (Kind::Str, "str"),
    (Kind::Bytes, "bytes"),
    (Kind::Seq, "seq"),
    (Kind::Map, "map"),
    (Kind::Struct, "struct"),
    (Kind::Variant, "variant"),
    (Kind::Entry, "entry"),
    (Kind::Key, "key"),
    (Kind::Value, "value"),
    (Kind::Field, "field"),
];

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.tag())
    }
}

impl Kind {
    pub(super) fn from_tag(tag: &str) -> Result<Kind, Error> {
        KINDS
            .iter()
            .find(|(_, t)| *t == tag)
            .map(|&(kind, _)| kind)
            .ok_or_else(|| Error::new(format!("unknown element <{tag}>")))
    }

    fn tag(self) -> &'static str {
        KINDS
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("?", |&(_, tag)| tag)
    }

    /// The one attribute this element may (or must) have.
    fn attribute(self) -> Option<&'static str> {
        match self {
            Kind::Str => Some("encoding"),
            Kind::Field | Kind::Variant => Some("name"),
            _ => None,
        }
    }
}

/// A start tag, checked.
pub(super) struct Element {
    pub(super) kind: Kind,
    /// The `name` of a field or variant, or the `encoding` of a string.
    pub(super) attribute: Option<String>,
}

/// Tokens of one document, with one token of lookahead.
pub(super) struct Tokens<'i> {
    reader: Reader<&'i [u8]>,
    /// An event read past the end of a text run, to be handled next.
    pending: Option<Event<'i>>,
    /// The next token, once peeked.
    peeked: Option<Token<'i>>,
    /// Whether an event has been read (an XML declaration must come first).
    started: bool,
}

impl<'i> Tokens<'i> {
    pub(super) fn new(text: &'i str) -> Self {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.check_comments = true;
        Tokens {
            reader,
            pending: None,
            peeked: None,
            started: false,
        }
    }

    /// How far into the document the reader is, for error messages.
    pub(super) fn position(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn read_token(&mut self) -> Result<Token<'i>, Error> {
        let mut text: Option<Cow<'i, str>> = None;
        loop {
            let event = match self.pending.take() {
                Some(event) => event,
                None => self.reader.read_event()?,
            };
            let first = !std::mem::replace(&mut self.started, true);
            match event {
                Event::Decl(decl) if first => check_declaration(&decl)?,
                Event::Decl(_) => {
                    return Err(Error::new("an XML declaration must start the document"))
                }
                Event::Comment(_) => {}
                Event::Text(t) => append(&mut text, t.xml10_content())?,
                Event::CData(c) => append(&mut text, c.xml10_content())?,
                Event::GeneralRef(r) => append(&mut text, Cow::Owned(resolve(&r)?))?,
                Event::PI(_) => return Err(Error::new("processing instructions are not allowed")),
                Event::DocType(_) => return Err(Error::new("a DTD is not allowed")),
                event @ (Event::Start(_) | Event::Empty(_) | Event::End(_) | Event::Eof) => {
                    if let Some(text) = text {
                        self.pending = Some(event);
                        return Ok(Token::Text(text));
                    }
                    return Ok(match event {
                        Event::Start(start) | Event::Empty(start) => Token::Start(start),
                        Event::End(_) => Token::End,
                        _ => Token::Eof,
                    });
                }
            }
        }
    }

    pub(super) fn next(&mut self) -> Result<Token<'i>, Error> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.read_token(),
        }
    }

    pub(super) fn peek(&mut self) -> Result<&Token<'i>, Error> {
        let token = match self.peeked.take() {
            Some(token) => token,
            None => self.read_token()?,
        };
        Ok(self.peeked.insert(token))
    }

    /// Skips whitespace between elements.
    pub(super) fn skip_space(&mut self) -> Result<(), Error> {
        if let Token::Text(t) = self.peek()? {
            if t.chars().all(is_xml_space) {
                self.peeked = None;
            }
        }
        Ok(())
    }

    /// Whether the next token (after whitespace) closes the open element.
    pub(super) fn at_end(&mut self) -> Result<bool, Error> {
        self.skip_space()?;
        Ok(matches!(self.peek()?, Token::End))
    }

    /// Reads the start tag of the next element.
    pub(super) fn open(&mut self) -> Result<Element, Error> {
        self.skip_space()?;
        match self.next()? {
            Token::Start(start) => element(&start),
            Token::Text(t) => Err(Error::new(format!("unexpected text {t:?}"))),
            Token::End => Err(Error::new("an element is missing its value")),
            Token::Eof => Err(Error::new("the document ends early")),
        }
    }

    /// Reads the start tag of the next element, which must be a `kind`.
    pub(super) fn expect(&mut self, kind: Kind) -> Result<Element, Error> {
        let el = self.open()?;
        if el.kind != kind {
            return Err(Error::new(format!("expected {kind}, found {}", el.kind)));
        }
        Ok(el)
    }

    /// Reads the end tag of the open element.
    pub(super) fn close(&mut self) -> Result<(), Error> {
        self.skip_space()?;
        match self.next()? {
            Token::End => Ok(()),
            Token::Start(start) => Err(Error::new(format!(
                "unexpected element <{}>",
                start.name().as_ref()
            ))),
            Token::Text(t) => Err(Error::new(format!("unexpected text {t:?}"))),
            Token::Eof => Err(Error::new("the document ends early")),
        }
    }

    /// Reads the text of a leaf element and its end tag.
    pub(super) fn leaf_text(&mut self) -> Result<Cow<'i, str>, Error> {
        let text = match self.next()? {
            Token::End => return Ok(Cow::Borrowed("")),
            Token::Text(t) => t,
            Token::Start(_) => return Err(Error::new("an element inside a leaf element")),
            Token::Eof => return Err(Error::new("the document ends early")),
        };
        match self.next()? {
            Token::End => Ok(text),
            Token::Eof => Err(Error::new("the document ends early")),
            _ => Err(Error::new("an element inside a leaf element")),
        }
    }
}

/// Adds a piece of text to the current run, checking its characters.
fn append<'i>(run: &mut Option<Cow<'i, str>>, piece: Cow<'i, str>) -> Result<(), Error> {
    if let Some(c) = piece.chars().find(|&c| !is_xml_char(c)) {
        return Err(Error::new(format!(
            "the character {c:?} is not allowed in XML"
        )));
    }
    match run {
        None => *run = Some(piece),
        Some(text) => text.to_mut().push_str(&piece),
    }
    Ok(())
}

/// The text a reference stands for: a character reference, or one of the
/// five predefined entities. Nothing else exists without a DTD.
fn resolve(r: &BytesRef<'_>) -> Result<String, Error> {
    if let Some(c) = r.resolve_char_ref()? {
        return Ok(c.to_string());
    }
    Ok(match &**r {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        other => return Err(Error::new(format!("unknown entity &{other};"))),
    }
    .to_owned())
}

/// Accepts `<?xml version="1.0" encoding="UTF-8"?>`, with or without the
/// encoding; anything else would change how the document must be read.
fn check_declaration(decl: &BytesDecl<'_>) -> Result<(), Error> {
    let version = decl.version()?;
    if version != "1.0" {
        return Err(Error::new(format!("unsupported XML version {version:?}")));
    }
    if let Some(encoding) = decl.encoding() {
        let encoding = encoding?;
        if !encoding.eq_ignore_ascii_case("utf-8") {
            return Err(Error::new(format!("unsupported encoding {encoding:?}")));
        }
    }
    Ok(())
}

/// Checks a start tag: a known element, with only its own attribute.
fn element(start: &BytesStart<'_>) -> Result<Element, Error> {
    let kind = Kind::from_tag(start.name().as_ref())?;
    let mut attribute = None;
    for attr in start.attributes() {
        let attr = attr?;
        let key = attr.key.as_ref();
        if kind.attribute() != Some(key) {
            return Err(Error::new(format!("{kind} has no attribute {key:?}")));
        }
        attribute = Some(attr.normalized_value(XmlVersion::Implicit1_0)?.into_owned());
    }
    if attribute.is_none() && matches!(kind, Kind::Field | Kind::Variant) {
        return Err(Error::new(format!("{kind} needs a name")));
    }
    if let Some(c) = attribute
        .iter()
        .flat_map(|a| a.chars())
        .find(|&c| !is_xml_char(c))
    {
        return Err(Error::new(format!(
            "the character {c:?} is not allowed in XML"
        )));
    }
    Ok(Element { kind, attribute })
}

//! How scalar values become element text and attribute values, and back:
//! escaping, the characters XML can carry, base64, numbers.

use std::fmt::Write as _;

use crate::error::Error;

/// Whether XML 1.0 can carry `c` at all, even as a character reference
/// (the `Char` production of the XML 1.0 spec).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// XML whitespace (the `S` production): what may surround child elements
/// and the text of numbers, booleans and base64.
pub(crate) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// `text` without the XML whitespace around it.
pub(crate) fn trim(text: &str) -> &str {
    text.trim_matches(is_xml_space)
}

/// Escapes element text: `&`, `<` and `>` as entities, and a carriage
/// return as `&#13;`, because an XML parser turns a literal one into a
/// line feed.
pub(crate) fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Escapes an attribute value written between double quotes: as element
/// text, plus `"`, and tab and line feed as character references, because
/// an XML parser turns literal ones into spaces.
pub(crate) fn escape_attribute(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            c => escape_text(c.encode_utf8(&mut [0; 4]), &mut out),
        }
    }
    out
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends `bytes` in base64 (RFC 4648 section 4: standard alphabet, `=`
/// padding, no line breaks).
pub(crate) fn base64_encode(bytes: &[u8], out: &mut String) {
    out.reserve(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
}

/// Decodes base64 written by [`base64_encode`], ignoring XML whitespace
/// anywhere (as `xs:base64Binary` does). Padding is required; bits after
/// the last byte must be zero, so each byte string has one encoding.
pub(crate) fn base64_decode(text: &str) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut quad = [0u8; 4];
    let mut filled = 0;
    let mut ended = false;
    for c in text.chars().filter(|&c| !is_xml_space(c)) {
        if ended {
            return Err(Error::new("base64: data after the padding"));
        }
        quad[filled] = match c {
            'A'..='Z' => c as u8 - b'A',
            'a'..='z' => c as u8 - b'a' + 26,
            '0'..='9' => c as u8 - b'0' + 52,
            '+' => 62,
            '/' => 63,
            '=' if filled >= 2 => 64,
            _ => return Err(Error::new(format!("base64: unexpected {c:?}"))),
        };
        filled += 1;
        if filled < 4 {
            continue;
        }
        filled = 0;
        let data = match quad {
            [_, _, 64, 64] => 1,
            [_, _, 64, _] => return Err(Error::new("base64: misplaced padding")),
            [_, _, _, 64] => 2,
            _ => 3,
        };
        ended = data < 3;
        let n = quad.iter().fold(0u32, |n, &d| n << 6 | u32::from(d & 63));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        if bytes[data..].iter().any(|&b| b != 0) {
            return Err(Error::new("base64: non-zero bits after the data"));
        }
        out.extend_from_slice(&bytes[..data]);
    }
    if filled != 0 {
        return Err(Error::new("base64: length is not a multiple of 4"));
    }
    Ok(out)
}

/// A float as text: the shortest decimal that reads back as the same
/// value, or `NaN`, `INF`, `-INF` (the `xs:double` spellings).
pub(crate) fn float_text<F: Into<f64> + std::fmt::Debug + Copy>(v: F, out: &mut String) {
    let wide: f64 = v.into();
    if wide.is_nan() {
        out.push_str("NaN");
    } else if wide.is_infinite() {
        out.push_str(if wide > 0.0 { "INF" } else { "-INF" });
    } else {
        // Debug is Rust's shortest round-trip form: "1.5", "1e300", "-0.0".
        let _ = write!(out, "{v:?}");
    }
}

/// Reads a float written by [`float_text`] (or any decimal Rust parses).
pub(crate) fn parse_float<F: std::str::FromStr>(
    text: &str,
    nan: F,
    inf: F,
    ninf: F,
) -> Result<F, Error> {
    match trim(text) {
        "NaN" => Ok(nan),
        "INF" | "+INF" => Ok(inf),
        "-INF" => Ok(ninf),
        t => t
            .parse()
            .map_err(|_| Error::new(format!("not a number: {t:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        let mut s = String::new();
        base64_encode(bytes, &mut s);
        s
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in vectors {
            assert_eq!(b64(plain.as_bytes()), coded);
            assert_eq!(base64_decode(coded).expect("decodes"), plain.as_bytes());
        }
        assert_eq!(b64(&[0, 1, 255, 128]), "AAH/gA==");
    }

    #[test]
    fn base64_skips_whitespace_and_rejects_the_rest() {
        assert_eq!(base64_decode(" Zm9v\n YmFy\t").expect("decodes"), b"foobar");
        for bad in [
            "Zg=", "Zg", "Z===", "Zh==", "Zg==Zg==", "Zm9v!", "=Zm9", "Zm=v",
        ] {
            assert!(base64_decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn escaping_keeps_what_a_parser_would_change() {
        let mut out = String::new();
        escape_text("a<b>&c\r\n\t\"'", &mut out);
        assert_eq!(out, "a&lt;b&gt;&amp;c&#13;\n\t\"'");
        assert_eq!(
            escape_attribute("a \"b\"\t\n\r<&>"),
            "a &quot;b&quot;&#9;&#10;&#13;&lt;&amp;&gt;"
        );
    }

    #[test]
    fn floats_are_shortest_round_trip_text() {
        let text = |v: f64| {
            let mut s = String::new();
            float_text(v, &mut s);
            s
        };
        assert_eq!(text(1.5), "1.5");
        assert_eq!(text(-0.0), "-0.0");
        assert_eq!(text(1e300), "1e300");
        assert_eq!(text(f64::NAN), "NaN");
        assert_eq!(text(f64::NEG_INFINITY), "-INF");
        let mut s = String::new();
        float_text(0.1f32, &mut s);
        assert_eq!(s, "0.1");
        assert!(
            parse_float::<f64>(" INF ", f64::NAN, f64::INFINITY, f64::NEG_INFINITY)
                .expect("parses")
                .is_infinite()
        );
    }
}
